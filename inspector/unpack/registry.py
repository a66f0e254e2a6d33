"""The one list of unpackers, in the order they are tried (first match wins), with where their magic sits.

Adding a format = one module in this package + one line here: the handler and the ``(offset, bytes)``
magics its ``match`` requires. The walker does not offer every member to every handler: ``Dispatcher``
looks the member's leading bytes up in a table keyed by those magics and asks only the handlers whose
magic is there (in registry order). A handler listed without magics (or not listed, as in tests that pass
their own handlers) is asked about every member.

Order matters where magics overlap: ISO before the disk-image readers (hybrid ISOs carry an MBR), vmtar
before tar (same header layout).

Readers of formats a walk rarely meets (ISO, UDF, ZIP, WIM, disks, FAT, VIB, MSU, vmtar) are listed as
``LazyHandler``s: their modules are imported the first time a member's magic points at them, so starting
up (``inspector diff a.deb b.deb``, an inventory of a small ZIP) does not import every reader. Such a line
names the handler's ``name`` and ``needs_seekable`` (and, for WIM and vmtar, its magic); ``tests/test_registry.py``
checks them against the handler itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from inspector.unpack import ar, archive, bzimage, compressed, deb, tar
from inspector.unpack.base import Handler, Member, SniffInfo, UnpackContext


class LazyHandler:
    """A handler whose module is imported when it is first asked about a member (see the module docstring)."""

    def __init__(self, where: str, name: str, needs_seekable: bool) -> None:
        #: ``module:attribute`` of the handler (a handler object, or a class instantiated without arguments).
        self.where = where
        self.name = name
        self.needs_seekable = needs_seekable
        self._handler: Handler | None = None

    @property
    def handler(self) -> Handler:
        """The handler itself (its module imported on first use)."""
        if self._handler is None:
            module, _, attr = self.where.partition(":")
            found = getattr(importlib.import_module(module), attr)
            self._handler = found() if isinstance(found, type) else found
        return self._handler

    def match(self, info: SniffInfo) -> bool:
        """The handler's ``match``."""
        return self.handler.match(info)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """The handler's ``members``."""
        return self.handler.members(stream, ctx)


def _lazy(where: str, name: str, needs_seekable: bool) -> LazyHandler:
    return LazyHandler(f"inspector.unpack.{where}", name, needs_seekable)

#: ``(offset, bytes)`` pairs: a handler is a candidate when the content holds one of them at its offset.
Magics = tuple[tuple[int, bytes], ...]

_ISO: Magics = ((0x8001, b"CD001"), (0x8001, b"BEA01"), (0x8001, b"NSR02"), (0x8001, b"NSR03"))
_ZIP: Magics = ((0, b"PK\x03\x04"), (0, b"PK\x05\x06"), (0, b"PK\x07\x08"))
_CAB: Magics = ((0, b"MSCF\x00\x00\x00\x00"),)
_AR: Magics = ((0, b"!<arch>\n"),)
_CPIO: Magics = ((0, b"070701"), (0, b"070702"), (0, b"070707"), (0, b"\xc7\x71"), (0, b"\x71\xc7"))
_BOOT_SECTOR: Magics = ((510, b"\x55\xaa"),)
#: tar is also recognised by its header checksum alone (v7 tar has no magic): asked about every member
#: long enough to be one (``Handler.min_head``).
_ANYWHERE: Magics = ()

#: ``wim.MAGIC`` (the WIM reader is imported only when a member starts with it).
WIM_MAGIC = b"MSWIM\x00\x00\x00"

REGISTRY: tuple[tuple[Handler, Magics], ...] = (
    # before the ISO reader: UDF-only media (a UDF recognition sequence, no CD001)
    (_lazy("udf:UdfHandler", "udf", True), _ISO),
    # every ISO: the ISO reader (iso.IsoHandler) plus ESXi boot.cfg/imgdb metadata
    (_lazy("esxi:EsxiIsoHandler", "iso9660", True), _ISO),
    # every ZIP: the ZIP reader (zip.ZipHandler) plus ESXi offline-bundle metadata
    (_lazy("depot:DepotHandler", "zip", True), _ZIP),
    (_lazy("wim:WimHandler", "wim", True), ((0, WIM_MAGIC),)),
    (archive.SEVENZIP, ((0, b"7z\xbc\xaf\x27\x1c"),)),
    (_lazy("msu:MSU", "msu", True), _CAB),
    (_lazy("msu:UPDATE_CAB", "cab", True), _CAB),
    (archive.CAB, _CAB),
    (archive.RAR, ((0, b"Rar!\x1a\x07"),)),
    (archive.XAR, ((0, b"xar!"),)),
    (archive.RPM, ((0, b"\xed\xab\xee\xdb"),)),
    (deb.DEB, _AR),
    (_lazy("vib:VibHandler", "vib", False), _AR),  # before ar: an ar whose first member is descriptor.xml
    (ar.AR, _AR),  # our own header parser; libarchive (archive.AR) reads what it does not
    (archive.CPIO, _CPIO),
    # before tar: same header layout, data elsewhere (``vmtar.MAGIC``, the libarchive reader's VMTAR_MAGIC)
    (_lazy("vmtar:VmtarHandler", "vmtar", False), ((257, archive.VMTAR_MAGIC),)),
    (tar.TarHandler(), _ANYWHERE),  # our own header parser; libarchive (archive.TAR) reads what it does not
    (bzimage.BzImageHandler(), ((bzimage.MAGIC_OFFSET, bzimage.MAGIC),)),  # before disk: a bzImage ends its
    (_lazy("disk:DiskHandler", "disk", True), _BOOT_SECTOR),                # first sector with 55 AA too
    (_lazy("fat:FatHandler", "fat", True), _BOOT_SECTOR),
    (compressed.GzipHandler(), ((0, compressed.GZIP_MAGIC),)),
    (compressed.Bzip2Handler(), ((0, compressed.BZIP2_MAGIC),)),
    (compressed.XzHandler(), ((0, compressed.XZ_MAGIC),)),
    (compressed.ZstdHandler(), ((0, compressed.ZSTD_MAGIC),)),
)

HANDLERS: tuple[Handler, ...] = tuple(h for h, _ in REGISTRY)

#: Format families that legitimately share one file: a hybrid ISO carries an MBR for USB boot.
_HYBRIDS = frozenset({frozenset({"iso9660", "disk"})})


@dataclass(frozen=True)
class Readings:
    """Which handlers accept some content: the one that reads it, and the other formats it also is."""

    handler: Handler | None
    #: Names of other format families that accept the same bytes (a polyglot: ISO and tar and ZIP at once).
    others: tuple[str, ...] = ()


NO_READING = Readings(None)


class Dispatcher:
    """Finds the handler for some leading bytes by table lookup instead of asking every handler."""

    def __init__(self, handlers: Sequence[Handler] = HANDLERS) -> None:
        known = {id(h): magics for h, magics in REGISTRY}
        self.handlers = tuple(handlers)
        #: offset-0 magics by their first byte: (magic, handler indices); other magics by where they lie.
        self._first: dict[int, list[tuple[bytes, tuple[int, ...]]]] = {}
        self._always: tuple[int, ...] = ()
        #: a handler's family: the first magic it was listed with (handlers sharing a magic are one family)
        self._family: dict[int, str] = {}
        first: dict[bytes, list[int]] = {}
        deep: dict[tuple[int, int], dict[bytes, list[int]]] = {}
        always: list[int] = []
        for index, handler in enumerate(self.handlers):
            magics = known.get(id(handler))
            if not magics:
                always.append(index)
                self._family[index] = handler.name
                continue
            self._family[index] = f"@{magics[0][0]}:{magics[0][1]!r}"
            for offset, magic in magics:
                if offset == 0:
                    first.setdefault(magic, []).append(index)
                else:
                    deep.setdefault((offset, len(magic)), {}).setdefault(magic, []).append(index)
        for magic, indices in first.items():
            self._first.setdefault(magic[0], []).append((magic, tuple(indices)))
        #: (offset, end, magics) of the magics further in, ordered by where they end.
        self._deep_slices = tuple(sorted(((offset, offset + length, {m: tuple(ix) for m, ix in table.items()})
                                          for (offset, length), table in deep.items()), key=lambda s: s[1]))
        self._always = tuple(always)
        #: How long content must be for each catch-all to be asked (``Handler.min_head``), and for all of them.
        self._always_needs = tuple(getattr(self.handlers[i], "min_head", 0) for i in always)
        self._always_need_all = max(self._always_needs, default=0)
        self._always_need_least = min(self._always_needs, default=0)
        #: Content shorter than this has no candidate but those of its first byte: every deep magic ends
        #: further in, and every catch-all needs at least this much.
        self._shortest = min([end for _offset, end, _table in self._deep_slices] + list(self._always_needs),
                             default=1 << 62)

    def candidates(self, head: bytes) -> Sequence[int]:
        """Indices (registry order) of the handlers whose magic appears in ``head``, plus the catch-alls
        ``head`` is long enough for."""
        found: list[int] = []
        if head:
            for magic, indices in self._first.get(head[0], ()):
                if head.startswith(magic):
                    found += indices
        n = len(head)
        if n >= self._shortest:  # most small files are shorter: their first byte decides alone
            for offset, end, table in self._deep_slices:  # by where the magic ends: a magic must fit
                if end > n:
                    break
                hit = table.get(head[offset:end])
                if hit:
                    found += hit
            if n >= self._always_need_all:
                if not found:
                    return self._always
                found += self._always
            elif n >= self._always_need_least:
                for index, need in zip(self._always, self._always_needs, strict=True):
                    if n >= need:
                        found.append(index)
        if len(found) > 1:
            found.sort()
        return found

    def readings_of(self, head: bytes, name: str, size: int | None) -> Readings:
        """``readings`` of content starting with ``head`` (its ``SniffInfo`` made only when some reader is asked)."""
        if len(head) < self._shortest and (not head or head[0] not in self._first):
            return NO_READING  # most small files: no magic starts them, and they are too short for any other
        candidates = self.candidates(head)
        if not candidates:
            return NO_READING
        return self._readings(SniffInfo(head=head, name=name, size=size), candidates)

    def find(self, info: SniffInfo) -> Handler | None:
        """The first handler (registry order) that accepts ``info``, or None for a leaf."""
        for index in self.candidates(info.head):
            handler = self.handlers[index]
            if handler.match(info):
                return handler
        return None

    def readings(self, info: SniffInfo) -> Readings:
        """The handler that reads ``info`` and the other format families that would accept it too."""
        candidates = self.candidates(info.head)
        return self._readings(info, candidates) if candidates else NO_READING

    def _readings(self, info: SniffInfo, candidates: Sequence[int]) -> Readings:
        """``readings`` among ``candidates`` (``candidates(info.head)``, not empty)."""
        chosen: int | None = None
        others: list[str] = []
        seen: set[str] = set()
        for index in candidates:
            handler = self.handlers[index]
            if chosen is not None:
                # the chosen reader's own family, or one already noted: whether it matches changes nothing,
                # so it is not asked (asking a lazy reader imports it: a .deb would import the VIB reader)
                family = self._family[index]
                if family == self._family[chosen] or family in seen:
                    continue
            if not handler.match(info):
                continue
            if chosen is None:
                chosen = index
                continue
            seen.add(family)
            if frozenset({self.handlers[chosen].name, handler.name}) not in _HYBRIDS:
                others.append(handler.name)
        if chosen is None:
            return NO_READING
        return Readings(self.handlers[chosen], tuple(others))


_DEFAULT = Dispatcher(HANDLERS)


def find_handler(info: SniffInfo, handlers: Sequence[Handler] = HANDLERS) -> Handler | None:
    """The first handler whose magic test accepts this content, or None for a leaf."""
    dispatcher = _DEFAULT if handlers is HANDLERS else Dispatcher(handlers)
    return dispatcher.find(info)
