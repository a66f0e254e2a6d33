"""The series report as ONE self-contained HTML file: plotly charts (library inlined), sortable tables.

Opens offline (see ``html_page`` for the page, its inlined plotly.js and the self-checks tests read).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from inspector.report import series_text
from inspector.report.common import size
from inspector.report.html_page import (
    CHART_HEIGHT,
    SHORT_LABEL,
    TREEMAP_HEIGHT,
    MiB,
    div,
    esc,
    layout,
    page,
    short_label,
    table,
)
from inspector.report.series_findings import (
    code_churn_sentence,
    comparison_sentence,
    has_code,
    highlight_message,
    ratio_text,
)
from inspector.series.model import Comparison, SeriesReport

_COLOURS = ("#c0392b", "#2471a3")  # vendor A, vendor B


def axis_labels(labels: list[str], limit: int = SHORT_LABEL) -> list[str]:
    """Tick labels for a series' patches: what tells them apart, at most ``limit`` characters.

    Labels that already fit are kept. Long ones (file names) lose the prefix and suffix they all share,
    cut at a field separator (``openssh-client_9.2p1-2+deb12u1_amd64.deb`` -> ``9.2p1-2+deb12u1``), then
    are shortened in the middle; if that would make two ticks equal, each is only shortened.
    """
    if len(labels) < 2 or all(len(x) <= limit for x in labels):
        return [short_label(x, limit) for x in labels]
    prefix = os.path.commonprefix(labels)
    suffix = os.path.commonprefix([x[::-1] for x in labels])[::-1]
    cut_head = next((prefix.rindex(s) + 1 for s in ("_", " ", "-") if s in prefix), 0)
    cut_tail = next((len(suffix) - suffix.index(s) for s in ("_", " ", "-", ".") if s in suffix), 0)
    core = [x[cut_head:len(x) - cut_tail] if len(x) - cut_tail > cut_head else x for x in labels]
    out = [short_label(x, limit) for x in core]
    return out if len(set(out)) == len(set(labels)) else [short_label(x, limit) for x in labels]


def _category_axis(fig: object, labels: list[str]) -> None:
    """Patches on the x axis by position, ticks showing short labels (distinct labels never merge)."""
    fig.update_xaxes(  # type: ignore[attr-defined]
        tickmode="array", tickvals=list(range(len(labels))), ticktext=axis_labels(labels),
        tickangle=0 if len(labels) <= 8 else -35, automargin=False,
    )


def bars_figure(rep: SeriesReport, colour: str) -> object:
    """Per-patch download vs delta (and replaced) bars, in MiB."""
    import plotly.graph_objects as go

    labels = [r.label for r in rep.rows]
    x = list(range(len(labels)))
    fig = go.Figure()
    fig.add_bar(name="download", x=x, y=[r.download / MiB for r in rep.rows], marker_color=colour,
                customdata=labels, hovertemplate="%{customdata}<br>download %{y:.2f} MiB<extra></extra>")
    fig.add_bar(name="delta", x=x, y=[(r.churn.delta_bytes if r.churn else 0) / MiB for r in rep.rows],
                marker_color="#7f8c8d", customdata=labels,
                hovertemplate="%{customdata}<br>delta %{y:.2f} MiB<extra></extra>")
    fig.add_bar(name="replaced", x=x, y=[(r.churn.replaced_bytes if r.churn else 0) / MiB for r in rep.rows],
                marker_color="#d5d8dc", customdata=labels,
                hovertemplate="%{customdata}<br>replaced %{y:.2f} MiB<extra></extra>")
    fig.update_layout(barmode="group", yaxis_title="MiB")
    layout(fig, "Download vs delta per patch")
    _category_axis(fig, labels)
    return fig


def code_unit(values: list[int]) -> tuple[str, int]:
    """The unit a code chart is drawn in: MiB when the largest value reaches one, else KiB (code churn is
    often a few KiB where downloads are MiB)."""
    return ("MiB", MiB) if max(values, default=0) >= MiB else ("KiB", 1024)


def code_figure(rep: SeriesReport, colour: str) -> object:
    """Per-patch code churned (executable sections changed, delta-estimated) and code growth, in KiB or MiB.

    Drawn for every series, so the page always has the same charts; a series without executables shows
    empty bars and says so in its title.
    """
    import plotly.graph_objects as go

    labels = [r.label for r in rep.rows]
    churned = [r.churn.code_churned if r.churn else 0 for r in rep.rows]
    growth = [r.churn.code_growth if r.churn else 0 for r in rep.rows]
    unit, scale = code_unit([*churned, *(abs(g) for g in growth)])
    x = list(range(len(labels)))
    fig = go.Figure()
    fig.add_bar(name="code churned", x=x, y=[v / scale for v in churned], marker_color=colour, customdata=labels,
                hovertemplate=f"%{{customdata}}<br>code churned %{{y:.1f}} {unit}<extra></extra>")
    fig.add_bar(name="code growth", x=x, y=[v / scale for v in growth], marker_color="#a9cce3", customdata=labels,
                hovertemplate=f"%{{customdata}}<br>code growth %{{y:.1f}} {unit}<extra></extra>")
    fig.update_layout(barmode="group", yaxis_title=unit)
    title = "Code churned per patch" if has_code(rep) else "Code churned per patch (no executables analysed)"
    layout(fig, title)
    _category_axis(fig, labels)
    return fig


def cumulative_figure(reports: list[SeriesReport]) -> object:
    """Cumulative patch download (solid) and delta (dotted) over time, one colour per vendor."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for rep, colour in zip(reports, itertools.cycle(_COLOURS)):
        rows = [r for r in rep.rows if r.date is not None] or list(rep.rows)
        x = [r.date.isoformat() if r.date else r.label for r in rows]
        down, delta, a, d = [], [], 0, 0
        for r in rows:
            a += r.download
            d += r.churn.delta_bytes if r.churn else 0
            down.append(a / MiB)
            delta.append(d / MiB)
        labels = [r.label for r in rows]
        name = short_label(rep.name, 28)
        fig.add_scatter(name=f"{name} download", x=x, y=down, mode="lines+markers", line_shape="hv",
                        line={"color": colour, "width": 2.5}, text=labels,
                        hovertemplate="%{text} (%{x})<br>%{y:.2f} MiB downloaded<extra></extra>")
        fig.add_scatter(name=f"{name} delta", x=x, y=delta, mode="lines", line_shape="hv",
                        line={"color": colour, "width": 1.5, "dash": "dot"}, text=labels,
                        hovertemplate="%{text} (%{x})<br>%{y:.2f} MiB delta<extra></extra>")
    fig.update_layout(yaxis_title="MiB (cumulative)")
    layout(fig, "Cumulative patch footprint over time")
    return fig


def treemap_figure(rep: SeriesReport) -> object:
    """The latest release's unpacked footprint by container (and top-level directory inside each)."""
    import plotly.graph_objects as go

    nodes = rep.tree
    fig = go.Figure(go.Treemap(
        ids=[n.id for n in nodes], parents=[n.parent for n in nodes], labels=[n.label for n in nodes],
        values=[n.value for n in nodes], branchvalues="total", maxdepth=4,
        customdata=[size(n.value) for n in nodes],
        hovertemplate="%{label}<br>%{customdata}<br>%{percentRoot:.1%} of the footprint<extra></extra>",
        texttemplate="%{label}<br>%{customdata}",
    ))
    layout(fig, "Footprint treemap", height=TREEMAP_HEIGHT)
    fig.update_layout(treemapcolorway=["#2e86c1", "#28b463", "#f39c12", "#8e44ad", "#16a085", "#d35400",
                                       "#7f8c8d", "#c0392b"])
    fig.update_layout(margin={"l": 10, "r": 10, "t": 50, "b": 10, "autoexpand": False})
    return fig


def rows_table(rep: SeriesReport) -> str:
    """The per-patch table with raw byte counts as sort keys."""
    rows = []
    for r in rep.rows:
        c = r.churn
        cells: list[tuple[str, object]] = [
            (str(r.index), r.index), (r.date.isoformat() if r.date else "-", r.date.isoformat() if r.date else ""),
            (r.label, r.label), (r.kind or "-", r.kind or ""), (size(r.download), r.download),
            (size(r.footprint_after), r.footprint_after),
            (str(c.files_added) if c else "-", c.files_added if c else -1),
            (str(c.files_removed) if c else "-", c.files_removed if c else -1),
            (str(c.files_modified) if c else "-", c.files_modified if c else -1),
            (size(c.replaced_bytes) if c else "-", c.replaced_bytes if c else -1),
            (size(c.delta_bytes) if c else "-", c.delta_bytes if c else -1),
            (size(c.code_churned) if c else "-", c.code_churned if c else -1),
            (series_text.signed_size(c.code_growth) if c else "-", c.code_growth if c else -(10**18)),
            (series_text.reboot_text(r.reboot_required), series_text.reboot_text(r.reboot_required)),
            (series_text.flags(r, rep), series_text.flags(r, rep)),
        ]
        rows.append(cells)
    return table(series_text.ROW_HEADERS, rows, numeric=set(series_text.NUMERIC_COLUMNS), clip=frozenset({2}))


def categories_table(rep: SeriesReport) -> str:
    """Replaced bytes per patch and profile category (``--profile``); empty without a profile."""
    churn = series_text.category_churn(rep)
    if churn is None:
        return ""
    names, per_patch, last = churn
    rows: list[list[tuple[str, object]]] = [
        [(label, label), *((size(v) if v else "-", v) for v in values)] for label, values in per_patch
    ]
    rows.append([("footprint after last", "~"), *((size(v), v) for v in last)])
    grid = table(["replaced by category", *names], rows, numeric=set(range(1, len(names) + 1)),
                 clip=frozenset({0}))
    return f'<div class="wide">{grid}</div>'


def _totals(rep: SeriesReport) -> str:
    return "<pre class=\"totals\">" + esc("\n".join(series_text.totals_lines(rep))) + "</pre>"


def _series_section(rep: SeriesReport, n: int, colour: str) -> tuple[str, list[str]]:
    divs = [div(bars_figure(rep, colour), f"bars-{n}"), div(code_figure(rep, colour), f"code-{n}")]
    if rep.tree:
        divs.append(div(treemap_figure(rep), f"tree-{n}"))
    highlights = "".join(f'<div class="highlight">&#9650; {esc(highlight_message(h))}</div>' for h in rep.highlights)
    code = code_churn_sentence(rep)
    code_line = f'<p class="sub">Code: {esc(code)}.</p>' if code else ""
    notes = "".join(f"<li>{esc(x)}</li>" for x in rep.notes)
    base = f", base <code>{esc(rep.base)}</code> ({esc(size(rep.base_footprint))})" if rep.base else ""
    body = (f'<section><h2 style="border-color:{colour}">{esc(rep.name)}</h2>'
            f"<p class=\"sub\">{esc(rep.model)} images{base}; {esc(series_text.window_text(rep))}</p>"
            f"{highlights}{divs[0]}{divs[1]}{code_line}<div class=\"wide\">{rows_table(rep)}</div>"
            f'<div class="cols">{_totals(rep)}<ul class="notes">{notes}</ul></div>{categories_table(rep)}'
            + (f'<p class="sub">{esc(rep.tree_caption)}</p>' if rep.tree else "")
            + f"{''.join(divs[2:])}</section>")
    return body, divs


def _comparison(cmp: Comparison) -> str:
    rows = [[(r.name, r.name),
             (f"{r.a:.0f}" if r.name == "patches" else size(int(r.a)), r.a),
             (f"{r.b:.0f}" if r.name == "patches" else size(int(r.b)), r.b),
             (ratio_text(r.ratio), r.ratio if r.ratio is not None else -1)] for r in cmp.ratios]
    return (f'<p class="sentence">{esc(comparison_sentence(cmp))}.</p>'
            + table(["", cmp.a.name, cmp.b.name, "A/B"], rows, numeric={1, 2, 3}))


def render_html(reports: list[SeriesReport], comparison: Comparison | None) -> str:
    """The whole report as one HTML string (plotly.js inlined once)."""
    if comparison is not None:
        title = f"{comparison.a.name} vs {comparison.b.name} - patch series"
    elif len(reports) == 1:
        title = f"{reports[0].name} - patch series"
    else:
        title = f"{len(reports)} patch series: " + ", ".join(short_label(r.name, 28) for r in reports)
    sections = []
    if comparison is not None:
        sections.append(f"<section><h2>Comparison</h2>{_comparison(comparison)}"
                        f"{div(cumulative_figure(reports), 'cumulative')}</section>")
    else:
        sections.append(f"<section>{div(cumulative_figure(reports), 'cumulative')}</section>")
    for n, (rep, colour) in enumerate(zip(reports, itertools.cycle(_COLOURS))):
        sections.append(_series_section(rep, n, colour)[0])
    return page(title, sections)


def write_html(path: Path, reports: list[SeriesReport], comparison: Comparison | None) -> None:
    """Write the self-contained report to ``path``."""
    path.write_text(render_html(reports, comparison), encoding="utf-8")


__all__ = ["CHART_HEIGHT", "SHORT_LABEL", "TREEMAP_HEIGHT", "axis_labels", "render_html", "short_label", "write_html"]
