"""zisofs (Rock Ridge ``ZF``) transparently compressed file content, classic and zisofs2.

Layout (libisofs doc/zisofs_format.txt and doc/zisofs2_format.txt):

* classic: a 16-byte header (magic ``37 E4 53 96 C9 DB D6 07``, uncompressed size u32 LE, header size
  / 4, log2 block size, 2 reserved bytes), then ``ceil(size / block) + 1`` u32 LE block pointers, then
  one zlib stream per block;
* zisofs2: a 24-byte header (magic ``EF 22 55 A1 BC 1B 95 A0``, version, header size / 4, algorithm id
  1 zlib / 2 xz / 3 lz4 / 4 zstd / 5 bzip2, log2 block size, uncompressed size u64 LE, 4 padding bytes),
  then u64 LE block pointers.

A block whose pointers are equal is a block of zeros. Block sizes are 32, 64 or 128 KiB. Each block is
decompressed on its own with its output bounded by the block size, so memory stays at one block.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from typing import Any, BinaryIO

import zstandard

from inspector.limits import Unsupported
from inspector.unpack.base import FormatError

MAGIC_V1 = bytes.fromhex("37E45396C9DBD607")
MAGIC_V2 = bytes.fromhex("EF2255A1BC1B95A0")
_ALGORITHMS = {1: "zlib", 2: "xz", 3: "lz4", 4: "zstd", 5: "bzip2"}
_POINTERS_PER_READ = 4096


class ZisofsReader(io.RawIOBase):
    """The decompressed content of a zisofs file whose stored bytes are ``src`` (``stored`` bytes long).

    ``declared`` is the uncompressed size the ``ZF`` entry records: the header must agree with it.
    Forward reading only; every inconsistency (bad magic, pointers out of order or past the stored data,
    a block that decompresses to the wrong length) raises ``FormatError`` naming the block.
    """

    def __init__(self, src: io.RawIOBase | BinaryIO, stored: int, declared: int) -> None:
        super().__init__()
        self._src = src
        self._stored = stored
        head = self._read_at(0, 24)
        if head[:8] == MAGIC_V1 and len(head) >= 16:
            self.size = struct.unpack_from("<I", head, 8)[0]
            header = head[12] * 4
            self.log2 = head[13]
            self.algorithm = "zlib"
            self._psize = 4
        elif head[:8] == MAGIC_V2 and len(head) >= 24:
            header = head[9] * 4
            self.algorithm = _ALGORITHMS.get(head[10], f"id {head[10]}")
            self.log2 = head[11]
            self.size = struct.unpack_from("<Q", head, 12)[0]
            self._psize = 8
        else:
            raise FormatError("zisofs: the file does not start with a zisofs header")
        if self.algorithm not in ("zlib", "xz", "zstd", "bzip2"):
            raise Unsupported(f"zisofs2 compression algorithm {self.algorithm} is not supported")
        if self.log2 not in (15, 16, 17):
            raise FormatError(f"zisofs: block size 2^{self.log2} is not 32, 64 or 128 KiB")
        if self.size != declared:
            raise FormatError(f"zisofs: header says {self.size} bytes, the ZF entry {declared}")
        self._block = 1 << self.log2
        self._nblocks = -(-self.size // self._block)
        self._table = header
        table_end = header + (self._nblocks + 1) * self._psize
        if table_end > stored:
            raise FormatError(f"zisofs: {self._nblocks + 1} block pointers do not fit in the {stored} stored bytes")
        self._index = 0
        self._pointers: list[int] = []
        self._pointer_base = 0
        self._prev = self._pointer(0)
        self._pending = memoryview(b"")
        self.produced = 0

    def readable(self) -> bool:
        return True

    def _read_at(self, offset: int, n: int) -> bytes:
        self._src.seek(offset)
        return self._src.read(n)

    def _pointer(self, i: int) -> int:
        """Block pointer ``i``, read in batches so a huge table never sits in memory."""
        if not self._pointer_base <= i < self._pointer_base + len(self._pointers):
            count = min(_POINTERS_PER_READ, self._nblocks + 1 - i)
            raw = self._read_at(self._table + i * self._psize, count * self._psize)
            if len(raw) < count * self._psize:
                raise FormatError("zisofs: block pointer table runs past the stored data")
            fmt = f"<{count}{'I' if self._psize == 4 else 'Q'}"
            self._pointers = list(struct.unpack(fmt, raw))
            self._pointer_base = i
        return self._pointers[i - self._pointer_base]

    def _decompress(self, data: bytes, want: int, i: int) -> bytes:
        d: Any
        out: bytes
        if self.algorithm == "zlib":
            d = zlib.decompressobj()
            out = d.decompress(data, want + 1)
        elif self.algorithm == "xz":
            d = lzma.LZMADecompressor()
            out = d.decompress(data, want + 1)
        elif self.algorithm == "bzip2":
            d = bz2.BZ2Decompressor()
            out = d.decompress(data, want + 1)
        else:
            with zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(io.BytesIO(data)) as r:
                out = r.read(want + 1)
        if len(out) != want:
            raise FormatError(f"zisofs: block {i} decompresses to {len(out)} bytes, expected {want}")
        return out

    def _next_block(self) -> bytes:
        i = self._index
        end = self._pointer(i + 1)
        start = self._prev
        if end < start or end > self._stored:
            raise FormatError(f"zisofs: block {i} pointer {end} is out of order or past the {self._stored} "
                              "stored bytes")
        want = min(self._block, self.size - i * self._block)
        self._index += 1
        self._prev = end
        if end == start:
            return bytes(want)
        if end - start > 2 * self._block + 4096:
            raise FormatError(f"zisofs: block {i} holds {end - start} compressed bytes for a {self._block}-byte block")
        data = self._read_at(start, end - start)
        if len(data) < end - start:
            raise FormatError(f"zisofs: block {i} runs past the end of the image")
        try:
            return self._decompress(data, want, i)
        except (zlib.error, lzma.LZMAError, OSError, ValueError, zstandard.ZstdError) as exc:
            raise FormatError(f"zisofs: block {i} is corrupt ({exc})") from None

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if not self._pending:
            if self._index >= self._nblocks:
                return 0
            self._pending = memoryview(self._next_block())
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.produced += n
        return n
