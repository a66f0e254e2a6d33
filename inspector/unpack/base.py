"""The contract between the walker and the unpackers (one module per format family).

An unpacker is a ``Handler``: it says whether some leading bytes are its format (``match``) and turns a
readable stream of that format into ``Member`` records (``members``). Each member can be opened once, as
a stream, and only until the next member is requested: formats are read front to back, never extracted.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from inspector.limits import WalkError
from inspector.model import EntryKind, ProblemKind, direct_init
from inspector.names import unsafe_name_message
from inspector.streams import Budget, Stream


@direct_init
@dataclass(frozen=True)
class Member:
    """One member of a container as its unpacker sees it.

    ``name`` is the member's path inside the container, ``/``-separated, without a leading ``/``.
    ``open`` returns the member's content stream; it is valid until the unpacker is asked for the next
    member. ``compressed_progress`` (for decompressing wrappers) returns how many compressed bytes have
    been consumed so far, to bound the expansion ratio while streaming.
    """

    name: str
    kind: EntryKind = EntryKind.FILE
    size: int | None = None
    stored_size: int | None = None
    mode: int | None = None
    mtime: float | None = None
    link_target: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    open: Callable[[], Stream] | None = None
    compressed_progress: Callable[[], int] | None = None
    #: The whole decompressed content of its container (a gzip/xz/bzip2/zstd payload): the wrapper's own
    #: hash identifies it, so the walker does not hash it again when it is itself a container.
    payload: bool = False
    #: The whole content, when the reader already holds it (a small member read in the same pass as its
    #: header): the walker sniffs, hashes and counts it from these bytes without opening a stream.
    data: bytes | None = None
    #: Names the content within its container when the format stores one content for several members (a
    #: WIM stream's SHA-1: the editions of an install.wim share most of their files). Members with equal keys
    #: have identical bytes, so the walker reads such content once and gives a later member with the same key
    #: the first one's digest, type and executable analysis. The reader sets ``stored_size`` accordingly:
    #: the stored bytes on the first member only, 0 on the others, as for hard links.
    content_key: bytes | None = None


@direct_init
@dataclass(frozen=True)
class SniffInfo:
    """What a handler may look at to decide whether it reads a member: its first bytes and its name."""

    head: bytes
    name: str
    size: int | None


@dataclass
class UnpackContext:
    """What an unpacker gets besides the stream: who it is reading, the budget and where to report.

    ``meta`` collects container-level metadata (a VIB's descriptor, which ISO tree was read, ...) that
    the walker attaches to the container's entry. ``problem`` records a non-fatal problem about a member
    (``name`` relative to this container, or ``None`` for the container itself).
    """

    path: str
    name: str
    size: int | None
    head: bytes
    budget: Budget
    #: ``problem(member_name_or_None, reason, kind, limit=None)``; ``limit`` names a tripped ``Limits`` field.
    problem: Callable[..., None]
    meta: dict[str, Any] = field(default_factory=dict)
    #: Names of this container's members already warned about as unsafe (see ``unsafe_name``).
    flagged_unsafe: set[str] = field(default_factory=set)

    def unsafe_name(self, name: str, stored: str, why: str) -> None:
        """Warn that member ``name`` has an unsafe stored name, and remember it (the walker checks again)."""
        self.flagged_unsafe.add(name)
        self.problem(name, unsafe_name_message(stored, why), ProblemKind.WARNING)


class Handler(Protocol):
    """One format family's unpacker. ``name`` is the format id reported in entries (``tar``, ``zip``…)."""

    name: str
    #: True when ``members`` needs ``seek``/``tell`` (the walker then spools non-seekable input).
    needs_seekable: bool
    # Optional ``min_head: int``, for a handler listed without magics (asked about every member): it never
    # accepts content shorter than that, so the dispatcher need not ask (tar: one whole 512-byte header).

    def match(self, info: SniffInfo) -> bool:
        """Whether this handler reads content starting with ``info.head``."""
        ...

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the container's members in storage order."""
        ...


class FormatError(WalkError):
    """The content does not follow its format (corrupt, truncated, inconsistent)."""


class ExactSlice(io.RawIOBase):
    """The next ``size`` bytes of a forward-only stream, as a stream of their own.

    A source that ends early raises ``FormatError(short_reason(missing_bytes))``: a member that runs past
    the end of its archive is named, not silently cut.
    """

    def __init__(self, src: BinaryIO, size: int, short_reason: Callable[[int], str]) -> None:
        super().__init__()
        self._src = src
        self.remaining = size
        self._short_reason = short_reason

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.remaining <= 0:
            return 0
        view = memoryview(b).cast("B")
        data = self._src.read(min(len(view), self.remaining))
        if not data:
            raise FormatError(self._short_reason(self.remaining))
        view[: len(data)] = data
        self.remaining -= len(data)
        return len(data)


def strip_suffix(name: str, suffixes: dict[str, str]) -> str:
    """Name of a decompressed payload from its wrapper's name (``a.tgz`` -> ``a.tar``, ``b.gz`` -> ``b``).

    An unknown suffix is dropped (``TOOLS.T00`` -> ``TOOLS``); a name without one gets ``.out``.
    """
    base = name.rsplit("/", 1)[-1]
    lower = base.lower()
    for suffix, replacement in suffixes.items():
        if lower.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    stem, dot, _ = base.rpartition(".")
    return stem if dot and stem else base + ".out"
