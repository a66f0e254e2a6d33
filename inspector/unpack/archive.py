"""Archive formats read through libarchive: tar (all variants), ar (incl. .deb), cpio, RPM, 7z, CAB, RAR, XAR.

libarchive reads each of these front to back from a stream, so members are produced in storage order
and their data is streamed block by block, never extracted. The format is fixed from our own sniffing
(libarchive's own bidding would also accept a vmtar as tar, which it misreads).
"""

from __future__ import annotations

import ctypes
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import libarchive
import libarchive.exception

from inspector.limits import Unsupported, WalkError
from inspector.model import EntryKind
from inspector.names import checked_member_path, member_path
from inspector.streams import CHUNK
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext

# libarchive-c logs libarchive's warnings ("Skipped 1 bytes before finding valid header") through the
# logging module, which would print them on stderr as stray lines outside our one-line problem format.
logging.getLogger("libarchive").setLevel(logging.ERROR)

TAR_MAGICS = (b"ustar\x0000", b"ustar  \x00", b"ustar\x00")
VMTAR_MAGIC = b"visor  \x00"


class _EntryReader(io.RawIOBase):
    """The current entry's data, read by libarchive straight into the caller's buffer (no copies).

    libarchive-c's ``get_blocks`` copies every 4 KiB page into a new bytes object; reading into our
    1 MiB buffers instead cuts the per-byte Python overhead by two orders of magnitude.
    """

    def __init__(self, archive_p: object, guard: _GuardedReader | None = None) -> None:
        super().__init__()
        self._archive_p = archive_p
        self._guard = guard

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        n = len(view)
        if n == 0:
            return 0
        cbuf = (ctypes.c_char * n).from_buffer(view)
        try:
            return int(libarchive.ffi.read_data(self._archive_p, cbuf, n))
        except libarchive.exception.ArchiveError as exc:
            if self._guard is not None and self._guard.error is not None:
                raise self._guard.error from None  # the stream under the archive failed: its reason
            raise FormatError(f"corrupt member data: {getattr(exc, 'msg', None) or exc}") from None


class _GuardedReader(io.RawIOBase):
    """Keeps exceptions out of libarchive's C read callback (ctypes would print a traceback and carry on).

    The exception is stored, libarchive sees a read error, and the handler re-raises the original.
    """

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return -1
        try:
            return self._src.readinto(b) or 0  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 - re-raised by the handler
            self.error = exc
            return -1


def tar_checksum_ok(head: bytes) -> bool:
    """True when the first 512 bytes are a tar header with a valid checksum (v7, ustar or GNU)."""
    if len(head) < 512 or head[:1] == b"\x00":
        return False
    field = head[148:156].replace(b"\x00", b" ").strip()
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    header = head[:148] + b" " * 8 + head[156:512]
    return stored in (sum(header), sum(b - 256 if b > 127 else b for b in header))


def _kind(entry: libarchive.ArchiveEntry) -> EntryKind:
    if entry.islnk:
        return EntryKind.HARDLINK
    if entry.issym:
        return EntryKind.SYMLINK
    if entry.isdir:
        return EntryKind.DIR
    if entry.ischr or entry.isblk:
        return EntryKind.DEVICE
    if entry.isfifo or entry.issock:
        return EntryKind.OTHER
    return EntryKind.FILE  # regular files, and ar members with mode 0 (VMware VIBs)


@dataclass
class LibarchiveHandler:
    """One libarchive format, selected by our own magic test."""

    name: str
    format_name: str
    filter_name: str = "none"

    needs_seekable: bool = False

    def match(self, info: SniffInfo) -> bool:
        h = info.head
        if self.name == "tar":
            return h[257:265] != VMTAR_MAGIC and (
                any(h[257 : 257 + len(m)] == m for m in TAR_MAGICS) or tar_checksum_ok(h)
            )
        if self.name == "ar":
            return h.startswith(b"!<arch>\n")
        if self.name == "cpio":
            return h[:6] in (b"070701", b"070702", b"070707") or h[:2] in (b"\xc7\x71", b"\x71\xc7")
        if self.name == "rpm":
            return h.startswith(b"\xed\xab\xee\xdb")
        if self.name == "7z":
            return h.startswith(b"7z\xbc\xaf\x27\x1c")
        if self.name == "cab":
            return h.startswith(b"MSCF\x00\x00\x00\x00")
        if self.name == "rar":
            return h.startswith(b"Rar!\x1a\x07")
        if self.name == "xar":
            return h.startswith(b"xar!")
        return False

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        guard = _GuardedReader(stream)
        src: BinaryIO = stream if self.needs_seekable else guard  # type: ignore[assignment]
        try:
            with libarchive.stream_reader(
                src, format_name=self.format_name, filter_name=self.filter_name, block_size=CHUNK
            ) as archive:
                for entry in archive:
                    kind = _kind(entry)
                    size = entry.size
                    raw_name = entry.pathname
                    if raw_name is None:
                        raise FormatError("member without a name")
                    if self.name == "ar" and raw_name in ("/", "//", "/SYM64/"):
                        continue  # the symbol index and the GNU long-name table: format-internal, as `ar t` shows
                    link = entry.linkpath if kind in (EntryKind.SYMLINK, EntryKind.HARDLINK) else None
                    if kind is EntryKind.HARDLINK:
                        link = member_path(link) if link else link  # a hard link names another member
                        if size:
                            # cpio stores a hard-linked file's data with its last link (the earlier links
                            # are empty): this entry carries the content, so it is a file.
                            kind = EntryKind.FILE
                    yield Member(
                        name=checked_member_path(raw_name, ctx.problem),
                        kind=kind,
                        size=size if kind is EntryKind.FILE else None,
                        mode=(entry.mode & 0o7777) if entry.mode else None,
                        mtime=entry.mtime,
                        link_target=link,
                        open=(lambda: _EntryReader(archive._pointer, guard)) if kind is EntryKind.FILE else None,
                    )
        except libarchive.exception.ArchiveError as exc:
            if guard.error is not None:
                raise guard.error from None
            msg = str(getattr(exc, "msg", "") or exc)
            if "passphrase" in msg.lower() or "encrypt" in msg.lower():
                raise Unsupported(f"encrypted {self.name} member: {msg}") from None
            if "Unsupported" in msg or "not supported" in msg:
                raise Unsupported(f"{self.name}: {msg}") from None
            raise FormatError(f"{self.name}: {msg}") from None
        except WalkError:
            raise
        if guard.error is not None:
            raise guard.error


TAR = LibarchiveHandler("tar", "tar")
AR = LibarchiveHandler("ar", "ar")
CPIO = LibarchiveHandler("cpio", "cpio")
# libarchive reads RPM as a filter (lead + header stripped) in front of a compressed cpio payload.
RPM = LibarchiveHandler("rpm", "cpio", "all")
# 7z keeps its headers at the end of the file: libarchive needs to seek.
SEVENZIP = LibarchiveHandler("7z", "7zip", needs_seekable=True)
CAB = LibarchiveHandler("cab", "cab")
RAR = LibarchiveHandler("rar", "rar")
XAR = LibarchiveHandler("xar", "xar", "all")
