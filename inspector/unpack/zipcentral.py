"""A ZIP's end records and central directory, read as a stream of records in bounded chunks.

Python's zipfile builds a ``ZipInfo`` object and a name-dict entry for every member before the first one
is read (about 0.7 KB each: a ZIP of 1,000,000 empty members needed 690 MB, and a depot check read the
directory twice). Here ``records`` reads the central directory 1 MiB at a time and yields one
``CentralRecord`` at a time, so memory grows neither with the archive nor with the number of members.

Layouts are PKWARE's APPNOTE 6.3.10: end of central directory (4.3.16), ZIP64 end record and locator
(4.3.14-15), central directory header (4.3.12), ZIP64 extended information extra field (4.5.3). Where
the APPNOTE leaves room, the choices are zipfile's, which the tests were first written against: the end
record is the last signature in the final 64 KiB + 22 bytes; a ZIP64 end record is the 56 bytes right
before its locator; bytes prepended to the archive (a self-extracting stub) shift every offset by the
difference between where the directory is and where the end record says it is; the directory's byte
size, not the end record's entry count, bounds the walk. The reasons raised are zipfile's words.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from struct import Struct
from typing import BinaryIO, NamedTuple

from inspector.unpack.base import FormatError

EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
#: General-purpose flag bit 11: the name is UTF-8.
UTF8_FLAG = 0x800
#: A 32-bit size or offset with this value is in the ZIP64 extra field.
ZIP64_SENTINEL = 0xFFFFFFFF
#: Bytes of central directory read at a time.
CHUNK = 1 << 20

_EOCD = Struct("<4s4H2IH")  # 4.3.16, 22 bytes
_LOCATOR = Struct("<4sIQI")  # 4.3.15, 20 bytes
_ZIP64_EOCD = Struct("<4sQ2H2I4Q")  # 4.3.14, 56 bytes without its extensible data
#: 4.3.12 without the fields nobody reads (versions, disk number, internal attributes): 46 bytes.
_CENTRAL = Struct("<4sxB2xHHHHIIIHHH4xII")
#: The end record is 22 bytes plus a comment of at most 65,535.
_TAIL = _EOCD.size + 0xFFFF


@dataclass(frozen=True)
class Directory:
    """Where the central directory is (``start`` is absolute in the input) and what the end records say.

    ``concat`` is the number of bytes found before the archive proper (a self-extracting stub): every
    offset the archive stores is shifted by it. ``entries`` is the count the end record declares.
    """

    start: int
    size: int
    entries: int
    comment: bytes
    concat: int
    zip64: bool


class CentralRecord(NamedTuple):
    """One central-directory entry, with the ZIP64 extra field already applied.

    ``offset`` is the absolute position of the member's local header in the input; ``name`` the stored
    bytes. A NamedTuple, not a dataclass: one is made per member, and the walk makes a million.
    """

    name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    file_size: int
    offset: int
    external_attr: int
    create_system: int
    dos_time: int
    dos_date: int


def locate(fh: BinaryIO) -> Directory:
    """Find the end of central directory record (and a ZIP64 one), and from them the directory.

    Raises ``FormatError`` when there is none, or when it points before the start of the input.
    """
    filesize = fh.seek(0, io.SEEK_END)
    if filesize < _EOCD.size:
        raise FormatError("File is not a zip file")
    base = max(filesize - _TAIL, 0)
    fh.seek(base)
    tail = fh.read(filesize - base)
    at = len(tail) - _EOCD.size
    if tail[at : at + 4] == EOCD and tail[-2:] == b"\0\0":
        comment = b""
    else:  # an archive comment, or not a ZIP: the last signature in the tail
        at = tail.rfind(EOCD)
        if at < 0 or at + _EOCD.size > len(tail):
            raise FormatError("File is not a zip file")
        comment_length = _EOCD.unpack_from(tail, at)[7]
        comment = tail[at + _EOCD.size : at + _EOCD.size + comment_length]
    _, _, _, _, entries, size, offset, _ = _EOCD.unpack_from(tail, at)
    location = base + at
    zip64 = _zip64_end(fh, location)
    if zip64 is not None:
        entries, size, offset = zip64
    concat = location - size - offset - (_ZIP64_EOCD.size + _LOCATOR.size if zip64 is not None else 0)
    start = offset + concat
    if start < 0:
        raise FormatError("Bad offset for central directory")
    return Directory(start, size, entries, comment, concat, zip64 is not None)


def _zip64_end(fh: BinaryIO, location: int) -> tuple[int, int, int] | None:
    """(entries, directory size, directory offset) from a ZIP64 end record before ``location``, or None."""
    if location < _LOCATOR.size:
        return None
    fh.seek(location - _LOCATOR.size)
    locator = fh.read(_LOCATOR.size)
    if len(locator) != _LOCATOR.size or locator[:4] != ZIP64_LOCATOR:
        return None
    _, disk, _, disks = _LOCATOR.unpack(locator)
    if disk != 0 or disks > 1:
        raise FormatError("zipfiles that span multiple disks are not supported")
    at = location - _LOCATOR.size - _ZIP64_EOCD.size
    if at < 0:
        raise FormatError("File is not a zip file")
    fh.seek(at)
    record = fh.read(_ZIP64_EOCD.size)
    if len(record) != _ZIP64_EOCD.size or record[:4] != ZIP64_EOCD:
        return None
    _, _, _, _, _, _, _, entries, size, offset = _ZIP64_EOCD.unpack(record)
    return entries, size, offset


def records(fh: BinaryIO, directory: Directory) -> Iterator[CentralRecord]:
    """The central directory's records in stored order, read ``CHUNK`` bytes at a time.

    The position in ``fh`` is kept here, so the caller may read members between two records. A record
    that runs past the end of the directory (a truncated archive, a lying size) or that does not start
    with the signature raises ``FormatError``.
    """
    pos, end = directory.start, directory.start + directory.size
    concat = directory.concat
    buf, at = b"", 0
    unpack = _CENTRAL.unpack_from
    while pos - len(buf) + at < end:  # bytes of the directory not yet parsed
        if len(buf) - at < _CENTRAL.size:
            buf, at, pos = _refill(fh, buf, at, pos, end, _CENTRAL.size)
        (sig, system, flags, method, dos_time, dos_date, crc, csize, usize, name_length, extra_length,
         comment_length, external, offset) = unpack(buf, at)
        if sig != CENTRAL:
            raise FormatError("Bad magic number for central directory")
        length = _CENTRAL.size + name_length + extra_length + comment_length
        if len(buf) - at < length:
            buf, at, pos = _refill(fh, buf, at, pos, end, length)
        name_end = at + _CENTRAL.size + name_length
        if usize == ZIP64_SENTINEL or csize == ZIP64_SENTINEL or offset == ZIP64_SENTINEL:
            usize, csize, offset = _zip64_fields(buf[name_end : name_end + extra_length], usize, csize, offset)
        yield CentralRecord(buf[at + _CENTRAL.size : name_end], flags, method, crc, csize, usize, offset + concat,
                            external, system, dos_time, dos_date)
        at += length


def _refill(fh: BinaryIO, buf: bytes, at: int, pos: int, end: int, need: int) -> tuple[bytes, int, int]:
    """``buf[at:]`` followed by more of the directory, at least ``need`` bytes, else ``FormatError``."""
    buf = buf[at:]
    fh.seek(pos)
    while len(buf) < need and pos < end:
        more = fh.read(min(max(CHUNK, need), end - pos))
        if not more:
            break
        pos += len(more)
        buf += more
    if len(buf) < need:
        raise FormatError("Truncated central directory")
    return buf, 0, pos


def _zip64_fields(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """The sizes and offset that overflowed 32 bits, from the ZIP64 extra field (tag 1) that holds them.

    The field lists only the overflowed values, in the order uncompressed size, compressed size, local
    header offset (APPNOTE 4.5.3).
    """
    i = 0
    while i + 4 <= len(extra):
        tag, length = int.from_bytes(extra[i : i + 2], "little"), int.from_bytes(extra[i + 2 : i + 4], "little")
        if i + 4 + length > len(extra):
            raise FormatError(f"Corrupt extra field {tag:04x} (size={length})")
        if tag == 0x0001:
            body, field = extra[i + 4 : i + 4 + length], 0
            values = []
            for name, value in (("File size", usize), ("Compress size", csize), ("Header offset", offset)):
                if value == ZIP64_SENTINEL:
                    if field + 8 > len(body):
                        raise FormatError(f"Corrupt zip64 extra field. {name} not found.")
                    value = int.from_bytes(body[field : field + 8], "little")
                    field += 8
                values.append(value)
            usize, csize, offset = values
        i += 4 + length
    return usize, csize, offset


def stored_name(record: CentralRecord) -> str | bytes:
    """The record's name as text (UTF-8 when flagged, else CP437), or its bytes when flagged UTF-8 but not.

    zipfile refused the whole archive for one such name; kept as bytes, the name is shown escaped and
    every other member is still read.
    """
    raw = record.name
    if raw.isascii():
        return raw.decode("ascii")
    if record.flags & UTF8_FLAG:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    return raw.decode("cp437")


def directory_contains(fh: BinaryIO, directory: Directory, needle: bytes) -> bool:
    """Whether ``needle`` occurs anywhere in the central directory's bytes (one C-speed scan, no records).

    A cheap first test before a pass over the records: a ZIP whose directory never mentions a name
    cannot hold a member of that name.
    """
    pos, end = directory.start, directory.start + directory.size
    keep = b""
    while pos < end:
        fh.seek(pos)
        chunk = fh.read(min(CHUNK, end - pos))
        if not chunk:
            return False
        pos += len(chunk)
        if needle in keep + chunk[: len(needle)] or needle in chunk:
            return True
        keep = chunk[-(len(needle) - 1) :] if len(needle) > 1 else b""
    return False
