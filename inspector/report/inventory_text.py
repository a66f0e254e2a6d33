"""Human renderings of one inventory: summary, container table, and a flat or tree listing."""

from __future__ import annotations

from inspector.inventory import container_summaries, totals
from inspector.model import NEST, EntryKind, Inventory
from inspector.report.common import bar, count, markdown_table, size, table, writable_code_line


def summary(inv: Inventory, markdown: bool = False) -> str:
    """The three footprints and the counts, in a few lines (a list in Markdown, so it renders as lines)."""
    t = totals(inv)
    root = inv.root
    fmt = root.container or root.detected or "file"
    lines = [
        f"{root.path}  ({fmt})",
        f"  download size      {size(t.download_size)} ({t.download_size:,} bytes)",
        f"  unpacked footprint {size(t.unpacked_size)} ({t.unpacked_size:,} bytes) in {count(t.files, 'file')}",
        f"  structure          {count(t.containers, 'container')} opened, {count(t.dirs, 'dir')}, "
        f"{count(t.symlinks, 'link')}, nesting depth {t.max_depth}",
    ]
    if t.executables:
        lines.append(f"  code               {size(t.code_bytes)} in {count(t.executables, 'executable')} "
                     f"(ELF/PE/Mach-O sections), with {size(t.data_bytes)} of data")
        if t.writable_code_bytes:
            lines.append(writable_code_line(t.writable_code_bytes))
    if t.unopened_containers:
        lines.append(f"  not opened         {count(t.unopened_containers, 'container')} (see problems)")
    if t.unread_files:
        lines.append(f"  unread             {count(t.unread_files, 'file')} could not be read (not counted above)")
    if not inv.complete:
        lines.append(f"  INCOMPLETE         {count(t.problems, 'problem')}: figures are a lower bound")
    elif inv.problems:
        lines.append(f"  warnings           {t.problems}")
    if markdown:
        head, *rest = lines
        return "\n".join([f"## {head.split('  (')[0]} ({fmt})", "", *(f"- {' '.join(x.split())}" for x in rest)])
    return "\n".join(lines)


def containers_table(inv: Inventory, markdown: bool = False, width: int | None = None) -> str:
    """One row per opened container: format, own size, stored size of its members, unpacked below it."""
    rows = [
        [c.format, size(c.size), size(c.stored_size), size(c.unpacked_size), f"{c.files:,}",
         _indent(c.path, c.depth) + (f"  [{c.label}]" if c.label else "")]
        for c in container_summaries(inv)
    ]
    headers = ["format", "size", "stored", "unpacked", "files", "container"]
    render = markdown_table if markdown else table
    return render(rows, headers, right={1, 2, 3, 4}, width=width, shrink={5})


def _indent(path: str, depth: int) -> str:
    return ("  " * depth) + (path.rsplit(NEST, 1)[-1] if depth else path)


def listing(inv: Inventory, tree: bool = False, markdown: bool = False, width: int | None = None) -> str:
    """Every entry: flat (full logical paths) or as an indented tree."""
    rows = []
    levels: dict[str, int] = {inv.root.path: -1}
    for e in inv.entries[1:]:
        kind = e.kind.value
        if e.container:
            kind = f"{e.container}{'' if e.opened else ' (unopened)'}"
        name = e.path
        if tree:
            inner = e.path.rsplit(NEST, 1)[-1]
            level = levels.get(e.parent or "", -1) + 1 + inner.count("/")
            levels[e.path] = level
            name = "  " * level + inner.rsplit("/", 1)[-1] + ("/" if e.kind is EntryKind.DIR else "")
            if e.container and e.opened:
                name += "!"
        if e.link_target:
            name += f" -> {e.link_target}"
        rows.append([
            size(e.size) if e.kind is EntryKind.FILE else "",
            size(e.stored_size) if e.stored_size is not None and e.stored_size != e.size else "",
            kind if kind != "file" else (e.detected or ""),
            (e.sha256 or "")[:12],
            name,
        ])
    headers = ["size", "stored", "type", "sha256", "path"]
    render = markdown_table if markdown else table
    return render(rows, headers, right={0, 1}, width=width, shrink={2, 4})


def top_files(inv: Inventory, n: int, markdown: bool = False, width: int | None = None) -> str:
    """The ``n`` largest leaf files, biggest first, with their share of the unpacked footprint as a bar
    (like dust), and a line counting the rest."""
    leaves = [e for e in inv.entries if e.is_leaf_file]
    total = sum(e.size or 0 for e in leaves)
    biggest = sorted(leaves, key=lambda e: (-(e.size or 0), e.path))[:n]
    rows = [[size(e.size), f"{100 * (e.size or 0) / total:.1f}%" if total else "-",
             bar((e.size or 0) / total if total else 0.0), e.path] for e in biggest]
    render = markdown_table if markdown else table
    text = render(rows, ["size", "share", "", "path"], right={0, 1}, width=width, shrink={3})
    rest = len(leaves) - len(biggest)
    if rest > 0:
        rest_bytes = total - sum(e.size or 0 for e in biggest)
        text += f"\n{'' if markdown else '  '}... and {count(rest, 'more file')}, {size(rest_bytes)}"
    return text


def problems_text(inv: Inventory) -> str:
    """One line per problem, as ``kind: path: reason``."""
    return "\n".join(f"{p.kind}: {p.line()}" for p in inv.problems)


