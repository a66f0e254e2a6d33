"""Two vendors side by side: both totals and the ratios (numbers; the report layer writes the sentence)."""

from __future__ import annotations

from inspector.series.model import Comparison, Ratio, SeriesReport


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def compare(a: SeriesReport, b: SeriesReport) -> Comparison:
    """Compare series ``a`` with ``b``: ratios are A/B for patch count, download, delta and replaced bytes,
    mean download and mean code churned per patch.

    The sentence people quote is written by the report layer (``report.series_findings``).
    """
    ta, tb = a.totals, b.totals
    ratios = (
        Ratio("patches", ta.patches, tb.patches, _ratio(ta.patches, tb.patches)),
        Ratio("total download", ta.download, tb.download, _ratio(ta.download, tb.download)),
        Ratio("total delta", ta.delta_bytes, tb.delta_bytes, _ratio(ta.delta_bytes, tb.delta_bytes)),
        Ratio("total replaced", ta.replaced_bytes, tb.replaced_bytes, _ratio(ta.replaced_bytes, tb.replaced_bytes)),
        Ratio("mean patch download", ta.mean_download, tb.mean_download, _ratio(ta.mean_download, tb.mean_download)),
        Ratio("mean code churned", ta.mean_code_churned, tb.mean_code_churned,
              _ratio(ta.mean_code_churned, tb.mean_code_churned)),
    )
    return Comparison(a=a, b=b, ratios=ratios)
