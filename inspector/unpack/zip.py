"""ZIP archives (vendor patch bundles, ESXi depots, nested metadata.zip) through Python's zipfile.

zipfile reads the central directory, which is authoritative (the local headers a streaming reader
follows may disagree with it), supports ZIP64, and reports each member's compressed size: the stored
footprint of a bundle is the point of this tool. It needs a seekable input; the walker spools a nested
ZIP to a bounded temporary file.
"""

from __future__ import annotations

import calendar
import io
import stat
import struct
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, cast

from inspector.hardening import zip_overlap
from inspector.limits import Unsupported
from inspector.model import EntryKind, ProblemKind
from inspector.names import checked_member_path, display_name
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext
from inspector.unpack.zipnames import FlagClearingView, find_bad_utf8_names

_METHODS = {0: "stored", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz", 99: "aes"}


class _SafeZipExtFile:
    """Turns zipfile's read-time errors (bad CRC, bad data) into FormatError with a plain reason.

    zipfile stops at the end of the member's compressed data whatever size the headers declare; at that
    end the bytes produced are compared with the declared uncompressed size (a ZIP64 extra field may
    declare 2^63 bytes for 1,000), and a difference is reported through ``report``.
    """

    def __init__(self, inner: BinaryIO, info: zipfile.ZipInfo, report: Callable[[str], None]) -> None:
        self._inner = inner
        self._info = info
        self._report = report
        self._produced = 0
        self._checked = False

    def readinto(self, b: bytearray | memoryview) -> int:
        try:
            data = self._inner.read(len(b))
        except zipfile.BadZipFile as exc:
            raise FormatError(str(exc)) from None
        except (EOFError, OSError, ValueError) as exc:
            raise FormatError(f"corrupt data: {exc}") from None
        memoryview(b)[: len(data)] = data
        self._produced += len(data)
        if not data and len(b) and not self._checked:
            self._checked = True
            if self._produced != self._info.file_size:
                declared = "ZIP64 extra field" if self._info.file_size >= 0xFFFFFFFF else "header"
                self._report(f"{declared} declares an uncompressed size of {self._info.file_size:,} bytes but the "
                             f"member's data holds {self._produced:,}")
        return len(data)

    def read(self, n: int = -1) -> bytes:
        buf = bytearray(n if n >= 0 else 1 << 20)
        got = self.readinto(buf)
        return bytes(buf[:got])


class ZipHandler:
    name = "zip"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        return info.head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        raw_names: dict[int, bytes] = {}
        try:
            zf = zipfile.ZipFile(stream)
        except UnicodeDecodeError:
            # A name flagged UTF-8 is not UTF-8: read the archive with those names taken as stored bytes.
            bad = find_bad_utf8_names(stream)
            if bad is None:
                raise FormatError("not a readable ZIP: a member name flagged UTF-8 is not valid UTF-8") from None
            raw_names = bad.raw_by_offset
            try:
                zf = zipfile.ZipFile(cast(BinaryIO, FlagClearingView(stream, bad.flag_bytes)))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
                raise FormatError(f"not a readable ZIP: {exc}") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise FormatError(f"not a readable ZIP: {exc}") from None
        with zf:
            overlap = zip_overlap(zf.infolist())
            if overlap is not None:
                first, second = (display_name(i.orig_filename) for i in overlap)
                raise FormatError(f"overlapping ZIP entries (zip bomb?): '{second}' starts inside '{first}'; "
                                  "no member read")
            if zf.comment:
                ctx.meta["comment"] = zf.comment[:200].decode("utf-8", "replace")
            for info in zf.infolist():
                yield self._member(zf, info, ctx, stream, raw_names.get(info.header_offset))

    def _member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, ctx: UnpackContext, stream: BinaryIO,
                raw_name: bytes | None) -> Member:
        unix_mode = info.external_attr >> 16 if info.create_system == 3 else 0
        if info.is_dir():
            kind = EntryKind.DIR
        elif stat.S_ISLNK(unix_mode):
            kind = EntryKind.SYMLINK
        else:
            kind = EntryKind.FILE
        link = None
        if kind is EntryKind.SYMLINK and info.file_size <= 4096:
            try:
                link = zf.read(info).decode("utf-8", "backslashreplace")
            except Exception:  # noqa: BLE001 - a broken link target is shown as unknown
                link = None
        meta: dict[str, Any] = {"method": _METHODS.get(info.compress_type, str(info.compress_type))}
        stored_name: str | bytes = info.orig_filename
        if raw_name is not None:
            stored_name = raw_name
            # The stored bytes, for a reviewer; checked_member_path reports the invalid UTF-8 as unsafe.
            meta["raw_name"] = raw_name.hex()
        try:
            mtime: float | None = float(calendar.timegm((*info.date_time, 0, 0, 0)))
        except (ValueError, OverflowError):
            mtime = None

        opened: list[Any] = []

        def opener() -> BinaryIO:
            if info.flag_bits & 0x1:
                raise Unsupported("encrypted ZIP member (no password)")
            if _empty_and_sound(stream, info):
                return io.BytesIO(b"")
            try:
                opened.append(zf.open(info))
                return _SafeZipExtFile(opened[-1], info, report)  # type: ignore[return-value]
            except NotImplementedError as exc:
                raise Unsupported(f"ZIP compression method {meta['method']}: {exc}") from None
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise FormatError(str(exc)) from None

        name = checked_member_path(stored_name, ctx)

        def report(reason: str) -> None:
            ctx.problem(name, reason, ProblemKind.MISMATCH)

        return Member(
            name=name,
            kind=kind,
            size=info.file_size if kind is EntryKind.FILE else None,
            stored_size=info.compress_size if kind is EntryKind.FILE else None,
            mode=(unix_mode & 0o7777) or None,
            mtime=mtime,
            link_target=link,
            meta=meta,
            open=opener if kind is EntryKind.FILE else None,
            compressed_progress=(lambda: _compressed_read(info, opened)) if kind is EntryKind.FILE else None,
        )


def _empty_and_sound(stream: BinaryIO, info: zipfile.ZipInfo) -> bool:
    """True for a stored empty member whose local header checks out (signature, name): nothing to inflate.

    ``zipfile.ZipFile.open`` makes five objects per member to read zero bytes; a ZIP of 300,000 empty
    members spent most of its time there. Anything unusual (flags, a name that differs) returns False,
    and ``zipfile`` then reads the member and reports what is wrong in its own words.
    """
    if info.file_size or info.compress_size or info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x61:
        return False
    stream.seek(info.header_offset)
    header = stream.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        return False
    signature, flags, name_length = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        return False
    raw = stream.read(name_length)
    try:
        name = raw.decode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeDecodeError:
        return False
    return name == info.orig_filename


#: The parts of a ZIP local file header (APPNOTE 4.3.7) the empty-member check reads.
_LOCAL_HEADER = struct.Struct("<4s2xH18xH2x")


def _compressed_read(info: zipfile.ZipInfo, opened: list[Any]) -> int:
    """Compressed bytes of ``info`` consumed so far, so the ratio limit trips early in a zip bomb."""
    ext = opened[-1] if opened else None
    left = getattr(ext, "_compress_left", None)
    if left is None:
        return info.compress_size
    # zipfile reads compressed input ahead; what zlib has not consumed yet waits in unconsumed_tail.
    pending = len(getattr(getattr(ext, "_decompressor", None), "unconsumed_tail", b"") or b"")
    return max(info.compress_size - left - pending, 0)
