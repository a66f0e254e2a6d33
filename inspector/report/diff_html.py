"""The diff report as ONE self-contained HTML file: totals, churn by component, changed containers, largest changes.

Built like the series report (``html_page``: plotly.js inlined once, opens offline, sortable tables). The
figures are the diff's own (``DiffResult.totals``/``components``); the lists are bounded so a diff of
200k files still makes a page a browser opens quickly: the largest ``top`` changes, the ``components``
components that churned most, and at most ``MAX_TREE_ROWS`` changed containers (each line says so when
more exist).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspector.diff.model import Change, ChangeStatus, ChurnTotals, DiffResult, changed_only, relative
from inspector.model import NEST
from inspector.report.common import size
from inspector.report.diff_containers import container_rows
from inspector.report.diff_text import code_churn_text, executables_text
from inspector.report.html_page import MiB, div, esc, layout, page, short_label, table

#: Most rows of the changed-container tree.
MAX_TREE_ROWS = 2000
_STATUS = {
    ChangeStatus.ADDED: "added", ChangeStatus.REMOVED: "removed", ChangeStatus.MODIFIED: "modified",
    ChangeStatus.RENAMED: "renamed", ChangeStatus.RENAMED_MODIFIED: "renamed+mod",
    ChangeStatus.UNCHANGED: "unchanged", ChangeStatus.METADATA: "metadata",
}


def _signed(n: int) -> str:
    return "0" if n == 0 else ("+" if n > 0 else "-") + size(abs(n))


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1] or path


def verdict(result: DiffResult) -> str:
    """``identical``, ``different`` or ``INCOMPLETE`` (something could not be compared)."""
    if not result.complete:
        return "INCOMPLETE"
    return "identical" if result.identical else "different"


def totals_table(t: ChurnTotals) -> str:
    """The headline figures: download and footprint old/new, file counts, replaced and delta bytes."""
    rows: list[list[tuple[str, object]]] = [
        [("download size", 0), (size(t.old_download), t.old_download), (size(t.new_download), t.new_download),
         (_signed(t.new_download - t.old_download), t.new_download - t.old_download)],
        [("unpacked footprint", 1), (size(t.old_unpacked), t.old_unpacked), (size(t.new_unpacked), t.new_unpacked),
         (_signed(t.growth_bytes), t.growth_bytes)],
        [("files added", 2), ("", 0), (f"{t.files_added:,}", t.files_added), (size(t.bytes_added), t.bytes_added)],
        [("files removed", 3), (f"{t.files_removed:,}", t.files_removed), ("", 0),
         (size(t.bytes_removed), t.bytes_removed)],
        [("files modified", 4), (size(t.bytes_modified_old), t.bytes_modified_old),
         (size(t.bytes_modified_new), t.bytes_modified_new), (f"{t.files_modified:,} files", t.files_modified)],
        [("files renamed/moved", 5), ("", 0), ("", 0), (f"{t.files_renamed:,}", t.files_renamed)],
        [("metadata only", 6), ("", 0), ("", 0), (f"{t.files_metadata_only:,}", t.files_metadata_only)],
        [("files unchanged", 7), ("", 0), ("", 0), (f"{t.files_unchanged:,}", t.files_unchanged)],
        [("replaced bytes", 8), ("", 0), ("", 0),
         (f"{size(t.replaced_bytes)} ({t.churn_ratio:.2%} of the old footprint)", t.replaced_bytes)],
        [("delta bytes", 9), ("", 0), ("", 0),
         (size(t.delta_bytes) + (f" ({t.delta_skipped} file(s) counted whole)" if t.delta_skipped else ""),
          t.delta_bytes)],
        *code_churn_rows(t),
    ]
    return table(["", "old", "new", "change"], rows, numeric={1, 2, 3})


def has_code(t: ChurnTotals) -> bool:
    """Whether either release had an analysed executable (else no code figures are shown)."""
    return bool(t.code_old or t.code_new or t.data_old or t.data_new)


def code_churn_rows(t: ChurnTotals) -> list[list[tuple[str, object]]]:
    """The code churn rows of the totals (as the text report's block): code old -> new and growth, code
    churned and its share of the old code, executables with changed and identical code, data churned."""
    if not has_code(t):
        return []
    return [
        [("code (executables)", 10), (size(t.code_old), t.code_old), (size(t.code_new), t.code_new),
         (_signed(t.code_growth), t.code_growth)],
        [("code churned", 11), ("", 0), ("", 0), (code_churn_text(t), t.code_churned)],
        [("executables modified", 12), ("", 0), ("", 0), (executables_text(t), t.binaries_code_changed)],
        [("data (executables)", 13), (size(t.data_old), t.data_old), (size(t.data_new), t.data_new),
         (f"{size(t.data_churned)} churned", t.data_churned)],
    ]


def components_figure(result: DiffResult, top: int) -> object | None:
    """Horizontal bars of the ``top`` components by replaced bytes (replaced, delta, growth, and code churned
    when executables were compared; KiB or MiB)."""
    import plotly.graph_objects as go

    comps = sorted(((n, t) for n, t in result.components if t.files_changed or t.other_changes),
                   key=lambda c: (-c[1].replaced_bytes, c[0]))[:top]
    if not comps:
        return None
    comps.reverse()  # largest at the top of a horizontal bar chart
    names = [n for n, _ in comps]
    ticks = [short_label(n, 28) for n in names]
    y = list(range(len(names)))
    biggest = max(max(t.replaced_bytes, t.delta_bytes, abs(t.growth_bytes)) for _, t in comps)
    unit, scale = ("MiB", MiB) if biggest >= MiB else ("KiB", 1024)
    series = [
        ("replaced", [t.replaced_bytes for _, t in comps], "#2471a3"),
        ("delta", [t.delta_bytes for _, t in comps], "#7f8c8d"),
        ("growth", [t.growth_bytes for _, t in comps], "#d35400"),
    ]
    if has_code(result.totals):
        series.append(("code churned", [t.code_churned for _, t in comps], "#8e44ad"))
    fig = go.Figure()
    for label, values, colour in series:
        fig.add_bar(name=label, y=y, x=[v / scale for v in values], orientation="h", marker_color=colour,
                    customdata=[[n, size(v)] for n, v in zip(names, values, strict=True)],
                    hovertemplate="%{customdata[0]}<br>" + label + " %{customdata[1]}<extra></extra>")
    fig.update_layout(barmode="group", xaxis_title=unit)
    fig.update_yaxes(tickmode="array", tickvals=y, ticktext=ticks, automargin=False)
    title = "Replaced, delta, growth and code churned" if has_code(result.totals) else "Replaced, delta and growth"
    layout(fig, f"{title} per component ({unit})", height=120 + 26 * len(comps),
           margin={"l": 210, "b": 50})
    return fig


def components_table(result: DiffResult, top: int) -> str:
    """Changed components: files changed, replaced, delta, growth, old and new size, and code churned when
    executables were compared (sortable)."""
    code = has_code(result.totals)
    rows: list[list[tuple[str, object]]] = [
        [(n, n), (f"{t.files_changed:,}", t.files_changed), (size(t.replaced_bytes), t.replaced_bytes),
         (size(t.delta_bytes), t.delta_bytes), (_signed(t.growth_bytes), t.growth_bytes),
         (size(t.old_unpacked), t.old_unpacked), (size(t.new_unpacked), t.new_unpacked),
         *([(size(t.code_churned), t.code_churned)] if code else [])]
        for n, t in sorted(result.components, key=lambda c: (-c[1].replaced_bytes, c[0]))
        if t.files_changed or t.other_changes][:top]
    headers = ["component", "files", "replaced", "delta", "growth", "old", "new", *(["code churned"] if code else [])]
    return table(headers, rows, numeric=set(range(1, len(headers))), clip=frozenset({0}))




def container_tree(result: DiffResult) -> str:
    """The changed containers as an indented table (new names; renamed ones say what they were)."""
    rows = container_rows(result)
    shown = rows[:MAX_TREE_ROWS]
    cells = []
    for r in shown:
        name = _name(r.path.rsplit(NEST, 1)[-1]) if r.depth else r.path.rsplit("/", 1)[-1]
        label = name + (f" (was {_name(r.was.rsplit(NEST, 1)[-1])})" if r.was else "")
        cells.append([(label, r.path), (f"{r.changes:,}", r.changes), (size(r.replaced), r.replaced),
                      (size(r.delta), r.delta)])
    note = (f'<p class="sub">first {MAX_TREE_ROWS:,} of {len(rows):,} changed containers</p>'
            if len(rows) > len(shown) else "")
    return note + table(["container", "changes", "replaced", "delta"], cells, numeric={1, 2, 3},
                        indent=[r.depth for r in shown], wrap=frozenset({0}))


def largest_changes(changes: Sequence[Change], top: int) -> str:
    """The ``top`` largest changes (by the larger of old and new size), sortable by every column."""
    listed = sorted((c for c in changes if c.status is not ChangeStatus.UNCHANGED),
                    key=lambda c: (-c.size, relative(c.path)))[:top]
    rows: list[list[tuple[str, object]]] = []
    for c in listed:
        old = c.old.size if c.old is not None and c.old.is_leaf_file else None
        new = c.new.size if c.new is not None and c.new.is_leaf_file else None
        path = relative(c.path) or c.path
        if c.status in (ChangeStatus.RENAMED, ChangeStatus.RENAMED_MODIFIED) and c.old is not None:
            path = f"{relative(c.old.path)} -> {path}"
        rows.append([(_STATUS[c.status], c.status.value), (size(old) if old is not None else "", old or -1),
                     (size(new) if new is not None else "", new or -1),
                     (size(c.delta_bytes) if c.delta_bytes is not None else "", c.delta_bytes or -1),
                     (c.component, c.component), (path, path)])
    return table(["change", "old", "new", "delta", "component", "path"], rows, numeric={1, 2, 3},
                 clip=frozenset({4, 5}))


def render_diff_html(result: DiffResult, top: int = 200, components: int = 25,
                     title: str | None = None) -> str:
    """The diff of ``result`` as one self-contained HTML page (see the module docstring)."""
    old, new = _name(result.old_source), _name(result.new_source)
    heading = title or f"{old} \u2192 {new}"
    sub = (f'<p class="sub">{esc(result.old_source)} \u2192 {esc(result.new_source)}: '
           f"<b>{esc(verdict(result))}</b></p>")
    sections = [f"<section><h2>Totals</h2>{sub}{totals_table(result.totals)}</section>"]
    fig = components_figure(result, components)
    if fig is not None:
        sections.append(f"<section><h2>Churn by component</h2>{div(fig, 'components')}"
                        f'<div class="wide">{components_table(result, components)}</div></section>')
    changed = list(changed_only(result.changes))
    if changed:
        sections.append(f"<section><h2>Changed containers</h2>{container_tree(result)}</section>")
        sections.append(f"<section><h2>Largest changes ({min(top, len(changed)):,} of {len(changed):,})</h2>"
                        f'<div class="wide">{largest_changes(changed, top)}</div></section>')
    lost = [*(f"not compared: {p}" for p in result.not_compared), *(p.line() for p in result.problems)]
    if lost:
        items = "".join(f"<li>{esc(x)}</li>" for x in lost[:500])
        sections.append(f'<section><h2>Problems</h2><ul class="notes">{items}</ul></section>')
    return page(f"{heading} - diff", sections)
