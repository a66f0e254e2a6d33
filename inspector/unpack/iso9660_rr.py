"""System Use Sharing Protocol (SUSP, IEEE P1281) and Rock Ridge (RRIP, IEEE P1282) entries of a record.

``parse`` turns a record's System Use area (and the continuation areas its ``CE`` entries point at,
boundedly) into one frozen ``RockRidge`` value: POSIX name, mode, links, device number, symlink target,
modification time, directory relocation (``CL``/``PL``/``RE``) and zisofs compression (``ZF``/``Z2``).
Entries we do not need (``ER``, ``ES``, ``PD``, ``AA``/``AL`` extended attributes, ...) are skipped by
their length, never an error.
"""

from __future__ import annotations

import calendar
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from inspector import native
from inspector.model import direct_init
from inspector.unpack.iso9660 import record_time

#: At most this many continuation areas are followed for one record, and at most this many bytes read.
MAX_CONTINUATIONS = 32
MAX_SUSP_BYTES = 64 * 1024

#: ``read_area(block, offset, length)`` -> the bytes of a continuation area (may be short).
AreaReader = Callable[[int, int, int], bytes]


@dataclass(frozen=True)
class Zisofs:
    """A ``ZF``/``Z2`` entry: the file's data is zisofs-compressed (transparent compression)."""

    algorithm: bytes
    header_words: int
    log2_block: int
    size: int
    version: int


@direct_init
@dataclass(frozen=True)
class RockRidge:
    """The Rock Ridge view of one directory record (fields are None when their entry is absent)."""

    name: bytes | None = None
    mode: int | None = None
    nlink: int | None = None
    uid: int | None = None
    gid: int | None = None
    ino: int | None = None
    device: tuple[int, int] | None = None  # raw PN (high, low)
    symlink: bytes | None = None
    mtime: float | None = None
    child_link: int | None = None  # CL: the relocated directory's extent
    parent_link: int | None = None  # PL
    relocated: bool = False  # RE: this directory lives elsewhere in the Rock Ridge tree
    zisofs: Zisofs | None = None
    sparse: bool = False  # SF
    problems: tuple[str, ...] = field(default=())


#: A ``PX`` entry's mode, link count, uid and gid (little-endian halves of the both-endian fields).
_PX = struct.Struct("<I4xI4xI4xI")


def _u32(buf: bytes, pos: int) -> int:
    return int(struct.unpack_from("<I", buf, pos)[0])


def _long_time(raw: bytes) -> float | None:
    """ECMA-119 8.4.26.1 17-byte date: ASCII digits and a 15-minute GMT offset."""
    try:
        parts = [int(raw[a:b]) for a, b in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))]
    except ValueError:
        return None
    if parts[0] == 0:
        return None
    offset = struct.unpack("b", raw[16:17])[0]
    try:
        return float(calendar.timegm((*parts, 0, 0, 0)) - offset * 15 * 60)
    except (ValueError, OverflowError):
        return None


def _mtime(entry: bytes) -> float | None:
    """The modification time of a ``TF`` entry (flags say which stamps follow, in a fixed order)."""
    flags = entry[4]
    size = 17 if flags & 0x80 else 7
    if not flags & 0x02:
        return None
    at = 5 + (size if flags & 0x01 else 0)  # the creation stamp, if present, comes first
    raw = entry[at : at + size]
    if len(raw) < size:
        return None
    return _long_time(raw) if size == 17 else record_time(raw)


#: Length of the CD-XA system use record (ECMA-119 / Green Book: owner ID, attributes, ``XA``, file number,
#: reserved) that mastering tools with XA on (``genisoimage -xa``/``-XA``) put before the SUSP entries.
XA_RECORD = 14


def find_sp(system_use: bytes) -> int | None:
    """The SUSP skip length if ``system_use`` (the root's ``.`` record) starts with an ``SP`` entry, or has one
    right after a CD-XA record: then every record's SUSP entries start after their XA record (at least 14
    bytes in, as Linux's isofs reads them), whatever the SP says."""
    if len(system_use) >= 7 and system_use[:2] == b"SP" and system_use[4:6] == b"\xbe\xef":
        return system_use[6]
    xa = XA_RECORD
    if (len(system_use) >= xa + 7 and system_use[6:8] == b"XA" and system_use[xa:xa + 2] == b"SP"
            and system_use[xa + 4:xa + 6] == b"\xbe\xef"):
        return max(system_use[xa + 6], xa)
    return None


class _Builder:
    """Accumulates the entries of one record across its System Use area and continuation areas."""

    __slots__ = ("fields", "name", "has_name", "link_parts", "link_root", "link_continues", "has_link", "problems")

    def __init__(self) -> None:
        self.fields: dict[str, object] = {}
        self.name = bytearray()
        self.has_name = False
        self.link_parts: list[bytearray] = []
        self.link_root = False
        self.link_continues = False
        self.has_link = False
        self.problems: list[str] = []

    def entry(self, sig: bytes, e: bytes) -> None:  # noqa: C901 - one branch per entry type
        n = len(e)
        if sig == b"PX" and n >= 36:
            fields = self.fields
            fields["mode"], fields["nlink"], fields["uid"], fields["gid"] = _PX.unpack_from(e, 4)
            if n >= 44:
                self.fields["ino"] = _u32(e, 36)
        elif sig == b"PN" and n >= 20:
            self.fields["device"] = (_u32(e, 4), _u32(e, 12))
        elif sig == b"NM" and n >= 5:
            flags = e[4]
            self.has_name = True
            if flags & 0x02:
                self.name[:] = b"."
            elif flags & 0x04:
                self.name[:] = b".."
            else:
                self.name += e[5:]
        elif sig == b"SL" and n >= 5:
            self.has_link = True
            self._symlink(e[5:])
        elif sig == b"TF" and n >= 5:
            t = _mtime(e)
            if t is not None:
                self.fields["mtime"] = t
        elif sig == b"CL" and n >= 12:
            self.fields["child_link"] = _u32(e, 4)
        elif sig == b"PL" and n >= 12:
            self.fields["parent_link"] = _u32(e, 4)
        elif sig == b"RE":
            self.fields["relocated"] = True
        elif sig in (b"ZF", b"Z2") and n >= 16:
            version = e[3]
            size = struct.unpack_from("<Q", e, 8)[0] if version >= 2 else _u32(e, 8)
            self.fields["zisofs"] = Zisofs(algorithm=bytes(e[4:6]), header_words=e[6], log2_block=e[7],
                                           size=size, version=version)
        elif sig == b"SF":
            self.fields["sparse"] = True

    def _symlink(self, data: bytes) -> None:
        pos = 0
        while pos + 2 <= len(data):
            flags, length = data[pos], data[pos + 1]
            content = data[pos + 2 : pos + 2 + length]
            pos += 2 + length
            if flags & 0x08:
                self.link_root = True
                self.link_parts.clear()
                self.link_continues = False
                continue
            text = b"." if flags & 0x02 else b".." if flags & 0x04 else bytes(content)
            if self.link_continues and self.link_parts:
                self.link_parts[-1] += text
            else:
                self.link_parts.append(bytearray(text))
            self.link_continues = bool(flags & 0x01)

    def build(self) -> RockRidge:
        symlink = None
        if self.has_link:
            symlink = (b"/" if self.link_root else b"") + b"/".join(bytes(p) for p in self.link_parts)
        return RockRidge(name=bytes(self.name) if self.has_name else None, symlink=symlink,
                         problems=tuple(self.problems), **self.fields)  # type: ignore[arg-type]


def _plain(name: bytes | None, mode: int | None, nlink: int | None, uid: int | None, gid: int | None,
           ino: int | None, stamp: bytes | None, long_stamp: bool) -> RockRidge:
    """The ``RockRidge`` of a record whose entries ``native.rock_ridge`` read: its ``TF`` stamp converted here,
    as ``_mtime`` converts it."""
    mtime = None if stamp is None else _long_time(stamp) if long_stamp else record_time(stamp)
    return RockRidge(name, mode, nlink, uid, gid, ino, None, None, mtime)


def parse(system_use: bytes, skip: int, read_area: AreaReader) -> RockRidge:
    """The Rock Ridge fields of one record whose System Use area is ``system_use``.

    ``skip`` is the SUSP skip length from the root's ``SP`` entry. ``CE`` continuation areas are read
    through ``read_area``, at most ``MAX_CONTINUATIONS`` of them and ``MAX_SUSP_BYTES`` in all, each
    area once: a malformed or looping chain is reported in ``problems`` and reading stops there.
    """
    if native.rock_ridge is not None:  # the plain entries of most records, read in C (``_plain``)
        plain = native.rock_ridge(system_use, skip)
        if plain is not None:
            return _plain(*plain)
    b = _Builder()
    area = bytes(system_use[skip:])
    seen: set[tuple[int, int]] = set()
    total = len(area)
    while True:
        pos = 0
        nxt: tuple[int, int, int] | None = None
        while pos + 4 <= len(area):
            sig, length = area[pos : pos + 2], area[pos + 2]
            if length < 4 or pos + length > len(area):
                if area[pos:].strip(b"\x00"):
                    b.problems.append(f"Rock Ridge entry {sig!r} at offset {pos} has length {length}, past the "
                                      f"end of its {len(area)}-byte area")
                break
            e = area[pos : pos + length]
            if sig == b"ST":
                break
            if sig == b"CE" and length >= 28:
                nxt = (_u32(e, 4), _u32(e, 12), _u32(e, 20))
            else:
                b.entry(sig, e)
            pos += length
        if nxt is None:
            break
        block, offset, length = nxt
        if (block, offset) in seen:
            b.problems.append(f"Rock Ridge continuation area (block {block}, offset {offset}) is chained twice: "
                              "not followed again")
            break
        if len(seen) >= MAX_CONTINUATIONS or total + length > MAX_SUSP_BYTES:
            b.problems.append(f"Rock Ridge continuation chain longer than {MAX_CONTINUATIONS} areas or "
                              f"{MAX_SUSP_BYTES} bytes: the rest is not read")
            break
        seen.add((block, offset))
        area = read_area(block, offset, length)
        if len(area) < length:
            b.problems.append(f"Rock Ridge continuation area at block {block} (+{offset}, {length} bytes) "
                              "lies past the end of the image")
        total += length
    return b.build()
