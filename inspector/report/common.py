"""Formatting helpers shared by the renderers."""

from __future__ import annotations

import humanize


def size(n: int | None) -> str:
    """A human size (binary units, as the vendors' MB are), or '-' when unknown."""
    if n is None:
        return "-"
    return humanize.naturalsize(n, binary=True, format="%.1f")


def table(rows: list[list[str]], headers: list[str], right: set[int] | None = None) -> str:
    """A plain aligned text table (no box drawing, so it pastes anywhere)."""
    right = right or set()
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(row: list[str]) -> str:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def markdown_table(rows: list[list[str]], headers: list[str], right: set[int] | None = None) -> str:
    """A GitHub-flavoured Markdown table."""
    right = right or set()

    def esc(c: str) -> str:
        return c.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
