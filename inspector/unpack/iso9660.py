"""ISO 9660 (ECMA-119) volume descriptors and directory records, read straight from the image.

This module only parses: the volume descriptor set (primary, Joliet and ISO 9660:1999 enhanced
supplementary descriptors, the El Torito boot record, and the UDF volume recognition sequence that may
follow them) and the directory records of one directory extent. Walking the tree is
``iso9660_walk``'s job; Rock Ridge is ``iso9660_rr``'s.
"""

from __future__ import annotations

import calendar
import functools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from inspector.model import direct_init

SECTOR = 2048
#: The volume descriptor set starts at sector 16; real images have 2 to 6 descriptors, plus the UDF
#: recognition sequence (3 or so). Scanning stops at the first sector that is neither.
FIRST_DESCRIPTOR = 16
MAX_DESCRIPTORS = 64
#: Largest directory extent read (a real directory of 100,000 long-named files is about 25 MiB).
MAX_DIRECTORY_BYTES = 64 * 1024 * 1024
_READ_CHUNK = 256 * 1024

FLAG_HIDDEN = 0x01
FLAG_DIRECTORY = 0x02
FLAG_ASSOCIATED = 0x04
FLAG_MULTI_EXTENT = 0x80

_UDF_IDS = (b"BEA01", b"NSR02", b"NSR03", b"TEA01", b"BOOT2", b"CDW02")
_JOLIET_ESCAPES = {b"%/@": 1, b"%/C": 2, b"%/E": 3}


class IsoFormatError(Exception):
    """A structure of the volume is not what ECMA-119 says (the message is a plain reason)."""


@direct_init
@dataclass(frozen=True)
class DirRecord:
    """One directory record as stored: where its data is and what it is called, nothing interpreted."""

    #: Byte offset of the record in the image (for messages).
    offset: int
    extent: int
    data_length: int
    flags: int
    unit_size: int
    gap_size: int
    recorded: float | None
    identifier: bytes
    system_use: bytes

    @property
    def is_dir(self) -> bool:
        """The directory flag."""
        return bool(self.flags & FLAG_DIRECTORY)

    @property
    def continues(self) -> bool:
        """The multi-extent flag: the file goes on in the next record of the same name."""
        return bool(self.flags & FLAG_MULTI_EXTENT)

    @property
    def is_associated(self) -> bool:
        """An associated file (a Macintosh resource fork and the like), not a member of its own."""
        return bool(self.flags & FLAG_ASSOCIATED)

    @property
    def is_self_or_parent(self) -> bool:
        """The ``.`` (0x00) and ``..`` (0x01) records every directory starts with."""
        return self.identifier in (b"\x00", b"\x01")


@dataclass(frozen=True)
class VolumeDescriptor:
    """A primary or supplementary volume descriptor: one name tree over the image's data."""

    #: ``primary``, ``joliet``, ``enhanced`` (ISO 9660:1999) or ``supplementary`` (another SVD).
    kind: str
    sector: int
    block_size: int
    space_blocks: int
    root: DirRecord
    volume_id: str
    application_id: str


@dataclass(frozen=True)
class Volume:
    """What the descriptor set holds: the name trees, the El Torito catalog and whether UDF follows."""

    descriptors: tuple[VolumeDescriptor, ...]
    boot_catalog: int | None
    has_udf: bool
    #: Why each descriptor that could not be used was skipped (its tree is not read): said, never silent.
    unusable: tuple[str, ...] = ()

    def first(self, kind: str) -> VolumeDescriptor | None:
        """The first descriptor of ``kind`` (``primary``, ``joliet``, ``enhanced``), or None."""
        return next((d for d in self.descriptors if d.kind == kind), None)


@functools.lru_cache(maxsize=4096)
def record_time(raw: bytes) -> float | None:
    """Seconds since the epoch of a 7-byte directory-record date (ECMA-119 9.1.5), or None if unset.

    Remembered by value: the files of one disc share a handful of dates, and ``calendar.timegm`` was a
    few percent of walking a disc of 100,000 small files.
    """
    if len(raw) < 7 or raw[1] == 0:
        return None
    offset = struct.unpack("b", raw[6:7])[0]
    try:
        secs = calendar.timegm((1900 + raw[0], raw[1], raw[2], raw[3], raw[4], raw[5]))
    except (ValueError, OverflowError):
        return None
    return float(secs - offset * 15 * 60)


#: A directory record's extent and data length (little-endian halves of the both-endian fields).
_EXTENT_AND_LENGTH = struct.Struct("<I4xI")


def parse_record(buf: bytes | memoryview, pos: int, base: int) -> DirRecord:
    """The directory record at ``buf[pos:]`` (``base`` is ``buf``'s offset in the image).

    Raises ``IsoFormatError`` when the record's own lengths do not fit in it.
    """
    length = buf[pos]
    if length < 34 or pos + length > len(buf):
        raise IsoFormatError(f"directory record at byte {base + pos}: length {length} does not fit")
    ext_len = buf[pos + 1]
    name_len = buf[pos + 32]
    if 33 + name_len > length:
        raise IsoFormatError(f"directory record at byte {base + pos}: name length {name_len} exceeds the "
                             f"record length {length}")
    extent, data_length = _EXTENT_AND_LENGTH.unpack_from(buf, pos + 2)
    su_start = pos + 33 + name_len + (0 if name_len % 2 else 1)
    # By position, in DirRecord's field order (once per record of every directory).
    return DirRecord(base + pos, extent + ext_len, data_length, buf[pos + 25], buf[pos + 26], buf[pos + 27],
                     record_time(bytes(buf[pos + 18 : pos + 25])), bytes(buf[pos + 33 : pos + 33 + name_len]),
                     bytes(buf[su_start : pos + length]) if su_start < pos + length else b"")


def read_directory(stream: BinaryIO, start: int, length: int, problems: list[str]) -> Iterator[DirRecord]:
    """Every record of the directory stored at byte ``start`` (``length`` bytes), in stored order.

    Records never cross a logical sector (ECMA-119 6.8.1.1): a zero length byte means the rest of the
    sector is padding. A record whose lengths do not fit is reported in ``problems`` and the rest of its
    sector skipped; the records after it are still read. The directory is read in bounded chunks.
    """
    done = 0
    while done < length:
        want = min(_READ_CHUNK, length - done)
        stream.seek(start + done)
        chunk = stream.read(want)
        short = len(chunk) < want
        if short:
            problems.append(f"directory data at byte {start + done + len(chunk)} runs past the end of the image")
        view = memoryview(chunk)
        pos = 0
        while pos < len(view):
            if view[pos] == 0:
                pos = (pos // SECTOR + 1) * SECTOR
                continue
            sector_end = min((pos // SECTOR + 1) * SECTOR, len(view))
            try:
                rec = parse_record(view[:sector_end], pos, start + done)
            except IsoFormatError as exc:
                problems.append(str(exc))
                pos = sector_end
                continue
            yield rec
            pos += view[pos]
        if short:
            return
        done += want


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip(" \x00")


def _descriptor(vd: bytes, sector: int) -> VolumeDescriptor | str:
    """The descriptor in sector ``sector``, or why it cannot be used."""
    kind_code, version = vd[0], vd[6]
    if kind_code == 1:
        kind = "primary"
    else:
        escapes = vd[88:120]
        joliet = next((lvl for esc, lvl in _JOLIET_ESCAPES.items() if esc in escapes), None)
        if version == 2 or vd[881] == 2:
            kind = "enhanced"
        elif joliet is not None:
            kind = "joliet"
        else:
            kind = "supplementary"
    block_size = struct.unpack_from("<H", vd, 128)[0]
    what = f"ISO 9660 {kind} volume descriptor (sector {sector})"
    if block_size not in (512, 1024, 2048):
        return f"{what} unusable: logical block size {block_size}; its tree is not read"
    try:
        root = parse_record(vd, 156, sector * SECTOR + 156)
    except IsoFormatError as exc:
        return f"{what} unusable: root {exc}; its tree is not read"
    app = vd[574:702]
    return VolumeDescriptor(
        kind=kind,
        sector=sector,
        block_size=block_size,
        space_blocks=struct.unpack_from("<I", vd, 80)[0],
        root=root,
        volume_id=(vd[40:72].decode("utf-16-be", "replace") if kind == "joliet" else _text(vd[40:72])).strip(),
        application_id="" if app[:1] == b"_" else _text(app),
    )


def read_volume(stream: BinaryIO) -> Volume:
    """The volume descriptor set of an ISO 9660 (or UDF) image.

    Reads at most ``MAX_DESCRIPTORS`` sectors from sector 16, past the ISO terminator, because a UDF
    recognition sequence (``BEA01``/``NSR0x``) may follow it. Raises ``IsoFormatError`` when the image
    has neither a primary descriptor nor UDF.
    """
    descriptors: list[VolumeDescriptor] = []
    unusable: list[str] = []
    boot_catalog = None
    has_udf = False
    for n in range(MAX_DESCRIPTORS):
        sector = FIRST_DESCRIPTOR + n
        stream.seek(sector * SECTOR)
        vd = stream.read(SECTOR)
        if len(vd) < SECTOR:
            break
        ident = vd[1:6]
        if ident in _UDF_IDS:
            has_udf = has_udf or ident in (b"NSR02", b"NSR03")
            continue
        if ident != b"CD001":
            break
        if vd[0] == 0 and vd[7:30] == b"EL TORITO SPECIFICATION":
            boot_catalog = struct.unpack_from("<I", vd, 0x47)[0]
        elif vd[0] in (1, 2):
            d = _descriptor(vd, sector)
            if isinstance(d, str):
                unusable.append(d)
            else:
                descriptors.append(d)
    if not any(d.kind == "primary" for d in descriptors) and not has_udf:
        raise IsoFormatError("; ".join(unusable) if unusable else "no primary volume descriptor (and no UDF)")
    return Volume(descriptors=tuple(descriptors), boot_catalog=boot_catalog, has_udf=has_udf,
                  unusable=tuple(unusable))
