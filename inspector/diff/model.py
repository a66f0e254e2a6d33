"""Data types of a diff between two inventories (the contract other layers code against).

A ``DiffResult`` holds one ``Change`` per compared entry (unchanged leaf files included), the churn
totals for the whole release pair and per component, and what could not be compared. Everything here is
a frozen dataclass; the engine builds them, renderers and the series/footprint layers read them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from inspector.model import NEST, Entry, Problem

#: Version of the ``inspector.diff`` JSON schema. Bump on any incompatible change.
DIFF_SCHEMA_VERSION = 1


class ChangeStatus(str, enum.Enum):
    """How an entry changed between the old and the new release."""

    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    RENAMED = "renamed"
    RENAMED_MODIFIED = "renamed_modified"
    UNCHANGED = "unchanged"
    METADATA = "metadata"


@dataclass(frozen=True, slots=True)
class CodeChange:
    """Code and data of a modified (or added/removed) executable, from its section table (``meta.binary``).

    Sizes are the bytes the file carries in code sections, and in read-only plus writable data sections
    (0 on the side the file is missing from, or on a side whose sections were not measured). ``code_delta``
    is the delta estimate over the code sections only, made with the diff's delta method over the
    concatenated code bytes of each side (0 when the code digests are equal; the new code size for an added
    executable; 0 for a removed one; ``None`` when no estimate could be made: no content, saved
    inventories, over the size bound, see ``Change.delta_note``); ``data_delta`` the same for data. A
    renamed, metadata-only or unchanged file has identical bytes, so its code and data are unchanged.
    """

    code_old: int
    code_new: int
    data_old: int
    data_new: int
    code_delta: int | None
    data_delta: int | None
    #: Whether the code bytes differ (digest of the code sections), whatever the rest of the file did.
    code_changed: bool
    data_changed: bool
    #: Either side has code in sections that are also writable (``meta.binary.writable_code_bytes``):
    #: its code figures then include data the section table cannot separate (flattened boot images).
    writable_code: bool = False


@dataclass(frozen=True, slots=True)
class Change:
    """One paired or unpaired entry. ``delta_bytes`` is the estimated binary delta (modified files) or
    the compressed size (added files); ``None`` when not computed or skipped (see ``delta_note``)."""

    status: ChangeStatus
    old: Entry | None
    new: Entry | None
    delta_bytes: int | None
    component: str
    #: Metadata fields that differ (``mode``, ``mtime``, ``link_target``), for any status.
    changed_meta: tuple[str, ...] = ()
    #: Why no delta estimate was made for a modified/added file (size bound, no content, ...).
    delta_note: str | None = None
    #: Code/data churn of an executable (either side analysed as ELF/PE/Mach-O); None for other files.
    code: CodeChange | None = None

    @property
    def path(self) -> str:
        """The new logical path if the entry exists in the new release, else the old one."""
        entry = self.new if self.new is not None else self.old
        assert entry is not None
        return entry.path

    @property
    def is_file(self) -> bool:
        """True when this change is about leaf file content (not a directory, link or container)."""
        entry = self.new if self.new is not None else self.old
        return entry is not None and entry.is_leaf_file

    @property
    def replaced_bytes(self) -> int:
        """New size of an added or content-modified file (what a whole-file update ships), else 0."""
        if self.is_file and self.status in (ChangeStatus.ADDED, ChangeStatus.MODIFIED,
                                            ChangeStatus.RENAMED_MODIFIED):
            return (self.new.size if self.new is not None else 0) or 0
        return 0

    @property
    def size(self) -> int:
        """The larger of the old and new sizes (what ``--min-size`` and "largest changes" sort by)."""
        return max((self.old.size if self.old else 0) or 0, (self.new.size if self.new else 0) or 0)


@dataclass(frozen=True)
class ChurnTotals:
    """Churn figures over a set of changes (the whole diff, or one component).

    ``files_modified`` counts content changes, renamed ones included; ``files_renamed`` counts pure
    renames/moves (content identical), so removed + modified + renamed + unchanged + metadata-only is
    the number of old leaf files compared. ``delta_bytes`` sums the delta estimates of modified files,
    the compressed sizes of added files, and the replaced size of any file without an estimate (an
    upper bound); ``delta_skipped`` counts the modified or added files without an estimate.
    """

    files_added: int
    files_removed: int
    files_modified: int
    files_renamed: int
    files_unchanged: int
    files_metadata_only: int
    bytes_added: int
    bytes_removed: int
    bytes_modified_old: int
    bytes_modified_new: int
    replaced_bytes: int
    delta_bytes: int
    delta_skipped: int
    old_unpacked: int
    new_unpacked: int
    growth_bytes: int
    churn_ratio: float
    old_download: int
    new_download: int
    #: Directories, links and other non-file entries added, removed or with changed metadata.
    other_changes: int = 0
    #: Code bytes (executable sections of ELF/PE/Mach-O leaf files) in the files compared, per release.
    code_old: int = 0
    code_new: int = 0
    #: ``code_new - code_old``.
    code_growth: int = 0
    #: Code delta estimates of modified executables whose code changed, plus the code of added ones; the
    #: new code size stands in where no estimate was made (counted in ``code_delta_skipped``).
    code_churned: int = 0
    #: ``code_churned / code_old``: the share of the old code that changed.
    code_churn_ratio: float = 0.0
    code_delta_skipped: int = 0
    #: Modified executables whose code changed, and those whose code is byte-identical (only data,
    #: signatures, build ids or other sections changed).
    binaries_code_changed: int = 0
    binaries_code_unchanged: int = 0
    #: The same for initialised data (read-only and writable data sections); ``data_churned`` counts the
    #: new data size of a modified executable whose data changed but got no data estimate.
    data_old: int = 0
    data_new: int = 0
    data_churned: int = 0
    #: The part of ``code_churned`` from executables with writable+executable code sections, where code
    #: and data cannot be told apart: an upper bound of the code in it, not a measure.
    code_churned_writable: int = 0

    @property
    def files_changed(self) -> int:
        """Leaf files added, removed, modified, renamed or with changed metadata."""
        return (self.files_added + self.files_removed + self.files_modified + self.files_renamed
                + self.files_metadata_only)


@dataclass(frozen=True)
class DiffOptions:
    """How a diff is computed. Deltas need both files' content (a second, capturing walk per side)."""

    delta: bool = True
    delta_max_bytes: int = 64 * 1024 * 1024
    delta_method: str = "zstd"
    #: zstd level for deltas and for the compressed size of added files (3 is ``zstd --patch-from``'s).
    delta_level: int = 3


def same_file(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Whether two leaf files paired by path are unchanged by every rule of a diff: the same content digest,
    mode, mtime and link target (the fields a change's status and ``changed_meta`` are made of; the
    engine reads them in this order and calls ``meta_changes`` only when one of the last three differs).

    Both are rows in the entry log's record layout (``entrylog.rows``): the unchanged files of a large
    diff are told apart before any of them is built as an ``Entry``.
    """
    # sha256, mode, mtime, link_target (``entrylog._FIELDS``)
    return old[5] == new[5] and old[7] == new[7] and old[8] == new[8] and old[9] == new[9]


class ChangeList(Sequence[Change]):
    """The changes of a diff in path order, where unchanged files set aside before pairing (twins, see
    ``inspector.diff.twins``) are kept as counts until someone reads them.

    ``listed`` holds every other change, in order; ``build`` makes the whole tuple (reading the unchanged
    files back from the inventories) the first time the sequence is indexed or iterated. ``len`` and
    ``changed_only`` never build it.
    """

    __slots__ = ("listed", "_count", "_build", "_all")

    def __init__(self, listed: tuple[Change, ...], count: int, build: Callable[[], tuple[Change, ...]]) -> None:
        self.listed = listed
        self._count = count
        self._build: Callable[[], tuple[Change, ...]] | None = build
        self._all: tuple[Change, ...] | None = None

    def _whole(self) -> tuple[Change, ...]:
        if self._all is None:
            assert self._build is not None
            self._all, self._build = self._build(), None
        return self._all

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Change: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Change]: ...
    def __getitem__(self, index: int | slice) -> Change | Sequence[Change]:
        return self._whole()[index]

    def __iter__(self) -> Iterator[Change]:
        return iter(self._whole())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


def changed_only(changes: Iterable[Change]) -> Iterator[Change]:
    """The changes whose status is not ``unchanged``, in order, without reading back the unchanged files a
    ``ChangeList`` keeps as counts (what the reports list by default)."""
    source = changes.listed if isinstance(changes, ChangeList) else changes
    return (c for c in source if c.status is not ChangeStatus.UNCHANGED)


@dataclass(frozen=True)
class DiffResult:
    """A complete diff of two releases (see the module docstring)."""

    old_source: str
    new_source: str
    totals: ChurnTotals
    #: Every change in path order: a tuple, or a ``ChangeList`` when unchanged files were set aside.
    changes: Sequence[Change]
    components: tuple[tuple[str, ChurnTotals], ...]
    complete: bool
    problems: tuple[Problem, ...]
    schema_version: int = DIFF_SCHEMA_VERSION
    #: Subtrees skipped because a side could not be read there (``old: path`` / ``new: path``).
    not_compared: tuple[str, ...] = ()
    #: Renamed containers (old logical path, new logical path): the image itself if its name changed, and
    #: every container whose path inside the image changed (version-aware rename or move).
    renamed_containers: tuple[tuple[str, str], ...] = ()
    options: DiffOptions = DiffOptions()
    #: Why deltas were not estimated at all (``--no-delta``, saved inventories), else None.
    delta_note: str | None = None

    @property
    def identical(self) -> bool:
        """True when nothing differs and everything could be compared."""
        return self.complete and not self.not_compared and next(changed_only(self.changes), None) is None


def relative(path: str) -> str:
    """A logical path without its image name (``a.iso!/x/y`` -> ``x/y``): what the two sides share."""
    return path.split(NEST, 1)[1] if NEST in path else ""
