"""Two vendors side by side: both totals, the ratios, and the one sentence people quote."""

from __future__ import annotations

from inspector.report.common import size
from inspector.series.model import Comparison, Ratio, SeriesReport


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def ratio_text(r: float | None) -> str:
    """A ratio as people write it: ``33x``, ``2.5x``, ``0.40x``; ``-`` when undefined."""
    if r is None:
        return "-"
    if r >= 10:
        return f"{r:.0f}x"
    if r >= 1:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def compare(a: SeriesReport, b: SeriesReport) -> Comparison:
    """Compare series ``a`` with ``b``: ratios are A/B for patch count, download, delta and replaced bytes."""
    ta, tb = a.totals, b.totals
    ratios = (
        Ratio("patches", ta.patches, tb.patches, _ratio(ta.patches, tb.patches)),
        Ratio("total download", ta.download, tb.download, _ratio(ta.download, tb.download)),
        Ratio("total delta", ta.delta_bytes, tb.delta_bytes, _ratio(ta.delta_bytes, tb.delta_bytes)),
        Ratio("total replaced", ta.replaced_bytes, tb.replaced_bytes, _ratio(ta.replaced_bytes, tb.replaced_bytes)),
        Ratio("mean patch download", ta.mean_download, tb.mean_download, _ratio(ta.mean_download, tb.mean_download)),
    )
    return Comparison(a=a, b=b, ratios=ratios, sentence=sentence(a, b))


def sentence(a: SeriesReport, b: SeriesReport) -> str:
    """"A shipped 13 patches, 2.7 GiB; B shipped 26 patches, 82.0 MiB; A's patch footprint is 33x B's"."""
    ta, tb = a.totals, b.totals
    text = (f"{a.name} shipped {ta.patches} patch{'es' if ta.patches != 1 else ''}, {size(ta.download)}; "
            f"{b.name} shipped {tb.patches} patch{'es' if tb.patches != 1 else ''}, {size(tb.download)}")
    if ta.download and tb.download:
        if ta.download >= tb.download:
            text += f"; {a.name}'s patch footprint is {ratio_text(ta.download / tb.download)} {b.name}'s"
        else:
            text += f"; {b.name}'s patch footprint is {ratio_text(tb.download / ta.download)} {a.name}'s"
    return text
