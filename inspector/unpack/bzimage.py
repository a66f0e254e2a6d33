"""Linux x86 bzImage kernels (``vmlinuz``): the compressed kernel inside, as one member ``vmlinux``.

A bzImage is a real-mode setup block and a decompressor stub (on EFI builds also a PE image, so it
sniffs as ``pe``) wrapped around the kernel proper, compressed. Left closed, its code figure would be
the stub plus compressed bytes, and a patch's "code churn" the delta of a compressed stream. Opened,
the kernel is an ELF whose sections are measured like any other executable.

The layout is the x86 boot protocol's (Documentation/arch/x86/boot.rst): ``HdrS`` at 0x202, the protocol
version at 0x206 (2.08+ carries the payload fields), ``setup_sects`` at 0x1F1 (0 means 4), and
``payload_offset``/``payload_length`` at 0x248/0x24C, counted from the end of the setup block
(``(setup_sects + 1) * 512``). The kernel's build appends the decompressed size as 4 little-endian
bytes after the compressed stream, inside the payload: it is checked against what came out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO

from inspector.model import ProblemKind
from inspector.streams import CHUNK, ReadAheadReader
from inspector.unpack.base import ExactSlice, FormatError, Member, SniffInfo, UnpackContext
from inspector.unpack.compressed import (
    Bzip2Handler,
    CountingReader,
    GzipHandler,
    XzHandler,
    ZstdHandler,
    _CodecHandler,
)

MAGIC_OFFSET = 0x202
MAGIC = b"HdrS"
#: Boot protocol 2.08 introduced payload_offset/payload_length.
MIN_PROTOCOL = 0x208
#: The decompressed size the kernel build appends after the compressed stream (little-endian).
SIZE_FIELD = 4
_CODECS: tuple[_CodecHandler, ...] = (GzipHandler(), XzHandler(), ZstdHandler(), Bzip2Handler())


def payload_extent(head: bytes) -> tuple[int, int] | None:
    """(offset in the file, length) of the compressed kernel, when the setup header declares it."""
    if len(head) < 0x250 or head[MAGIC_OFFSET : MAGIC_OFFSET + 4] != MAGIC or head[0x1FE:0x200] != b"\x55\xaa":
        return None
    (protocol,) = struct.unpack_from("<H", head, 0x206)
    if protocol < MIN_PROTOCOL:
        return None
    setup_sects = head[0x1F1] or 4
    offset, length = struct.unpack_from("<II", head, 0x248)
    return (setup_sects + 1) * 512 + offset, length


def _codec(payload_head: bytes) -> _CodecHandler | None:
    for codec in _CODECS:
        if codec.match(SniffInfo(head=payload_head, name="", size=None)):
            return codec
    return None


class BzImageHandler:
    """Opens a bzImage whose compressed kernel is gzip, xz, zstd or bzip2 (lzma, lz4 and lzo stay closed)."""

    name = "linux-bzimage"
    needs_seekable = False

    def match(self, info: SniffInfo) -> bool:
        extent = payload_extent(info.head)
        if extent is None:
            return False
        start, length = extent
        return length > 0 and start + 16 <= len(info.head) and _codec(info.head[start : start + 16]) is not None

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        extent = payload_extent(ctx.head)
        assert extent is not None  # match() said so
        start, length = extent
        if ctx.size is not None and start + length > ctx.size:
            raise FormatError(f"bzImage payload_offset/payload_length ({start:,} + {length:,} bytes) run past the "
                              f"end of the file ({ctx.size:,} bytes)")
        codec = _codec(ctx.head[start : start + 16])
        assert codec is not None
        setup = stream.read(start)
        if len(setup) < start:
            raise FormatError("bzImage ends inside its setup block")
        window_limit = ctx.budget.limits.max_window_bytes
        window = codec.declared_window(ctx.head[start:])
        if window is not None and window > window_limit:
            raise FormatError(f"bzImage payload: {codec.name} stream declares a {window:,}-byte {codec.window_field}, "
                              "over the decoder memory limit (--max-window-mib)")
        ctx.meta["payload"] = {"codec": codec.name, "offset": start, "length": length}
        # The compressed stream alone (the 4-byte size field after it is read separately): every codec then
        # ends exactly at the end of its input.
        packed = max(length - SIZE_FIELD, 0)
        payload = ExactSlice(stream, packed, lambda missing: f"bzImage payload cut short: {missing:,} bytes missing")
        reader = codec.reader(payload, window_limit)  # type: ignore[arg-type]
        counted = CountingReader(reader)  # type: ignore[arg-type]
        out = ReadAheadReader(counted)
        try:
            yield Member(name="vmlinux", open=lambda: out, compressed_progress=lambda: reader.consumed, payload=True,
                         stored_size=length)
        finally:
            out.close()
        self._check_size_field(stream.read(min(SIZE_FIELD, length)), counted.count, ctx)
        while stream.read(CHUNK):  # the rest of the image (EFI sections after the payload): hashed, not members
            pass

    @staticmethod
    def _check_size_field(field: bytes, produced: int, ctx: UnpackContext) -> None:
        """The 4-byte decompressed size the kernel build appends must equal what came out."""
        if len(field) < SIZE_FIELD:
            raise FormatError("bzImage payload ends before its 4-byte decompressed-size field")
        (declared,) = struct.unpack_from("<I", field)
        if declared != produced & 0xFFFFFFFF:
            ctx.problem("vmlinux", f"bzImage size field after the compressed kernel says {declared:,} bytes, "
                        f"{produced:,} came out", ProblemKind.MISMATCH)

