"""Figures over one inventory: the footprints vendors argue about, and per-container summaries.

Three footprints are kept apart: the download size (the image file), the unpacked footprint (sum of the
sizes of leaf files, i.e. every file that is not itself an opened container) and the stored size of each
container's members (what they occupy compressed inside it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from inspector.model import Entry, EntryKind, Inventory


@dataclass(frozen=True)
class Totals:
    """Image-wide figures."""

    download_size: int
    unpacked_size: int
    files: int
    dirs: int
    symlinks: int
    other: int
    containers: int
    unopened_containers: int
    max_depth: int
    problems: int
    complete: bool
    unread_files: int = 0  # files whose content could not be read: listed, not counted in unpacked_size


@dataclass(frozen=True)
class ContainerSummary:
    """One opened container: its own size, what its direct members store, and all leaf bytes below it."""

    path: str
    format: str
    depth: int
    size: int | None
    members: int
    stored_size: int
    unpacked_size: int
    files: int
    label: str | None = None  # a short human label from the unpacker (``net-ixgbe 3.7.13 (VIB)``)


def totals(inv: Inventory) -> Totals:
    """Image-wide totals of ``inv``."""
    files = dirs = links = other = containers = unopened = unread = 0
    unpacked = 0
    max_depth = 0
    for e in inv.entries:
        max_depth = max(max_depth, e.depth)
        if e.kind is EntryKind.DIR:
            dirs += 1
        elif e.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
            links += 1
        elif e.kind is not EntryKind.FILE:
            other += 1
        if e.container:
            if e.opened:
                containers += 1
            else:
                unopened += 1
        if e.is_leaf_file:
            if e.unread:
                unread += 1
                continue
            files += 1
            unpacked += e.size or 0
    return Totals(
        download_size=inv.root.size or 0,
        unpacked_size=unpacked,
        files=files,
        dirs=dirs,
        symlinks=links,
        other=other,
        containers=containers,
        unopened_containers=unopened,
        max_depth=max_depth,
        problems=len(inv.problems),
        complete=inv.complete,
        unread_files=unread,
    )


def container_summaries(inv: Inventory) -> list[ContainerSummary]:
    """A summary row per opened container, in inventory order (outermost first)."""
    opened = {e.path: e for e in inv.entries if e.container and e.opened}
    members: dict[str, int] = defaultdict(int)
    stored: dict[str, int] = defaultdict(int)
    unpacked: dict[str, int] = defaultdict(int)
    files: dict[str, int] = defaultdict(int)
    for e in inv.entries:
        parent = e.parent
        if parent is None:
            continue
        members[parent] += 1
        if e.kind is EntryKind.FILE:
            stored[parent] += e.stored_size if e.stored_size is not None else (e.size or 0)
        if e.is_leaf_file and not e.unread:
            for anc in ancestors(e):
                unpacked[anc] += e.size or 0
                files[anc] += 1
    return [
        ContainerSummary(
            path=p,
            format=e.container or "",
            depth=e.depth,
            size=e.size,
            members=members[p],
            stored_size=stored[p],
            unpacked_size=unpacked[p],
            files=files[p],
            label=str(e.meta["label"]) if e.meta.get("label") else None,
        )
        for p, e in opened.items()
    ]


def ancestors(entry: Entry) -> list[str]:
    """Logical paths of every container enclosing ``entry``, innermost first."""
    out = []
    path = entry.path
    while "!/" in path:
        path = path.rsplit("!/", 1)[0]
        out.append(path)
    return out
