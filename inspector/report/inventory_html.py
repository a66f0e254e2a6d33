"""The inventory as ONE self-contained HTML file: totals, a size treemap by container, the largest files.

Built like the other HTML reports (``html_page``). The treemap is the one the series report draws for a
release (``series.facts.tree_nodes``: opened containers and the top-level directories inside each,
valued by the unpacked leaf bytes below them), so its root is the unpacked footprint. The file list keeps
only the ``top`` largest leaf files (a bounded heap over the entries, whatever their number).
"""

from __future__ import annotations

import heapq

from inspector.inventory import totals
from inspector.model import NEST, Entry, Inventory
from inspector.report.common import size
from inspector.report.html_page import TREEMAP_HEIGHT, div, esc, layout, page, table
from inspector.series.facts import tree_nodes


def treemap_figure(inv: Inventory) -> object | None:
    """Unpacked bytes by container and top-level directory (None when nothing was unpacked)."""
    import plotly.graph_objects as go

    nodes = tree_nodes(inv)
    if not nodes:
        return None
    fig = go.Figure(go.Treemap(
        ids=[n.id for n in nodes], parents=[n.parent for n in nodes], labels=[n.label for n in nodes],
        values=[n.value for n in nodes], branchvalues="total", maxdepth=4,
        customdata=[size(n.value) for n in nodes],
        hovertemplate="%{label}<br>%{customdata}<br>%{percentRoot:.1%} of the footprint<extra></extra>",
        texttemplate="%{label}<br>%{customdata}",
    ))
    layout(fig, "Unpacked footprint by container", height=TREEMAP_HEIGHT,
           margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def largest_files(inv: Inventory, top: int) -> list[Entry]:
    """The ``top`` largest leaf files, biggest first (ties by path)."""
    return heapq.nsmallest(top, (e for e in inv.entries if e.is_leaf_file), key=lambda e: (-(e.size or 0), e.path))


def files_table(inv: Inventory, top: int) -> str:
    """The largest files: size, stored size, container and path inside it (sortable)."""
    rows: list[list[tuple[str, object]]] = []
    for e in largest_files(inv, top):
        container, _, inner = e.path.rpartition(NEST)
        where = container.rsplit(NEST, 1)[-1] if container else ""
        rows.append([(size(e.size), e.size or 0),
                     (size(e.stored_size) if e.stored_size is not None else "", e.stored_size or -1),
                     (where, where), (inner or e.path, e.path), (e.sha256 or "", e.sha256 or "")])
    return table(["size", "stored", "container", "path", "sha256"], rows, numeric={0, 1},
                 clip=frozenset({2, 3, 4}))


def render_inventory_html(inv: Inventory, top: int = 100, title: str | None = None) -> str:
    """The inventory ``inv`` as one self-contained HTML page (see the module docstring)."""
    t = totals(inv)
    name = inv.root.name if inv.entries else inv.source
    figures = [("download size", size(t.download_size)), ("unpacked footprint", size(t.unpacked_size)),
               ("files", f"{t.files:,}"), ("containers opened", f"{t.containers:,}"),
               ("deepest nesting", str(t.max_depth)), ("problems", f"{t.problems:,}"),
               ("complete", "yes" if t.complete else "NO (see problems)")]
    rows: list[list[tuple[str, object]]] = [[(k, n), (v, n)] for n, (k, v) in enumerate(figures)]
    sections = [f'<section><h2>Totals</h2><p class="sub">{esc(inv.source)}</p>'
                f"{table(['', 'value'], rows, numeric={1})}</section>"]
    fig = treemap_figure(inv)
    if fig is not None:
        sections.append(f"<section>{div(fig, 'treemap')}</section>")
    sections.append(f"<section><h2>Largest files (top {top})</h2>"
                    f'<div class="wide">{files_table(inv, top)}</div></section>')
    if inv.problems:
        items = "".join(f"<li>{esc(p.line())}</li>" for p in list(inv.problems)[:500])
        sections.append(f'<section><h2>Problems</h2><ul class="notes">{items}</ul></section>')
    return page(f"{title or name} - inventory", sections)
