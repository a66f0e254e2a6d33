"""Sentences from the series model's findings: highlights, code churn and the vendor comparison.

The series layer (``inspector.series``) returns numbers only; this module is where they become the
words people read and quote, so the text, Markdown, HTML and JSON outputs all say the same thing.
"""

from __future__ import annotations

from inspector.report.common import count, size
from inspector.series.model import Comparison, Highlight, SeriesReport


def ratio_text(r: float | None) -> str:
    """A ratio as people write it: ``33x``, ``2.5x``, ``0.40x``; ``-`` when undefined."""
    if r is None:
        return "-"
    if r >= 10:
        return f"{r:.0f}x"
    if r >= 1:
        return f"{r:.1f}x"
    return f"{r:.2f}x"


def highlight_message(h: Highlight) -> str:
    """One line for a sharp-churn highlight: what grew, how soon after what, how much was replaced."""
    parts = [f"{h.label}: " + (f"grew {size(h.growth_bytes)}" if h.growth_bytes > 0 else "churned")
             + f" in {h.days} day{'s' if h.days != 1 else ''} after {h.previous}"]
    parts.append(f"replaced {size(h.replaced_bytes)} ({h.churn_ratio:.0%} of the footprint)")
    if h.previous_delta:
        parts.append(f"delta {size(h.delta_bytes)}, {h.delta_bytes / h.previous_delta:.0f}x the previous patch's")
    else:
        parts.append(f"delta {size(h.delta_bytes)}")
    if h.top_components:
        parts.append("top changed: " + ", ".join(f"{x.name} {size(x.replaced_bytes)}" for x in h.top_components))
    return "; ".join(parts)


def has_code(rep: SeriesReport) -> bool:
    """Whether any compared patch had executable code on either side (the code figures mean something)."""
    return any(r.churn is not None and (r.churn.code_old or r.churn.code_new) for r in rep.rows)


def code_churn_sentence(rep: SeriesReport) -> str | None:
    """"2 of 3 patches changed code; the largest code churn was 64.0 KiB in 4.17.3; 96.0 KiB over the series
    (75% of the code before the first patch)"; None when no compared patch had any executable code."""
    t = rep.totals
    if not has_code(rep):
        return None
    text = f"{t.patches_code_changed} of {count(t.mean_over, 'patch', 'patches')} changed code"
    if t.largest_code_churn is not None:
        label, churned = t.largest_code_churn
        text += f"; the largest code churn was {size(churned)} in {label}"
    if t.code_churned:
        text += f"; {size(t.code_churned)} over the series"
        if t.code_before:
            text += f" ({t.code_churn_ratio:.0%} of the code before the first patch)"
        if t.code_churned_writable:
            text += (f", {size(t.code_churned_writable)} of it in writable+executable sections where code and "
                     "data cannot be told apart")
    if t.binaries_code_unchanged:
        text += (f"; {count(t.binaries_code_unchanged, 'executable')} changed only outside "
                 f"{'its' if t.binaries_code_unchanged == 1 else 'their'} code")
    return text


def _shipped(rep: SeriesReport) -> str:
    n = rep.totals.patches
    return f"{rep.name} shipped {n} patch{'es' if n != 1 else ''}, {size(rep.totals.download)}"


def comparison_sentence(cmp: Comparison) -> str:
    """"A shipped 13 patches, 2.7 GiB; B shipped 26 patches, 82.0 MiB; A's patch footprint is 33x B's"."""
    a, b = cmp.a, cmp.b
    da, db = a.totals.download, b.totals.download
    text = f"{_shipped(a)}; {_shipped(b)}"
    if da and db:
        if da >= db:
            text += f"; {a.name}'s patch footprint is {ratio_text(da / db)} {b.name}'s"
        else:
            text += f"; {b.name}'s patch footprint is {ratio_text(db / da)} {a.name}'s"
    return text
