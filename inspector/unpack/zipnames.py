"""ZIP member names that claim UTF-8 (general-purpose flag bit 11) but are not valid UTF-8.

Python's zipfile decodes such a name strictly while it reads the central directory, so one bad name
makes the whole archive unreadable and every good member is lost. This module finds those entries in
the central directory and presents the archive to zipfile with bit 11 cleared for them alone (in the
central record and in the local header, which zipfile compares), through a read-only view of the
input: zipfile then decodes those names as CP437, from which the stored bytes are recovered exactly.
The input itself is never modified.

Layouts from PKWARE's APPNOTE 6.3.10: end of central directory (4.3.16), ZIP64 locator and record
(4.3.14-15), central directory header (4.3.12), local file header (4.3.7), ZIP64 extra field (4.5.3).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

#: Bit 11 of the general-purpose flags: the name and comment are UTF-8. Its byte is the flags' second.
UTF8_FLAG = 0x800
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
#: The end record is 22 bytes plus a comment of at most 65,535.
_TAIL = 22 + 0xFFFF
#: Central directories larger than this are not scanned for bad names (the archive stays unreadable).
MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024


@dataclass(frozen=True)
class BadNames:
    """Where bit 11 must be cleared so zipfile reads the archive, and the raw names concerned.

    ``flag_bytes`` are absolute offsets of the flag field's high byte (central and local records);
    ``raw_by_offset`` maps each affected member's local header offset to its stored name bytes.
    """

    flag_bytes: frozenset[int]
    raw_by_offset: dict[int, bytes]


def find_bad_utf8_names(fh: BinaryIO) -> BadNames | None:
    """The central-directory entries whose name is flagged UTF-8 but does not decode, or None.

    None also when the central directory cannot be located or parsed: the caller then reports the
    archive as unreadable, as before.
    """
    located = _central_directory(fh)
    if located is None:
        return None
    offset, size = located
    if size > MAX_CENTRAL_DIRECTORY:
        return None
    fh.seek(offset)
    cd = fh.read(size)
    flags: set[int] = set()
    raw: dict[int, bytes] = {}
    pos = 0
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == _CENTRAL:
        flag_bits, = struct.unpack_from("<H", cd, pos + 8)
        n, m, k = struct.unpack_from("<HHH", cd, pos + 28)
        local, = struct.unpack_from("<I", cd, pos + 42)
        name = cd[pos + 46 : pos + 46 + n]
        extra = cd[pos + 46 + n : pos + 46 + n + m]
        if flag_bits & UTF8_FLAG and not _is_utf8(name):
            if local == 0xFFFFFFFF:
                local = _zip64_local_offset(extra, cd, pos)
            flags.add(offset + pos + 9)
            flags.add(local + 7)
            raw[local] = name
        pos += 46 + n + m + k
    if not raw:
        return None
    return BadNames(frozenset(flags), raw)


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _zip64_local_offset(extra: bytes, cd: bytes, pos: int) -> int:
    """The local header offset from a ZIP64 extra field (it follows the sizes that overflowed)."""
    csize, usize = struct.unpack_from("<II", cd, pos + 20)
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, i)
        body = extra[i + 4 : i + 4 + length]
        if tag == 0x0001:
            field = 0
            if usize == 0xFFFFFFFF:
                field += 8
            if csize == 0xFFFFFFFF:
                field += 8
            if len(body) >= field + 8:
                return int(struct.unpack_from("<Q", body, field)[0])
        i += 4 + length
    return -1


def _central_directory(fh: BinaryIO) -> tuple[int, int] | None:
    """(offset, size) of the central directory from the end records, or None."""
    end = fh.seek(0, io.SEEK_END)
    start = max(0, end - _TAIL)
    fh.seek(start)
    tail = fh.read(end - start)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        return None
    size, offset = struct.unpack_from("<II", tail, at + 12)
    if (size == 0xFFFFFFFF or offset == 0xFFFFFFFF) and at >= 20 and tail[at - 20 : at - 16] == _ZIP64_LOCATOR:
        record, = struct.unpack_from("<Q", tail, at - 20 + 8)
        fh.seek(record)
        z = fh.read(56)
        if len(z) < 56 or z[:4] != _ZIP64_EOCD:
            return None
        size, offset = struct.unpack_from("<QQ", z, 40)
    if offset + size > end:
        return None
    return offset, size


class FlagClearingView(io.RawIOBase):
    """A read-only, seekable view of ``fh`` in which bit 11 is cleared at the given flag bytes."""

    def __init__(self, fh: BinaryIO, flag_bytes: frozenset[int]) -> None:
        super().__init__()
        self._fh = fh
        self._flags = sorted(flag_bytes)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        return self._fh.seek(pos, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        start = self._fh.tell()
        data = self._fh.read(len(b))
        n = len(data)
        view = memoryview(b)
        view[:n] = data
        for at in self._flags:
            if start <= at < start + n:
                view[at - start] &= ~(UTF8_FLAG >> 8) & 0xFF
        return n


def recovered_name(decoded_cp437: str) -> bytes:
    """The stored name bytes of an entry zipfile decoded as CP437 after bit 11 was cleared."""
    return decoded_cp437.encode("cp437")
