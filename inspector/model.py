"""Plain data types passed between the layers: entries, problems and whole inventories.

Nothing here knows any file format. The walker produces these; inventory, diff, series, footprint and
report only consume them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

#: Separator between a container's logical path and the path of a member inside it.
NEST = "!/"

#: Version of the inventory/JSON schema. Bump on any incompatible change.
SCHEMA_VERSION = 1


class EntryKind(enum.StrEnum):
    """What an entry is, independent of the format that stored it."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    DEVICE = "device"
    OTHER = "other"


def frozen_meta(meta: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return a read-only copy of a metadata mapping, so frozen entries stay immutable."""
    return MappingProxyType(dict(meta or {}))


#: The one shared empty metadata mapping (read-only), for the many members and entries without any.
EMPTY_META: Mapping[str, Any] = MappingProxyType({})

_T = TypeVar("_T")


def direct_init(cls: type[_T]) -> type[_T]:
    """Give a frozen dataclass an ``__init__`` that fills the instance's dict directly.

    The ``__init__`` a frozen dataclass gets sets each field through ``object.__setattr__``, one call per
    field: for the records made per member of a walk (``Entry``, ``Member``: a million of each in a large
    walk) that was about a tenth of the walk. This one has the same signature, defaults and default
    factories and is several times faster; equality, ``repr``, ``replace`` and immutability stay
    the dataclass's own. Only for plain frozen dataclasses (no ``__post_init__``, slots or keyword-only fields).
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if (not cls.__dataclass_params__.frozen or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__")  # type: ignore[attr-defined]
            or any(not f.init or f.kw_only for f in fields)):
        raise TypeError(f"direct_init: {cls.__name__} is not a plain frozen dataclass")
    namespace: dict[str, Any] = {"_MISSING": dataclasses.MISSING}
    params, body = [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_MISSING")
            body.append(f" if {f.name} is _MISSING: {f.name} = _factory_{f.name}()")
        else:
            params.append(f.name)
    body.append(" d = self.__dict__")
    body += [f" d[{f.name!r}] = {f.name}" for f in fields]
    exec(f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body), namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


@direct_init
@dataclass(frozen=True)
class Entry:
    """One member found at any depth of an image (or the image itself, at depth 0).

    ``size`` is the uncompressed size of the member's content; ``stored_size`` is what the member
    occupies inside its container when the container says so (compressed size in a ZIP, for example).
    ``container`` names the format the walker opened this entry as (``None`` for a leaf); ``opened`` is
    false when a container was recognised but not (fully) opened, e.g. past the depth limit.
    """

    path: str
    kind: EntryKind
    size: int | None
    depth: int
    stored_size: int | None = None
    sha256: str | None = None
    detected: str | None = None
    mode: int | None = None
    mtime: float | None = None
    link_target: str | None = None
    container: str | None = None
    opened: bool = False
    meta: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def parent(self) -> str | None:
        """Logical path of the container holding this entry (``None`` for the image itself)."""
        if NEST not in self.path:
            return None
        return self.path.rsplit(NEST, 1)[0]

    @property
    def name(self) -> str:
        """Path of the entry inside its own container."""
        return self.path.rsplit(NEST, 1)[-1]

    @property
    def unread(self) -> bool:
        """True for a file whose content could not be read completely (no hash; size is as declared).

        Opened containers are never "unread": a decompressed payload that is a container is not hashed
        (its wrapper's hash identifies it), and a container that broke off is marked ``meta["incomplete"]``.
        """
        return self.kind is EntryKind.FILE and self.sha256 is None and not (self.container and self.opened)

    @property
    def is_leaf_file(self) -> bool:
        """True for file content that counts towards the unpacked footprint (not an opened container)."""
        return self.kind is EntryKind.FILE and not (self.container and self.opened)  # inlined: hot in diff

    @property
    def is_opened_container(self) -> bool:
        """True for an entry the walker opened as a container (its members are listed below it)."""
        return bool(self.container) and self.opened

    @property
    def is_counted_file(self) -> bool:
        """True for a leaf file whose content was read whole: it is in the unpacked footprint and file counts."""
        return self.kind is EntryKind.FILE and self.sha256 is not None and not (self.container and self.opened)


class ProblemKind(enum.StrEnum):
    """The closed set of problem kinds; code decides by kind (and ``Problem.limit``), never by message text."""

    #: Content could not be read (corrupt, truncated): the figures are a lower bound.
    ERROR = "error"
    #: A configured limit stopped the reading (``Problem.limit`` names it).
    LIMIT = "limit"
    #: A feature the reader does not decode (encryption, an unknown compression).
    UNSUPPORTED = "unsupported"
    #: The container's own metadata disagrees with its content; the content itself was read.
    MISMATCH = "mismatch"
    #: Worth a reviewer's attention (unsafe names, ambiguous content); nothing is missing.
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """Something that could not be read completely; ``path`` is the logical path where it happened.

    ``kind`` is a ``ProblemKind`` (a ``StrEnum``, so it also equals its string value); ``limit`` names
    the limit that tripped (``"timeout"``, ``"max_depth"``...) for ``ProblemKind.LIMIT`` problems.
    """

    path: str
    reason: str
    kind: ProblemKind = ProblemKind.ERROR
    limit: str | None = None
    #: Which release of a diff the problem belongs to (``"old"``/``"new"``); None outside a diff.
    side: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ProblemKind):
            object.__setattr__(self, "kind", ProblemKind(self.kind))

    def line(self) -> str:
        """The one-line message shown to a person."""
        where = f"{self.side}: {self.path}" if self.side else self.path
        return f"{where}: {self.reason}"

    @property
    def makes_incomplete(self) -> bool:
        """Warnings and metadata mismatches are reported but do not mean content is missing."""
        return self.kind not in (ProblemKind.WARNING, ProblemKind.MISMATCH)


@dataclass(frozen=True)
class Inventory:
    """Everything known about one image: its entries (root first) and what could not be read.

    ``entries`` is a read-only sequence: a tuple for small images, a view of entries spilled to disk for
    large ones (``inspector.entrylog``). Iterate it, index it or slice it; building a list or dict of
    every entry defeats the point for large images.
    """

    source: str
    entries: Sequence[Entry]
    problems: tuple[Problem, ...] = ()

    @property
    def root(self) -> Entry:
        """The entry for the image file itself."""
        return self.entries[0]

    @property
    def complete(self) -> bool:
        """False when any member could not be read (the figures are then a lower bound)."""
        return not any(p.makes_incomplete for p in self.problems)

    def by_path(self) -> dict[str, Entry]:
        """Entries keyed by logical path."""
        return {e.path: e for e in self.entries}
