"""Formatting helpers shared by the renderers: sizes, counts, tables that fit the terminal, bars."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import PurePath

import humanize

ELLIPSIS = "..."
#: A shrunk column never gets narrower than this (it still shows both ends of a path).
MIN_SHRUNK = 16


def size(n: int | None) -> str:
    """A human size (binary units, as the vendors' MB are), or '-' when unknown."""
    if n is None:
        return "-"
    return humanize.naturalsize(n, binary=True, format="%.1f")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,024 files``: the noun agrees with the number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def terminal_width(wide: bool = False) -> int | None:
    """The width tables are fitted to when standard output is a terminal: ``$COLUMNS``, else the terminal's.

    ``None`` (no fitting, full text) for ``--wide`` and when standard output is a pipe or a file, as ``ls``
    does: a script reading the output gets every character.
    """
    if wide:
        return None
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size().columns


def shorten_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by replacing its middle with ``...`` (keeps leading indentation).

    The middle goes because both ends of a path say the most: where it is and which file it is.
    """
    if len(text) <= width:
        return text
    body = text.lstrip(" ")
    indent = text[: len(text) - len(body)]
    room = width - len(indent) - len(ELLIPSIS)
    if room < 2:
        return text[:width]
    head = room * 2 // 5  # the end (the file's own name) gets the larger share
    tail = room - head
    return indent + body[:head] + ELLIPSIS + body[len(body) - tail:]


def short_names(paths: list[str]) -> list[str]:
    """Base names of ``paths``, with as many parent folders as it takes to tell them apart."""
    parts = [PurePath(p).parts or (p,) for p in paths]
    depth = 1
    while True:
        names = ["/".join(ps[-depth:]) for ps in parts]
        if len(set(names)) == len(names) or all(depth >= len(ps) for ps in parts):
            return names
        depth += 1


def _fit(widths: list[int], width: int, shrink: list[int]) -> list[int]:
    """Column widths that fit ``width`` by narrowing the ``shrink`` columns, the widest first."""
    out = list(widths)
    excess = sum(out) + 2 * (len(out) - 1) - width
    while excess > 0:
        candidates = [i for i in shrink if out[i] > MIN_SHRUNK]
        if not candidates:
            break
        out[max(candidates, key=lambda k: out[k])] -= 1
        excess -= 1
    return out


def table(rows: list[list[str]], headers: list[str], right: set[int] | None = None,
          width: int | None = None, shrink: set[int] | None = None, drop: Sequence[int] = ()) -> str:
    """A plain aligned text table (no box drawing, so it pastes anywhere).

    Numbers go in ``right`` (right-aligned). With a ``width``, the ``drop`` columns (least useful first) are
    left out while the table is too wide, with a closing line naming them, then the ``shrink`` columns
    (paths, names) are narrowed, their cells shortened in the middle; ``None`` keeps the full text.
    """
    right = right or set()
    shrink = shrink or set()
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    keep = list(range(len(headers)))
    if width is not None:
        for col in drop:
            if sum(widths[i] for i in keep) + 2 * (len(keep) - 1) <= width:
                break
            keep.remove(col)
        widths = [widths[i] for i in keep]
        widths = _fit(widths, width, [n for n, i in enumerate(keep) if i in shrink])

    def fmt(row: list[str]) -> str:
        cells = []
        for n, i in enumerate(keep):
            c = row[i]
            if len(c) > widths[n]:
                c = shorten_middle(c, widths[n])
            cells.append(c.rjust(widths[n]) if i in right else c.ljust(widths[n]))
        return "  ".join(cells).rstrip()

    lines = [fmt(headers), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]
    hidden = [headers[i] for i in range(len(headers)) if i not in keep]
    if hidden:
        lines.append(wrap(f"(hidden to fit the terminal: {', '.join(hidden)}; --wide shows them)", width, " "))
    return "\n".join(lines)


def wrap(text: str, width: int | None, indent: str = "") -> str:
    """``text`` wrapped to ``width`` (continuation lines indented by ``indent``); unchanged without a width."""
    if width is None or len(text) <= width:
        return text
    import textwrap

    return textwrap.fill(text, width=width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def markdown_table(rows: list[list[str]], headers: list[str], right: set[int] | None = None,
                   width: int | None = None, shrink: set[int] | None = None, drop: Sequence[int] = ()) -> str:
    """A GitHub-flavoured Markdown table (never shortened: Markdown is read rendered, not in a terminal)."""
    right = right or set()

    def esc(c: str) -> str:
        return c.replace("|", "\\|") if c.strip() else c

    def cell(c: str) -> str:
        body = c.lstrip(" ")
        indent = len(c) - len(body)
        return "&nbsp;" * indent + esc(body) if indent else esc(c)

    lines = ["| " + " | ".join(esc(h) for h in headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def bar(fraction: float, width: int = 20) -> str:
    """A dust-like horizontal bar for a share between 0 and 1 (block characters, ``#`` off UTF-8)."""
    fraction = min(max(fraction, 0.0), 1.0)
    full, empty = ("\u2588", "\u2591") if _utf8() else ("#", ".")
    n = round(fraction * width)
    if fraction > 0 and n == 0:
        n = 1
    return full * n + empty * (width - n)


def _utf8() -> bool:
    enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return enc == "utf8"


def writable_code_line(writable_code: int) -> str:
    """The continuation line of a "code" summary line: how much of the code mixes code and data."""
    return (f"                     {size(writable_code)} of that code is in writable+executable sections, where code "
            "and data cannot be told apart")
