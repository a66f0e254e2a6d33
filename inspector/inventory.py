"""Figures over one inventory: the footprints vendors argue about, and per-container summaries.

Three footprints are kept apart: the download size (the image file), the unpacked footprint (sum of the
sizes of leaf files, i.e. every file that is not itself an opened container) and the stored size of each
container's members (what they occupy compressed inside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspector.binaries.model import META_KEY as BINARY_META
from inspector.entrylog import entry_of, row_of, rows
from inspector.model import NEST, Entry, EntryKind, Inventory, Problem

#: Kinds as the record layout holds them (``EntryKind`` values).
_FILE, _DIR, _SYMLINK, _HARDLINK = (k.value for k in (EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK,
                                                      EntryKind.HARDLINK))


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
    #: Leaf files whose section table was read (ELF, PE/COFF, Mach-O: ``meta.binary``), and the bytes of
    #: their code sections and of their initialised data sections: how much of the footprint is code.
    executables: int = 0
    code_bytes: int = 0
    data_bytes: int = 0
    #: Of ``code_bytes``, those in sections both writable and executable (code and data not separable).
    writable_code_bytes: int = 0


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


class Summariser:
    """Image-wide totals and per-container summaries gathered in one pass, one entry at a time.

    Memory grows with the number of containers, not of entries, so a walk of a million files can be
    summed while its entries stream from disk, or as the walker finds them (``remember_summary``).
    """

    def __init__(self) -> None:
        self.files = self.dirs = self.links = self.other = self.containers = self.unopened = self.unread = 0
        self.unpacked = 0
        self.executables = self.code = self.data = self.writable_code = 0
        self.max_depth = 0
        self.root: Entry | None = None
        self._added = 0
        #: Opened containers by path: (index in the inventory, entry).
        self._opened: dict[str, tuple[int, Entry]] = {}
        #: Per container path: [direct members, their stored bytes, leaf bytes below, leaf files below].
        self._below: dict[str, list[int]] = {}
        #: The counters of the container of the last entry added and of those around it (``_counters``).
        self._chain_of: str | None = None
        self._chain: list[list[int]] = []

    def add(self, e: Entry, index: int | None = None) -> None:
        """Count one entry: the next one of the inventory, or the one at ``index`` (``add_row``)."""
        self.add_row(row_of(e), index)

    def add_row(self, row: tuple[Any, ...], index: int | None = None) -> None:
        """Count the entry of one row in the entry log's record layout (``entrylog.row_of``, ``make_row``): the
        next one of the inventory, or the one at ``index`` (index 0 is the image itself).

        The walker adds each entry when it is complete, a container after its members: it says where.
        (Called once per entry of a walk, on rows rather than entries: ``Entry.is_leaf_file`` and ``unread``
        are spelled out here.)
        """
        if index is None:
            index = self._added
        self._added += 1
        (path, kind, size, depth, stored_size, sha256, _detected, _mode, _mtime, _link_target, container, opened,
         meta) = row
        if index == 0:
            self.root = entry_of(row)
        if depth > self.max_depth:
            self.max_depth = depth
        is_file = kind == _FILE
        if is_file:
            pass
        elif kind == _DIR:
            self.dirs += 1
        elif kind in (_SYMLINK, _HARDLINK):
            self.links += 1
        else:
            self.other += 1
        is_opened = False
        if container:
            if opened:
                is_opened = True
                self.containers += 1
                self._opened[path] = (index, entry_of(row))
            else:
                self.unopened += 1
        counted = False
        if is_file and not is_opened:  # a leaf file
            if sha256 is None:  # unread
                self.unread += 1
            else:
                counted = True
                self.files += 1
                self.unpacked += size or 0
                binary = meta.get(BINARY_META) if meta else None
                if binary is not None:
                    self.executables += 1
                    self.code += binary.get("code_bytes", 0)
                    self.data += binary.get("data_bytes", 0)
                    self.writable_code += binary.get("writable_code_bytes", 0)
        parent, nest, _name = path.rpartition(NEST)
        if not nest:
            return
        if parent == self._chain_of:  # most entries follow one of their container's other members
            chain = self._chain
        else:
            chain = self._chain = self._counters(parent)
            self._chain_of = parent
        acc = chain[0]
        acc[0] += 1
        if is_file:
            acc[1] += stored_size if stored_size is not None else (size or 0)
        if counted:
            size = size or 0
            for acc in chain:
                acc[2] += size
                acc[3] += 1

    def _counters(self, parent: str) -> list[list[int]]:
        """The counters (``_below``) of container ``parent`` and of each container around it, innermost first."""
        chain = []
        below = self._below
        while True:
            acc = below.get(parent)
            if acc is None:
                acc = below[parent] = [0, 0, 0, 0]
            chain.append(acc)
            parent, nest, _name = parent.rpartition(NEST)
            if not nest:
                return chain

    def totals(self, problems: tuple[Problem, ...], complete: bool) -> Totals:
        """The image-wide totals of everything added (``problems`` and ``complete`` from the inventory)."""
        return Totals(
            download_size=(self.root.size or 0) if self.root is not None else 0,
            unpacked_size=self.unpacked,
            files=self.files,
            dirs=self.dirs,
            symlinks=self.links,
            other=self.other,
            containers=self.containers,
            unopened_containers=self.unopened,
            max_depth=self.max_depth,
            problems=len(problems),
            complete=complete,
            unread_files=self.unread,
            executables=self.executables,
            code_bytes=self.code,
            data_bytes=self.data,
            writable_code_bytes=self.writable_code,
        )

    def container_summaries(self) -> list[ContainerSummary]:
        """A summary row per opened container added, in inventory order (outermost first)."""
        opened = sorted(self._opened.items(), key=lambda item: item[1][0])
        return [
            ContainerSummary(
                path=p,
                format=e.container or "",
                depth=e.depth,
                size=e.size,
                members=below[0],
                stored_size=below[1],
                unpacked_size=below[2],
                files=below[3],
                label=str(e.meta["label"]) if e.meta.get("label") else None,
            )
            for p, (_index, e) in opened
            for below in (self._below.get(p, _NOTHING_BELOW),)
        ]


def summarise(inv: Inventory) -> tuple[Totals, list[ContainerSummary]]:
    """Totals and container summaries of ``inv`` in one pass over its entries.

    The result is remembered on the (immutable) inventory, the way ``functools.cached_property`` does,
    so a report that asks for totals and then for the containers reads entries spilled to disk once.
    """
    cached = inv.__dict__.get(_SUMMARY)
    if cached is None:
        s = Summariser()
        for row in rows(inv.entries):
            s.add_row(row)
        cached = (s.totals(inv.problems, inv.complete), tuple(s.container_summaries()))
        inv.__dict__[_SUMMARY] = cached
    return cached[0], list(cached[1])


_SUMMARY = "_inventory_summary"
_NOTHING_BELOW = (0, 0, 0, 0)


def remember_summary(inv: Inventory, summary: Summariser) -> None:
    """Remember on ``inv`` the totals and container summaries of every one of its entries, added to ``summary``.

    The walker sums entries as it finds them, so ``summarise`` need not read back the entries it spilled to
    disk (for ``--list none``, the only pass over them).
    """
    inv.__dict__[_SUMMARY] = (summary.totals(inv.problems, inv.complete), tuple(summary.container_summaries()))


def totals(inv: Inventory) -> Totals:
    """Image-wide totals of ``inv``."""
    return summarise(inv)[0]


def container_summaries(inv: Inventory) -> list[ContainerSummary]:
    """A summary row per opened container, in inventory order (outermost first)."""
    return summarise(inv)[1]


def ancestors(entry: Entry) -> list[str]:
    """Logical paths of every container enclosing ``entry``, innermost first."""
    out = []
    path = entry.path
    while NEST in path:
        path = path.rsplit(NEST, 1)[0]
        out.append(path)
    return out
