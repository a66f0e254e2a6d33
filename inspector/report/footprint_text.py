"""Human renderings of footprints: one image in detail, several side by side, and ``--explain``."""

from __future__ import annotations

import csv
import io
from pathlib import PurePath

from inspector.footprint import UNCLASSIFIED, Footprint, Profile
from inspector.report.common import count, markdown_table, size, table, writable_code_line

#: Unclassified files listed in the text summary; all of them are in --explain unclassified and --json.
UNCLASSIFIED_SHOWN = 20


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{size(n)} ({n:,} bytes)"


def summary(fp: Footprint, markdown: bool = False) -> str:
    """The footprints of one image under its profile, in a few lines (a heading and a list in Markdown)."""
    lines = [
        f"{fp.source}  (profile {fp.profile}: {fp.profile_title})",
        f"  download size      {_bytes(fp.download_size)}",
        f"  stored payload     {_bytes(fp.stored_size)}  (the files' share of the download)",
        f"  unpacked footprint {_bytes(fp.unpacked_size)} in {count(fp.files, 'file')}",
        f"  installed size     {_bytes(fp.installed_size)}"
        + (f"  (stated by {len(fp.installed)} metadata field(s))" if fp.installed else "  (no metadata states it)"),
    ]
    if fp.executables:
        lines.append(f"  code               {_bytes(fp.code_size)} in {count(fp.executables, 'executable')}"
                     f" ({_pct(fp.code_size, fp.unpacked_size)} of the footprint), data {size(fp.data_size)}")
        if fp.writable_code_size:
            lines.append(writable_code_line(fp.writable_code_size))
    if fp.unread_files:
        lines.append(f"  unread             {count(fp.unread_files, 'file')} listed but not counted "
                     "(content not readable)")
    if not fp.complete:
        lines.append("  INCOMPLETE         some members could not be read: figures are a lower bound")
    if markdown:
        return "\n".join([f"## {lines[0]}", "", *(f"- {' '.join(x.split())}" for x in lines[1:])])
    return "\n".join(lines)


def categories_table(fp: Footprint, markdown: bool = False) -> str:
    """One row per category: files, unpacked and stored sizes with their shares, the code bytes of its
    executables with the share of the category they make up ("how much of the hypervisor is code"), and a
    total row. Categories without executables show ``-`` for code."""
    rows = [
        [c.label, f"{c.files:,}", size(c.unpacked), _pct(c.unpacked, fp.unpacked_size), size(c.stored),
         _pct(c.stored, fp.stored_size), *_code_cells(c.code, c.executables, c.unpacked)]
        for c in fp.categories
    ]
    rows.append(["total", f"{fp.files:,}", size(fp.unpacked_size), _pct(fp.unpacked_size, fp.unpacked_size),
                 size(fp.stored_size), _pct(fp.stored_size, fp.stored_size),
                 *_code_cells(fp.code_size, fp.executables, fp.unpacked_size)])
    headers = ["category", "files", "unpacked", "share", "stored", "share", "code", "of unpacked"]
    return (markdown_table if markdown else table)(rows, headers, right={1, 2, 3, 4, 5, 6, 7})


def _code_cells(code: int, executables: int, unpacked: int) -> list[str]:
    """The code column and its share of the category's unpacked bytes; ``-`` without executables."""
    return [size(code), _pct(code, unpacked)] if executables else ["-", "-"]


def unclassified_list(fp: Footprint, limit: int = UNCLASSIFIED_SHOWN) -> str:
    """The files no rule matched (the first ``limit``), so nothing is silently left out."""
    files = fp.unclassified
    if not files:
        return "unclassified: none (every file matched a rule)"
    lines = [f"unclassified: {count(len(files), 'file')}, {size(sum(a.size for a in files if not a.unread))}"]
    lines += [f"  {size(a.size):>10}  {a.path}" for a in files[:limit]]
    if len(files) > limit:
        lines.append(f"  ... {len(files) - limit} more: --explain unclassified lists them all")
    return "\n".join(lines)


def compare_table(fps: list[Footprint], markdown: bool = False) -> str:
    """Several images side by side: the footprints, then each category as unpacked / stored / files."""
    headers = [""] + [PurePath(fp.source).name for fp in fps]
    rows = [
        ["profile", *(fp.profile for fp in fps)],
        ["download size", *(size(fp.download_size) for fp in fps)],
        ["stored payload", *(size(fp.stored_size) for fp in fps)],
        ["unpacked footprint", *(size(fp.unpacked_size) for fp in fps)],
        ["installed size", *(size(fp.installed_size) for fp in fps)],
        ["files", *(f"{fp.files:,}" for fp in fps)],
        ["code in executables", *(size(fp.code_size) if fp.executables else "-" for fp in fps)],
    ]
    labels: dict[str, list[str]] = {}  # category id -> its labels in the profiles shown (insertion-ordered)
    for fp in fps:
        for c in fp.categories:
            if c.id != UNCLASSIFIED and c.label not in labels.setdefault(c.id, []):
                labels[c.id].append(c.label)
    order = [(cid, " / ".join(names)) for cid, names in labels.items()] + [(UNCLASSIFIED, UNCLASSIFIED)]
    for cid, label in order:
        cells = []
        for fp in fps:
            try:
                c = fp.category(cid)
            except KeyError:
                cells.append("")
                continue
            cells.append(f"{size(c.unpacked)} / {size(c.stored)} / {c.files:,}" if c.files else "-")
        rows.append([label, *cells])
    text = (markdown_table if markdown else table)(rows, headers, right=set(range(1, len(headers))))
    return text + "\n\ncategory cells: unpacked / stored / files"


def explain(fp: Footprint, category: str, markdown: bool = False, width: int | None = None) -> str:
    """Every file of one category with the rule that put it there, then what each of those rules says."""
    files = fp.files_in(category)
    label = fp.category(category).label if category != UNCLASSIFIED else UNCLASSIFIED
    head = (f"{fp.source}: {label} ({count(len(files), 'file')}, {size(sum(a.size for a in files))}; "
            f"profile {fp.profile})")
    rows = [[size(a.size) + (" unread" if a.unread else ""), size(a.stored), a.rule or "(no rule matched)", a.path]
            for a in files]
    body = (markdown_table if markdown else table)(rows, ["size", "stored", "rule", "path"], right={0, 1},
                                                   width=width, shrink={3})
    used = []
    for a in files:
        if a.rule and a.rule not in used:
            used.append(a.rule)
    legend = []
    for rid in used:
        r = fp.rule(rid)
        if r is None:
            continue
        legend.append(f"  {r.id}: {r.description or r.category}")
        legend.append(f"    matches: {r.describe()}")
        if r.source:
            legend.append(f"    source:  {r.source}")
        if r.origin and r.origin != fp.profile:
            legend.append(f"    from profile {r.origin}")
    parts = [head, "", body]
    if legend:
        parts += ["", "rules:", *legend]
    return "\n".join(parts)


CSV_CATEGORY_FIELDS = ["source", "profile", "category", "label", "files", "unpacked", "stored", "code", "data",
                       "executables"]
CSV_FILE_FIELDS = ["source", "profile", "category", "rule", "path", "size", "stored"]


def categories_csv(fps: list[Footprint]) -> str:
    """One CSV row per image and category, plus a ``total`` row per image."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_CATEGORY_FIELDS)
    for fp in fps:
        for c in fp.categories:
            w.writerow([fp.source, fp.profile, c.id, c.label, c.files, c.unpacked, c.stored, c.code, c.data,
                        c.executables])
        w.writerow([fp.source, fp.profile, "total", "total", fp.files, fp.unpacked_size, fp.stored_size,
                    fp.code_size, fp.data_size, fp.executables])
    return buf.getvalue()


def files_csv(fps: list[Footprint], category: str | None = None) -> str:
    """One CSV row per file (of one category, or all), with the rule that classified it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FILE_FIELDS)
    for fp in fps:
        for a in fp.assignments:
            if category is None or a.category == category:
                w.writerow([fp.source, fp.profile, a.category, a.rule or "", a.path, a.size, a.stored])
    return buf.getvalue()


def profiles_table(profiles: list[Profile], markdown: bool = False) -> str:
    """The available profiles: name, rules, where it comes from, title."""
    rows = [[p.name, str(len(p.rules)), p.origin + (f" (extends {p.extends})" if p.extends else ""), p.title]
            for p in profiles]
    return (markdown_table if markdown else table)(rows, ["profile", "rules", "origin", "title"], right={1})


def profile_rules(profile: Profile, markdown: bool = False) -> str:
    """One profile's ordered rules: id, category, conditions, and the public source each encodes."""
    head = f"{profile.name}: {profile.title} ({profile.origin})"
    if profile.description:
        head += f"\n{profile.description}"
    if markdown:
        rows = [[str(i + 1), r.id, r.category, r.describe(), r.source] for i, r in enumerate(profile.rules)]
        body = markdown_table(rows, ["#", "rule", "category", "matches", "source"], right={0})
    else:
        lines = []
        for i, r in enumerate(profile.rules):
            lines.append(f"{i + 1:3}. {r.id} -> {r.category}" + (f"  ({r.description})" if r.description else ""))
            lines.append(f"     matches: {r.describe()}")
            if r.source:
                lines.append(f"     source:  {r.source}")
            if r.origin and r.origin != profile.name:
                lines.append(f"     from profile {r.origin}")
        body = "\n".join(lines)
    cats = ", ".join(f"{cid} ({label})" for cid, label in profile.categories)
    return "\n".join([head, "", f"categories: {cats}, unclassified", "", body])
