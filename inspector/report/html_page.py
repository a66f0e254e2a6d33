"""Building blocks of inspector's self-contained HTML reports (series, diff, inventory).

Every report is ONE file that opens offline: plotly.js is embedded once, inline, and no other resource
is fetched. The page template records any script error and, once the charts are drawn, sets
``data-charts``/``data-plots``/``data-errors`` (and layout checks: ``data-min-plot-height``,
``data-overlaps``, ``data-wide-tables``) on the ``<html>`` element, which tests read from the DOM.
"""

from __future__ import annotations

import html as _html
from importlib import resources
from typing import Any

from inspector import __version__

MiB = 1024 * 1024
#: Longest axis/legend label drawn; longer ones are shortened in the middle (the hover shows them whole).
SHORT_LABEL = 18
#: Every chart has a fixed height (px) and fixed margins, so long names can never squash the plot area.
CHART_HEIGHT = 380
TREEMAP_HEIGHT = 460
_CONFIG = {"displaylogo": False, "responsive": True}


def esc(text: object) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return _html.escape(str(text), quote=True)


def template(name: str) -> str:
    """A file of ``inspector/report/templates`` as text."""
    return resources.files("inspector.report").joinpath("templates", name).read_text(encoding="utf-8")


def div(fig: object, div_id: str) -> str:
    """A plotly figure as a ``<div>`` (plotly.js itself is inlined once by ``page``)."""
    import plotly.io as pio

    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=_CONFIG)


def short_label(text: str, limit: int = SHORT_LABEL) -> str:
    """``text`` shortened in the middle to ``limit`` characters (``libreoffi…_amd64.deb``): both ends of a
    package file name or version say the most."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "\u2026" + text[len(text) - (limit - 1 - head):]


def layout(fig: Any, title: str, height: int = CHART_HEIGHT, margin: dict[str, int] | None = None) -> None:
    """Title on its own line, legend under it, fixed height and margins (no automargin growth)."""
    fig.update_layout(
        title={"text": short_label(title, 70), "x": 0.01, "y": 0.97, "yanchor": "top", "font": {"size": 15}},
        height=height, template="plotly_white", autosize=True,
        margin={"l": 64, "r": 20, "t": 78, "b": 70, **(margin or {}), "autoexpand": False},
        legend={"orientation": "h", "y": 1.0, "x": 0.0, "xanchor": "left", "yanchor": "bottom"},
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    )


def table(headers: list[str], rows: list[list[tuple[str, object]]], numeric: set[int],
          clip: frozenset[int] = frozenset(), indent: list[int] | None = None,
          wrap: frozenset[int] = frozenset()) -> str:
    """A sortable table: each cell is (shown text, sort key); click a heading to sort.

    Cells of ``clip`` columns are cut with an ellipsis at a fixed width (the whole text in their tooltip),
    so one long name cannot push the other columns out of view; cells of ``wrap`` columns break onto
    more lines instead (a name that must be read whole). ``indent`` gives each row's first cell a nesting
    depth (a tree drawn as a table).
    """
    def cls(i: int) -> str:
        return " ".join(c for c, on in (("num", i in numeric), ("clip", i in clip), ("wrap", i in wrap)) if on)

    head = "".join(f'<th class="{cls(i)}" title="click to sort">{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for n, row in enumerate(rows):
        cells = []
        for i, (text, key) in enumerate(row):
            style = f' style="padding-left:{8 + 16 * indent[n]}px"' if indent is not None and i == 0 else ""
            tip = f' title="{esc(text)}"' if i in clip else ""
            cells.append(f'<td class="{cls(i)}" data-sort="{esc(key)}"{tip}{style}>{esc(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def page(title: str, sections: list[str]) -> str:
    """The whole self-contained page: the template with its style, plotly.js and script inlined."""
    from plotly.offline import get_plotlyjs

    return (template("page.html").replace("{{title}}", esc(title))
            .replace("{{style}}", template("report.css"))
            .replace("{{plotlyjs}}", get_plotlyjs().replace("</script", "<\\/script"))
            .replace("{{script}}", template("report.js"))
            .replace("{{version}}", esc(__version__))
            .replace("{{body}}", "\n".join(sections)))
