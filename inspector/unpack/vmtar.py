"""vmtar ("visor tar"), the payload format inside ESXi 5+ VIBs and installer modules (``s.v00`` ...).

The headers look like GNU tar (magic ``visor  \\0`` instead of ``ustar  \\0`` at 257), but every header
comes first, then one zero block, then the file data at the 512-aligned absolute offset stored as a
little-endian u32 at header byte 496 (see formats.md §3). Plain tar readers skip ``size`` bytes after
each header and silently return header bytes as content, so a vmtar must never reach them.

This reader never seeks: it reads all headers up to the zero block (keeping only small parsed records),
then walks forward through the data region in header order. That works on a gzip/xz/zstd stream. A
header whose offset is 0 has its data inline right after the header (ustar layout, written by some
community tools). Offsets that point backwards, overlap the previous member or run past the end, and
headers with a bad checksum, are reported against the member; the other members are still read.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from inspector.model import EntryKind
from inspector.names import member_path
from inspector.streams import CHUNK
from inspector.unpack.base import ExactSlice, FormatError, Member, SniffInfo, UnpackContext

MAGIC = b"visor  \x00"
BLOCK = 512
#: Longest GNU long-name record read inline (``L``/``K`` typeflags).
MAX_LONGNAME = 64 * 1024

_KINDS = {
    b"0": EntryKind.FILE, b"\x00": EntryKind.FILE, b"7": EntryKind.FILE,
    b"1": EntryKind.HARDLINK, b"2": EntryKind.SYMLINK, b"3": EntryKind.DEVICE, b"4": EntryKind.DEVICE,
    b"5": EntryKind.DIR, b"6": EntryKind.OTHER,
}


@dataclass(frozen=True)
class VmtarHeader:
    """One parsed 512-byte vmtar header (``index`` counts headers from 0, ``offset`` is field 496)."""

    index: int
    name: str
    kind: EntryKind
    typeflag: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str
    offset: int
    extra: tuple[int, int, int]  # fields at 500, 504, 508 (textoffset, textsize, fixup pages)
    checksum_error: str | None


def is_vmtar(head: bytes) -> bool:
    """True when ``head`` starts with a vmtar header (the visor magic at 257)."""
    return head[257:265] == MAGIC


def _octal(field: bytes, what: str, name: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise FormatError(f"{name}: vmtar header field {what} is not octal ({field!r})") from None


def _cstr(field: bytes) -> bytes:
    return field.split(b"\x00", 1)[0]


def checksum_problem(block: bytes) -> str | None:
    """None when the header checksum (GNU style, field counted as spaces) is right, else the reason."""
    text = _cstr(block[148:156]).strip(b" ")
    try:
        stored = int(text, 8)
    except ValueError:
        return f"header checksum field is not octal ({block[148:156]!r})"
    body = block[:148] + b" " * 8 + block[156:BLOCK]
    unsigned = sum(body)
    signed = sum(b - 256 if b > 127 else b for b in body)
    if stored in (unsigned, signed):
        return None
    return f"header checksum mismatch (stored {stored:o}, computed {unsigned:o})"


def parse_header(block: bytes, index: int, long_name: str | None = None, long_link: str | None = None) -> VmtarHeader:
    """Parse one 512-byte header; raise FormatError for fields that cannot be read at all."""
    raw_name = _cstr(block[0:100])
    prefix = _cstr(block[345:496])
    if prefix:
        raw_name = prefix + b"/" + raw_name
    name = long_name if long_name is not None else member_path(raw_name)
    where = name or f"header #{index}"
    typeflag = block[156:157]
    kind = _KINDS.get(typeflag, EntryKind.OTHER)
    if kind is EntryKind.FILE and raw_name.endswith(b"/") and long_name is None:
        kind = EntryKind.DIR  # old tars mark directories by the trailing slash only
    offset, textoff, textsize, fixups = struct.unpack_from("<4I", block, 496)
    return VmtarHeader(
        index=index,
        name=name,
        kind=kind,
        typeflag=typeflag,
        mode=_octal(block[100:108], "mode", where) & 0o7777,
        uid=_octal(block[108:116], "uid", where),
        gid=_octal(block[116:124], "gid", where),
        size=_octal(block[124:136], "size", where),
        mtime=_octal(block[136:148], "mtime", where),
        link=long_link if long_link is not None else member_path(_cstr(block[157:257])) if block[157] else "",
        offset=offset,
        extra=(textoff, textsize, fixups),
        checksum_error=checksum_problem(block),
    )


class _Source:
    """Forward-only reader over the vmtar stream that counts its position."""

    def __init__(self, stream: BinaryIO) -> None:
        self._s = stream
        self.pos = 0

    def read(self, n: int) -> bytes:
        parts = []
        want = n
        while want > 0:
            chunk = self._s.read(min(want, CHUNK))
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> int:
        """Read and discard ``n`` bytes; return how many were actually there."""
        done = 0
        while done < n:
            chunk = self._s.read(min(n - done, CHUNK))
            if not chunk:
                break
            done += len(chunk)
        self.pos += done
        return done


class _Window(ExactSlice):
    """The next ``size`` bytes of the source as a stream; a short source is a clear error."""

    def __init__(self, src: _Source, size: int, name: str, start: int) -> None:
        super().__init__(
            src,  # type: ignore[arg-type]
            size,
            lambda _missing: f"data runs past the end of the archive (needs bytes up to {start + size}, "
            f"archive ends at {src.pos})",
        )
        self._source = src  # the same stream, with its skip()
        self._name = name

    def finish(self) -> bool:
        """Skip what the consumer left unread; False when the archive ended first."""
        if self.remaining > 0:
            got = self._source.skip(self.remaining)
            short = got < self.remaining
            self.remaining = 0
            return not short
        return True


def _failing(reason: str) -> BinaryIO:
    raise FormatError(reason)


class VmtarHandler:
    """Streaming vmtar reader (registered before tar: the two share the header layout)."""

    name = "vmtar"
    needs_seekable = False

    def match(self, info: SniffInfo) -> bool:
        """vmtar is recognised by the visor magic at 257 alone (tar's own test excludes it)."""
        return is_vmtar(info.head)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield directories, links and files in header order, file data read forward from the data region."""
        src = _Source(stream)
        max_headers = ctx.budget.limits.max_members
        deferred: list[VmtarHeader] = []  # headers waiting for the data region, in header order
        inline = region = 0
        index = 0
        long_name: str | None = None
        long_link: str | None = None
        while True:
            block = src.read(BLOCK)
            if len(block) < BLOCK:
                raise FormatError(
                    f"vmtar ends inside the header area after {index} headers (no zero block)"
                    if block or index else "empty vmtar"
                )
            if not block.strip(b"\x00"):
                break
            if index >= max_headers:
                raise FormatError(f"more than {max_headers} vmtar headers (--max-members)")
            if block[257:262] != b"visor" and block[257:262] != b"ustar":
                raise FormatError(f"header #{index} at byte {src.pos - BLOCK} has no visor magic (corrupt header area)")
            typeflag = block[156:157]
            if typeflag in (b"L", b"K"):
                text = self._long_name(src, block, index)
                long_name, long_link = (text, long_link) if typeflag == b"L" else (long_name, text)
                index += 1
                continue
            hdr = parse_header(block, index, long_name, long_link)
            long_name = long_link = None
            index += 1
            if hdr.kind is EntryKind.FILE and hdr.size > 0 and hdr.offset == 0 and hdr.checksum_error is None:
                # Inline data (ustar layout): everything before it that needs no data can go out now.
                inline += 1
                yield from self._flush_dataless(deferred)
                yield from self._inline(src, hdr, ctx)
                continue
            deferred.append(hdr)
        ctx.meta["headers"] = index
        data_start = src.pos
        last = [data_start]  # data offset of the previous member read from the region
        for hdr in deferred:
            if hdr.kind is EntryKind.FILE and hdr.size > 0 and hdr.checksum_error is None:
                region += 1
            yield from self._from_region(src, hdr, ctx, data_start, last)
        ctx.meta["layout"] = "inline" if inline and not region else "mixed" if inline else "data-region"
        self._trailing(src, ctx)

    # -- pieces ---------------------------------------------------------------------------------
    @staticmethod
    def _long_name(src: _Source, block: bytes, index: int) -> str:
        size = _octal(block[124:136], "size", f"header #{index}")
        offset = struct.unpack_from("<I", block, 496)[0]
        if offset or size > MAX_LONGNAME:
            raise FormatError(f"header #{index}: GNU long name stored in the data region or over "
                              f"{MAX_LONGNAME} bytes (unsupported)")
        data = src.read(size)
        src.skip(-size % BLOCK)
        if len(data) < size:
            raise FormatError(f"header #{index}: vmtar ends inside a GNU long name")
        return member_path(_cstr(data))

    @staticmethod
    def _member(hdr: VmtarHeader, opener: object) -> Member:
        meta: dict[str, object] = {}
        if any(hdr.extra):
            meta["vmtar_extra"] = {"textoffset": hdr.extra[0], "textsize": hdr.extra[1], "fixuppgs": hdr.extra[2]}
        if hdr.uid or hdr.gid:
            meta["uid"], meta["gid"] = hdr.uid, hdr.gid
        return Member(
            name=hdr.name,
            kind=hdr.kind,
            size=hdr.size if hdr.kind is EntryKind.FILE else None,
            mode=hdr.mode,
            mtime=float(hdr.mtime),
            link_target=hdr.link or None,
            meta=meta,
            open=opener if hdr.kind is EntryKind.FILE else None,  # type: ignore[arg-type]
        )

    def _flush_dataless(self, deferred: list[VmtarHeader]) -> Iterator[Member]:
        keep = []
        for hdr in deferred:
            if hdr.kind is EntryKind.FILE and hdr.size > 0:
                keep.append(hdr)
            else:
                yield self._dataless(hdr)
        deferred[:] = keep

    def _dataless(self, hdr: VmtarHeader) -> Member:
        if hdr.checksum_error and hdr.kind is EntryKind.FILE:
            reason = f"{hdr.checksum_error}; content not read"
            return self._member(hdr, lambda: _failing(reason))
        return self._member(hdr, lambda: io.BytesIO(b""))

    def _inline(self, src: _Source, hdr: VmtarHeader, ctx: UnpackContext) -> Iterator[Member]:
        window = _Window(src, hdr.size, hdr.name, src.pos)
        yield self._member(hdr, lambda: window)
        complete = window.finish()
        src.skip(-hdr.size % BLOCK)
        if not complete:
            raise FormatError(f"{hdr.name}: inline data runs past the end of the archive")

    def _from_region(
        self, src: _Source, hdr: VmtarHeader, ctx: UnpackContext, data_start: int, last: list[int]
    ) -> Iterator[Member]:
        if hdr.checksum_error:
            if hdr.kind is not EntryKind.FILE:
                ctx.problem(hdr.name, hdr.checksum_error, "error")
            yield self._dataless(hdr)
            return
        if hdr.kind is not EntryKind.FILE or hdr.size == 0:
            yield self._dataless(hdr)
            return
        start = hdr.offset
        if start < src.pos:
            if start < data_start:
                what = f"points back into the header area (data starts at {data_start})"
            elif start < last[0]:
                what = f"points backwards (before the previous member's data at {last[0]})"
            else:
                what = f"overlaps the previous member's data (which ends at {src.pos})"
            reason = f"data offset {start} {what}; content not read"
            yield self._member(hdr, lambda: _failing(reason))
            return
        last[0] = start
        gap = start - src.pos
        if src.skip(gap) < gap:
            reason = f"data offset {start} is past the end of the archive ({src.pos} bytes)"
            yield self._member(hdr, lambda: _failing(reason))
            return
        window = _Window(src, hdr.size, hdr.name, start)
        yield self._member(hdr, lambda: window)
        window.finish()

    @staticmethod
    def _trailing(src: _Source, ctx: UnpackContext) -> None:
        """Count what follows the last member's data (zero padding is normal; anything else is noted)."""
        total = nonzero = 0
        while True:
            chunk = src.read(CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if chunk.strip(b"\x00"):
                nonzero += 1
        if total:
            ctx.meta["trailing_bytes"] = total
            if nonzero:
                ctx.problem(None, f"{total} bytes after the last member's data (not zero padding)", "warning")
