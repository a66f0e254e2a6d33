"""Single-stream compression wrappers: gzip, bzip2, xz/lzma and zstd.

Each wrapper is a container with exactly one member, the decompressed payload, named after the gzip
FNAME field where present (ESXi payloads say ``stage.vtar``), else after the wrapper's name without its
suffix (``a.tgz`` -> ``a.tar``). Concatenated streams are decompressed as one payload, as ``gzip -dc``
does; bytes after the last stream (ESXi's 256-byte signature after an xz stream, zero padding) are
reported in the container's metadata, never silently dropped.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import types
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, cast

import zstandard

from inspector.limits import LimitExceeded
from inspector.names import display_name
from inspector.streams import CHUNK, ReadAheadReader
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext, strip_suffix

GZIP_MAGIC = b"\x1f\x8b\x08"
BZIP2_MAGIC = b"BZh"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: Compressed members at least this large are decompressed in a background thread (see ReadAheadReader).
READ_AHEAD_MIN = 1024 * 1024

_SUFFIXES = {
    "gzip": {".tgz": ".tar", ".taz": ".tar", ".gz": "", ".z": "", ".vgz": ".vtar"},
    "bzip2": {".tbz2": ".tar", ".tbz": ".tar", ".bz2": "", ".bz": ""},
    "xz": {".txz": ".tar", ".xz": "", ".lzma": "", ".vxz": ".vtar"},
    "zstd": {".tzst": ".tar", ".zst": "", ".zstd": ""},
}


def gzip_fname(head: bytes) -> str | None:
    """The original file name stored in a gzip header (FNAME), if any and if it fits in ``head``."""
    if len(head) < 10 or not head.startswith(GZIP_MAGIC):
        return None
    flags = head[3]
    if not flags & 0x08:
        return None
    pos = 10
    if flags & 0x04:  # FEXTRA
        if len(head) < pos + 2:
            return None
        (xlen,) = struct.unpack_from("<H", head, pos)
        pos += 2 + xlen
    end = head.find(b"\x00", pos)
    if end < 0:
        return None
    raw = head[pos:end]
    name = raw.decode("latin-1").replace("\\", "/").rsplit("/", 1)[-1]
    return display_name(name) or None  # FNAME is arbitrary bytes: one printable line, like every name


class DecompressReader(io.RawIOBase):
    """Bounded-memory decompression of one or more concatenated streams of one codec.

    ``new_decompressor`` makes a fresh decompressor object with the zlib/bz2/lzma interface
    (``decompress(data, max_length)``, ``eof``, ``unused_data``, ``needs_input``).
    """

    #: ``read`` returns the decompressor's output as it is (see ``streams.ReadAheadReader.hands_out_chunks``).
    hands_out_chunks = True

    def __init__(self, src: BinaryIO, new_decompressor: Callable[[], Any], magic: bytes) -> None:
        super().__init__()
        self._src = src
        self._new = new_decompressor
        self._magic = magic
        self._d = new_decompressor()
        self._input = b""
        self._src_eof = False
        self.consumed = 0  # compressed bytes taken from the source
        self.streams = 1
        self.trailing = b""  # first bytes after the last stream, kept for the report
        self.trailing_size = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        if not self._input and not self._src_eof:
            self._input = self._src.read(CHUNK)
            self.consumed += len(self._input)
            if not self._input:
                self._src_eof = True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        out = self._next(len(view))
        n = len(out)
        view[:n] = out
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` decompressed bytes, as the decompressor returns them: the read-ahead thread takes
        them without copying them through a buffer first (it holds the GIL while it copies)."""
        if size is None or size < 0:
            return self.readall()
        return self._next(size) if size else b""

    def _next(self, max_length: int) -> bytes:
        """The next piece of decompressed content (at most ``max_length`` bytes; empty at the end)."""
        while True:
            if self._d.eof:
                rest = self._d.unused_data + self._input
                self._input = b""
                while len(rest) < len(self._magic) and not self._src_eof:
                    more = self._src.read(CHUNK)
                    self.consumed += len(more)
                    if not more:
                        self._src_eof = True
                    rest += more
                if rest.startswith(self._magic):
                    self._d = self._new()
                    self.streams += 1
                    self._input = rest
                    continue
                self._note_trailing(rest)
                return b""
            if self._d.needs_input if hasattr(self._d, "needs_input") else not self._pending_output():
                self._fill()
                if self._src_eof and not self._input:
                    raise FormatError("compressed data ends before the end of the stream (truncated or corrupt)")
            try:
                out = self._d.decompress(self._input, max_length)
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
                raise FormatError(f"corrupt compressed data: {exc}") from exc
            self._input = self._unconsumed()
            if out:
                return out

    def _pending_output(self) -> bool:
        return bool(getattr(self._d, "unconsumed_tail", b""))

    def _unconsumed(self) -> bytes:
        tail = getattr(self._d, "unconsumed_tail", None)
        return tail if tail is not None else b""

    def _note_trailing(self, rest: bytes) -> None:
        self.trailing = rest[:64]
        size = len(rest)
        while not self._src_eof:
            more = self._src.read(CHUNK)
            self.consumed += len(more)
            if not more:
                self._src_eof = True
            size += len(more)
        self.trailing_size = size


_inflate: types.ModuleType
_INFLATE_ERRORS: tuple[type[Exception], ...]
try:  # ISA-L's inflate (python-isal, PSF licence) is about twice as fast as zlib's on x86-64 and arm64.
    from isal import isal_zlib as _inflate

    _INFLATE_ERRORS = (zlib.error, _inflate.error)
except ImportError:  # pragma: no cover - a platform without isal wheels: same API, slower
    _inflate = zlib
    _INFLATE_ERRORS = (zlib.error,)


class _ZlibGzip:
    """A gzip decoder (ISA-L, else zlib) with the ``needs_input``-style interface of bz2/lzma decompressors."""

    def __init__(self) -> None:
        self._z = _inflate.decompressobj(31)

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data

    @property
    def unconsumed_tail(self) -> bytes:
        return self._z.unconsumed_tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            return self._z.decompress(data, max_length)
        except _INFLATE_ERRORS as exc:
            raise zlib.error(str(exc)) from None


class _BufferedDecompressor:
    """bz2/lzma decompressors keep their own input buffer: give them input only when they ask."""

    def __init__(self, d: Any) -> None:
        self._d = d

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data

    @property
    def needs_input(self) -> bool:
        return self._d.needs_input

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._d.decompress(data, max_length)


class _CodecHandler:
    """Shared logic of the four wrappers: one member, the decompressed payload."""

    name = ""
    magic = b""
    needs_seekable = False
    #: What the format calls the decoder memory its header declares (named in the limit message).
    window_field = "window"

    def match(self, info: SniffInfo) -> bool:
        return info.head.startswith(self.magic)

    def payload_name(self, ctx: UnpackContext) -> str:
        return strip_suffix(ctx.name, _SUFFIXES[self.name])

    def reader(self, stream: BinaryIO, window_limit: int) -> DecompressReader:
        """A decompressing reader of ``stream`` whose decoder never takes more than ``window_limit`` bytes."""
        raise NotImplementedError

    def declared_window(self, head: bytes) -> int | None:
        """Working memory the first stream in ``head`` asks its decoder for, where the format declares it."""
        return None

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        window_limit = ctx.budget.limits.max_window_bytes
        window = self.declared_window(ctx.head)
        if window is not None and window > window_limit:
            raise LimitExceeded(
                f"{self.name} stream declares a {window:,}-byte {self.window_field}, over the "
                f"{window_limit:,}-byte decoder memory limit (--max-window-mib); not decompressed",
                limit="max_window_bytes",
            )
        reader = self.reader(stream, window_limit)
        payload: BinaryIO = reader  # type: ignore[assignment]
        if ctx.size is None or ctx.size >= READ_AHEAD_MIN:
            payload = ReadAheadReader(reader)  # type: ignore[assignment]
        try:
            yield Member(
                name=self.payload_name(ctx),
                open=lambda: payload,
                compressed_progress=lambda: reader.consumed,
                payload=True,
            )
        finally:
            payload.close()
        # The walker has read the payload to its end by now: report what followed the last stream.
        self.report_trailing(reader, stream, ctx)

    def report_trailing(self, reader: DecompressReader, stream: BinaryIO, ctx: UnpackContext) -> None:
        """Put what followed the last compressed stream into the container's metadata (or a warning)."""
        ctx.meta["streams"] = reader.streams
        if reader.trailing_size:
            ctx.meta["trailing_bytes"] = reader.trailing_size
            if reader.trailing.startswith(b"vmware_esx"):  # ESXi 6.7+ payload signature: expected metadata
                ctx.meta["signature"] = reader.trailing[:13].decode("latin-1")
            elif reader.trailing.strip(b"\x00"):
                ctx.meta["trailing_head"] = reader.trailing[:32].decode("latin-1")
                ctx.problem(
                    None,
                    f"{reader.trailing_size} bytes after the last {self.name} stream (kept, not decoded)",
                    "warning",
                )


class GzipHandler(_CodecHandler):
    name = "gzip"
    magic = GZIP_MAGIC

    def payload_name(self, ctx: UnpackContext) -> str:
        return gzip_fname(ctx.head) or super().payload_name(ctx)

    def reader(self, stream: BinaryIO, window_limit: int) -> DecompressReader:
        return DecompressReader(stream, _ZlibGzip, b"\x1f\x8b")  # deflate's window is 32 KiB


class Bzip2Handler(_CodecHandler):
    name = "bzip2"
    magic = BZIP2_MAGIC

    def match(self, info: SniffInfo) -> bool:
        h = info.head
        return h.startswith(BZIP2_MAGIC) and len(h) > 9 and h[3:4] in b"123456789" and h[4:10] in (
            b"\x31\x41\x59\x26\x53\x59",
            b"\x17\x72\x45\x38\x50\x90",
        )

    def reader(self, stream: BinaryIO, window_limit: int) -> DecompressReader:
        # bzip2's working memory is fixed by its format (at most 900 kB blocks, about 3.7 MB of state).
        return DecompressReader(stream, lambda: _BufferedDecompressor(bz2.BZ2Decompressor()), b"BZh")


class XzHandler(_CodecHandler):
    name = "xz"
    magic = XZ_MAGIC
    window_field = "LZMA2 dictionary"

    def declared_window(self, head: bytes) -> int | None:
        return xz_dictionary_size(head)

    def reader(self, stream: BinaryIO, window_limit: int) -> DecompressReader:
        # liblzma refuses (LZMAError) any later block whose dictionary would take the decoder past this.
        memlimit = window_limit + XZ_DECODER_OVERHEAD
        return DecompressReader(
            stream, lambda: _BufferedDecompressor(lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=memlimit)), XZ_MAGIC
        )


#: liblzma's LZMA2 decoder state beyond the dictionary itself (a few tens of KiB; generous).
XZ_DECODER_OVERHEAD = 1 * 1024 * 1024


def xz_dictionary_size(head: bytes) -> int | None:
    """The LZMA2 dictionary size the first block of an .xz stream declares, or None when not readable.

    Stream header (12 bytes), then the block header: size byte, flags (filter count, optional
    compressed/uncompressed size varints), then each filter's id, property size and properties. LZMA2
    (id 0x21) has one property byte encoding the dictionary size (xz file format 1.0.4, 5.3.1 and 5.3.3.1).
    """
    if not head.startswith(XZ_MAGIC) or len(head) < 14 or head[12] == 0:
        return None
    end = 12 + (head[12] + 1) * 4
    if len(head) < end:
        return None
    flags = head[13]
    pos = 14
    try:
        for present in (flags & 0x40, flags & 0x80):
            if present:
                _, pos = _xz_varint(head, pos, end)
        for _ in range((flags & 0x03) + 1):
            filter_id, pos = _xz_varint(head, pos, end)
            prop_size, pos = _xz_varint(head, pos, end)
            props = head[pos : pos + prop_size]
            pos += prop_size
            if filter_id == 0x21 and prop_size == 1 and pos <= end:
                bits = props[0] & 0x3F
                if bits > 40:
                    return None
                return 0xFFFFFFFF if bits == 40 else (2 | (bits & 1)) << (bits // 2 + 11)
    except IndexError:
        return None
    return None


def _xz_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """One xz multibyte integer at ``pos`` (at most 9 bytes); raises IndexError past ``end``."""
    value = 0
    for i in range(9):
        if pos + i >= end:
            raise IndexError(pos + i)
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise IndexError(pos)


class _ZstdReader(io.RawIOBase):
    """zstd frames through python-zstandard's bounded stream reader, counting compressed input."""

    def __init__(self, src: BinaryIO, window_limit: int) -> None:
        super().__init__()
        self._counting = CountingReader(src)
        # The decoder refuses any frame whose window is larger (a later frame of a multi-frame stream too).
        self._reader = zstandard.ZstdDecompressor(max_window_size=max(window_limit, 1 << 10)).stream_reader(
            cast(BinaryIO, self._counting), read_size=CHUNK, read_across_frames=True, closefd=False
        )
        self.streams = 1
        self.trailing = b""
        self.trailing_size = 0
        self._done = False

    @property
    def consumed(self) -> int:
        return self._counting.count

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._done:
            return 0
        try:
            # readinto1 returns once some output is ready: a frame's output is never held back in a call that
            # goes on to read what follows the last frame (a small payload followed by a footer, as ESXi 9
            # writes, would otherwise lose its content to the error raised on the footer).
            return self._reader.readinto1(b)
        except zstandard.ZstdError as exc:
            if "Unknown frame descriptor" in str(exc) and self._reader.tell() > 0:
                # Data after the last frame (ESXi 9 appends a footer): drain and report it.
                self._done = True
                self.trailing_size = -1
                return 0
            raise FormatError(f"corrupt zstd data: {exc}") from exc


class CountingReader(io.RawIOBase):
    """Reads through ``src``, counting the bytes that pass (compressed input taken, or output produced)."""

    def __init__(self, src: BinaryIO) -> None:
        super().__init__()
        self._src = src
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        self.count += len(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        memoryview(b)[: len(data)] = data
        return len(data)


class ZstdHandler(_CodecHandler):
    name = "zstd"
    magic = ZSTD_MAGIC
    window_field = "window"

    def declared_window(self, head: bytes) -> int | None:
        try:
            params = zstandard.get_frame_parameters(head[:18])
        except zstandard.ZstdError:
            return None
        return int(params.window_size) or None

    def reader(self, stream: BinaryIO, window_limit: int) -> DecompressReader:
        return _ZstdReader(stream, window_limit)  # type: ignore[return-value]

    def report_trailing(self, reader: DecompressReader, stream: BinaryIO, ctx: UnpackContext) -> None:
        if reader.trailing_size:
            # The frame reader reads ahead, so only the bytes past what it took can still be counted.
            rest = 0
            while chunk := stream.read(CHUNK):
                rest += len(chunk)
            ctx.meta["trailing_data"] = True
            ctx.problem(None, "data after the last zstd frame (a footer or signature; kept, not decoded"
                        + (f", at least {rest} bytes)" if rest else ")"), "warning")
