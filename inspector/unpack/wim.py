"""Windows Imaging (WIM) files and ESDs: ``install.wim`` / ``boot.wim`` / ``install.esd``.

Always read (any compression): the 208-byte header, the resource lookup table (one 50-byte entry per
stream: resource header, part number, reference count, SHA-1) and the UTF-16 XML image descriptions
(names, directory/file counts, total bytes), so image names, counts and stored vs original sizes are
reported for every WIM.

Listed file by file whenever the chunks can be decoded (``wimcodec.py``: wimlib's compiled XPRESS, LZX
and LZMS through ctypes, else the pure-Python XPRESS/LZX decoders): each image's directory tree
(security data skipped, dentries walked iteratively), file content decoded chunk by chunk on demand, a
decoding thread a few chunks ahead. Paths always start with the image index, ``1/Windows/...``, also in
a single-image WIM, so adding an edition to a WIM does not rename every file; the image's directory
member carries its name and counts. Hard links after the first are ``hardlink`` members; symbolic links
and junctions (reparse points) are ``symlink`` members; named data streams are members ``path:stream``.
Every stream is checked against its SHA-1 in the lookup table: a mismatch is a problem on that file.

Solid resources (WIM version 3584, ``--solid``, ESDs): each solid resource's 16-byte header (decoded size,
chunk size, compression) and chunk table are read; files stored in one are listed after the image's tree
in storage order, so each solid chunk is decoded once. A solid file's stored size is its share of the
solid resource, ``stored_size(resource) * size(file) / decoded_size(resource)`` rounded; the resources
themselves are listed in the container's ``meta["solid_resources"]`` and each such file's
``meta["solid_resource"]`` names its one. Chunks (decoder windows) over ``Limits.max_window_bytes`` are
refused with a ``limit`` problem before any buffer is allocated.

Without a decoder for the WIM's compression (LZMS without wimlib): each stream of the lookup table is
listed as ``[streams]/<sha1>`` with its original and stored size (streams stored uncompressed are still
read and hashed), and an ``unsupported`` problem says what was not decoded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from inspector.limits import LimitExceeded, Unsupported, WalkError
from inspector.model import EntryKind
from inspector.names import display_name
from inspector.streams import RangeReader
from inspector.unpack import wimcodec
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext

MAGIC = b"MSWIM\x00\x00\x00"
HEADER_SIZE = 208
LOOKUP_ENTRY = 50
DENTRY_SIZE = 102
#: Cap on one image's decoded metadata resource (directory tree + security data).
MAX_METADATA = 512 * 1024 * 1024
#: Cap on the XML image descriptions and the lookup table.
MAX_XML = 16 * 1024 * 1024
MAX_LOOKUP = 256 * 1024 * 1024
#: Cap on one reparse-point blob read to name a symlink's target.
MAX_REPARSE = 64 * 1024

SOLID_VERSION = 0xE00
# Header flags
HDR_COMPRESSION = 0x2
_COMPRESSION_FLAGS = ((0x20000, "xpress"), (0x40000, "lzx"), (0x80000, "lzms"))
# Resource header flags
RES_FREE, RES_METADATA, RES_COMPRESSED, RES_SPANNED, RES_SOLID = 0x1, 0x2, 0x4, 0x8, 0x10
ATTR_DIRECTORY, ATTR_REPARSE = 0x10, 0x400
REPARSE_SYMLINK, REPARSE_MOUNT_POINT = 0xA000000C, 0xA0000003
_ZERO_HASH = bytes(20)
_FILETIME_EPOCH = 116444736000000000


@dataclass(frozen=True)
class ResHdr:
    """A resource header: where a resource is, how big it is stored and how big it is decoded."""

    stored_size: int
    flags: int
    offset: int
    original_size: int

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ResHdr:
        """Decode the 24-byte RESHDR at ``pos``."""
        size = int.from_bytes(data[pos : pos + 7], "little")
        offset, original = struct.unpack_from("<QQ", data, pos + 8)
        return cls(size, data[pos + 7], offset, original)

    @property
    def compressed(self) -> bool:
        """True when the resource is stored as compressed chunks."""
        return bool(self.flags & RES_COMPRESSED)


@dataclass(frozen=True)
class WimHeader:
    """The fields of the 208-byte header that matter for reading."""

    version: int
    flags: int
    chunk_size: int
    guid: str
    part: int
    total_parts: int
    image_count: int
    lookup: ResHdr
    xml: ResHdr
    boot_metadata: ResHdr
    boot_index: int
    integrity: ResHdr

    @property
    def compression(self) -> str:
        """``none``, ``xpress``, ``lzx``, ``lzms`` (or ``unknown``)."""
        if not self.flags & HDR_COMPRESSION:
            return "none"
        for bit, name in _COMPRESSION_FLAGS:
            if self.flags & bit:
                return name
        return "unknown"


@dataclass(frozen=True)
class Blob:
    """One lookup-table entry: a stream (file data or image metadata) by SHA-1."""

    res: ResHdr
    part: int
    refcount: int
    sha1: bytes


@dataclass(frozen=True)
class ImageInfo:
    """One image as described by the XML."""

    index: int
    name: str | None
    description: str | None
    dir_count: int | None
    file_count: int | None
    total_bytes: int | None

    def as_meta(self) -> dict[str, Any]:
        """JSON-friendly form for the container's metadata."""
        return {k: v for k, v in (
            ("index", self.index), ("name", self.name), ("description", self.description),
            ("dir_count", self.dir_count), ("file_count", self.file_count), ("total_bytes", self.total_bytes),
        ) if v is not None}


def parse_header(head: bytes) -> WimHeader:
    """Decode the WIM header from the first bytes of the file (``FormatError`` if it is not one)."""
    if len(head) < HEADER_SIZE or not head.startswith(MAGIC):
        raise FormatError("WIM: header truncated or bad magic")
    size, version, flags, chunk = struct.unpack_from("<IIII", head, 8)
    if size != HEADER_SIZE:
        raise FormatError(f"WIM: header size {size}, expected {HEADER_SIZE}")
    part, total, count = struct.unpack_from("<HHI", head, 40)
    (boot_index,) = struct.unpack_from("<I", head, 120)
    return WimHeader(
        version=version, flags=flags, chunk_size=chunk, guid=head[24:40].hex(), part=part, total_parts=total,
        image_count=count, lookup=ResHdr.parse(head, 48), xml=ResHdr.parse(head, 72),
        boot_metadata=ResHdr.parse(head, 96), boot_index=boot_index, integrity=ResHdr.parse(head, 124),
    )


def parse_lookup(data: bytes) -> list[Blob]:
    """Decode the lookup table: 50-byte entries of RESHDR, part (u16), refcount (u32), SHA-1."""
    if len(data) % LOOKUP_ENTRY:
        raise FormatError(f"WIM: lookup table size {len(data)} is not a multiple of {LOOKUP_ENTRY}")
    blobs = []
    for pos in range(0, len(data), LOOKUP_ENTRY):
        part, refcount = struct.unpack_from("<HI", data, pos + 24)
        blobs.append(Blob(ResHdr.parse(data, pos), part, refcount, data[pos + 30 : pos + 50]))
    return blobs


def parse_xml(data: bytes) -> list[ImageInfo]:
    """Image descriptions from the UTF-16LE XML (names, DIRCOUNT, FILECOUNT, TOTALBYTES)."""
    text = data.decode("utf-16-le", "replace").lstrip("\ufeff").rstrip("\x00")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise FormatError("WIM: XML with a DTD or entities refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FormatError(f"WIM: XML image descriptions do not parse ({exc})") from None

    def num(el: ET.Element, tag: str) -> int | None:
        v = el.findtext(tag)
        try:
            return int(v.strip(), 0) if v else None
        except ValueError:
            return None

    images = []
    for n, img in enumerate(root.findall("IMAGE"), 1):
        try:
            index = int(img.get("INDEX", n))
        except ValueError:
            index = n
        images.append(ImageInfo(index, img.findtext("NAME"), img.findtext("DESCRIPTION"),
                                num(img, "DIRCOUNT"), num(img, "FILECOUNT"), num(img, "TOTALBYTES")))
    return images


#: Chunks handed to the decoding thread at once (~1 MiB, at least one chunk), and batches decoded ahead.
BATCH_BYTES = 1024 * 1024
PREFETCH_BATCHES = 2
#: Cap on one resource's chunk table (4 or 8 bytes per chunk).
MAX_CHUNK_TABLE = 64 * 1024 * 1024
SOLID_HEADER = 16
SOLID_MAGIC_SIZE = 0x100000000


class _Ready:
    """A chunk decoded in the calling thread when asked for (the pure-Python path: no thread helps)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self._fn, self._args = fn, args

    def result(self) -> Any:
        return self._fn(*self._args)


class Codec:
    """One WIM walk's decoders (one per compression and chunk size) and its decoding thread.

    With wimlib, chunks are decoded by one worker thread a few chunks ahead of the reader (ctypes drops
    the GIL during the call), so decoding overlaps the SHA-1/SHA-256 hashing in the main thread. The
    file is only ever read in the calling thread. Pure-Python decoding happens on demand, in line.
    """

    def __init__(self, max_window: int) -> None:
        self.max_window = max_window
        self.native = wimcodec.native_available()
        self._decoders: dict[tuple[str, int, bool], wimcodec.ChunkDecoder] = {}
        self._pool: ThreadPoolExecutor | None = None

    def check_window(self, compression: str, chunk_size: int, where: str) -> None:
        """Refuse a chunk (decoder window) larger than ``Limits.max_window_bytes`` before allocating it."""
        if chunk_size > self.max_window:
            raise LimitExceeded(f"WIM: {where} declares {compression.upper()} chunks of {chunk_size} bytes, over "
                                f"the {self.max_window}-byte decoder window limit (max_window_bytes)",
                                "max_window_bytes")

    def decoder(self, compression: str, chunk_size: int, *, here: bool = False) -> wimcodec.ChunkDecoder:
        """The (cached) decoder for this compression and chunk size: the decoding thread's, or with ``here``
        the calling thread's own (a decoder is not to be used by two threads at once)."""
        key = (compression, chunk_size, here)
        if key not in self._decoders:
            self._decoders[key] = wimcodec.ChunkDecoder(compression, chunk_size)
        return self._decoders[key]

    def submit_call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the decoding thread; ``.result()`` gives its value (or raises)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wim-decode")
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        """Stop the decoding thread and free the decoders."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for dec in self._decoders.values():
            dec.close()
        self._decoders.clear()


class ChunkedResource:
    """The decoded chunks of one compressed resource (plain or solid), prefetched in order.

    ``offsets`` are the file offsets of every chunk's compressed data plus the end. A chunk whose stored
    size equals its decoded size is stored raw. Chunks go to the decoding thread in batches of about
    ``BATCH_BYTES`` (one read, one hand-over per batch), at most ``PREFETCH_BATCHES`` batches ahead. The
    last batch asked for is kept, so files sharing a chunk (solid resources) decode it once; a request
    behind the prefetch window decodes its batch again (chunks are independent).
    """

    def __init__(self, fh: BinaryIO, offsets: array, usize: int, chunk_size: int, compression: str,
                 codec: Codec, where: str) -> None:
        self._fh = fh
        self._offsets = offsets
        self.usize = usize
        self.chunk_size = chunk_size
        self.compression = compression
        self._codec = codec
        self._where = where
        self._dec = codec.decoder(compression, chunk_size) if compression != "none" else None
        self.nchunks = len(offsets) - 1
        self._batch = max(1, BATCH_BYTES // chunk_size) if codec.native else 1
        self._nbatches = (self.nchunks + self._batch - 1) // self._batch
        # big chunks (solid LZMS: 64 MiB) are prefetched one ahead only, so memory stays ~3 chunks
        self._ahead = (PREFETCH_BATCHES if chunk_size <= BATCH_BYTES else 1) if codec.native else 0
        self._pending: dict[int, Any] = {}
        self._next_submit = 0
        self._last: tuple[int, list[Any]] = (-1, [])

    def _usize(self, i: int) -> int:
        return min(self.chunk_size, self.usize - i * self.chunk_size)

    def _start(self, b: int) -> Any:
        """Read batch ``b``'s compressed chunks (in this thread) and start decoding them."""
        first, stop = b * self._batch, min(self.nchunks, (b + 1) * self._batch)
        base = self._offsets[first]
        self._fh.seek(base)
        data = self._fh.read(self._offsets[stop] - base)
        if len(data) != self._offsets[stop] - base:
            raise FormatError(f"WIM: chunks {first}-{stop - 1} of {self._where} run past the end of the file")
        spans = []
        for i in range(first, stop):
            a, z, usize = self._offsets[i] - base, self._offsets[i + 1] - base, self._usize(i)
            if z - a > usize or z == a:
                raise FormatError(f"WIM: chunk {i} of {self._where} is stored in {z - a} bytes for {usize}")
            spans.append((i, a, z, usize))
        if self._dec is None or all(z - a == usize for _, a, z, usize in spans):
            return _Ready(self._decode_batch, data, spans)
        if self._nbatches == 1 and self._codec.native:
            # A resource of one batch (most files: a few chunks): the reader waits for it at once, so handing
            # it to the decoding thread and back only costs two thread switches (about 50 us a file).
            here = self._codec.decoder(self.compression, self.chunk_size, here=True)
            return _Ready(self._decode_batch, data, spans, here)
        return self._codec.submit_call(self._decode_batch, data, spans)

    def _decode_batch(self, data: bytes, spans: list[tuple[int, int, int, int]],
                      dec: wimcodec.ChunkDecoder | None = None) -> list[Any]:
        """Decode one batch's chunks (in the decoding thread with wimlib, unless ``dec`` is the caller's own)."""
        out: list[Any] = []
        view = memoryview(data)
        dec = dec or self._dec
        for i, a, z, usize in spans:
            if z - a == usize:
                out.append(view[a:z])
                continue
            assert dec is not None
            try:
                chunk = dec.decode(data[a:z], usize)
            except FormatError as exc:
                raise FormatError(f"WIM: chunk {i} of {self._where}: {exc}") from None
            if len(chunk) != usize:
                raise FormatError(f"WIM: chunk {i} of {self._where} decoded to {len(chunk)} bytes, not {usize}")
            out.append(chunk)
        return out

    def chunk(self, i: int) -> Any:
        """The decoded bytes of chunk ``i``."""
        b, k = divmod(i, self._batch)
        if self._last[0] == b:
            return self._last[1][k]
        if b not in self._pending:
            self._pending.clear()  # out of order: drop the prefetched batches
            self._next_submit = b
        while self._next_submit < min(self._nbatches, b + 1 + self._ahead):
            self._pending[self._next_submit] = self._start(self._next_submit)
            self._next_submit += 1
        for old in [old for old in self._pending if old < b]:
            del self._pending[old]
        try:
            chunks = self._pending.pop(b).result()
        except WalkError:
            self._pending.clear()
            self._next_submit = b + 1
            raise
        self._last = (b, chunks)
        return chunks[k]


def chunk_offsets(fh: BinaryIO, offset: int, stored_size: int, usize: int, chunk_size: int, solid: bool,
                  where: str) -> array:
    """File offsets of each chunk of a compressed resource, from its chunk table, plus the end offset.

    A plain resource's table holds the start of chunks 1..n-1 relative to the data (4 bytes each, 8 when
    the resource decodes to more than 4 GiB); a solid resource's table follows its 16-byte header and
    holds the stored size of every chunk (4 bytes each), as wimlib's ``resource.c`` reads them.
    """
    n = (usize + chunk_size - 1) // chunk_size
    if n == 0:
        return array("Q", [offset, offset])
    width = 4 if solid or usize <= 0xFFFFFFFF else 8
    head = SOLID_HEADER if solid else 0
    table = (n if solid else n - 1) * width
    if table > MAX_CHUNK_TABLE:
        raise LimitExceeded(f"WIM: chunk table of {where} ({n} chunks) exceeds the {MAX_CHUNK_TABLE}-byte cap")
    if head + table > stored_size:
        raise FormatError(f"WIM: chunk table of {where} ({n} chunks) is larger than the resource")
    fh.seek(offset + head)
    raw = fh.read(table)
    if len(raw) != table:
        raise FormatError(f"WIM: chunk table of {where} runs past the end of the file")
    entries = array("Q", struct.unpack(f"<{table // width}{'Q' if width == 8 else 'I'}", raw))
    data_start = offset + head + table
    data_size = stored_size - head - table
    starts = array("Q", [0])
    if solid:
        pos = 0
        for size in entries[:-1]:
            pos += size
            starts.append(pos)
    else:
        starts.extend(entries)
    starts.append(data_size)
    for a, b in zip(starts, starts[1:], strict=False):
        if a > b:
            raise FormatError(f"WIM: chunk table of {where} is not ascending (or overruns the resource)")
    return array("Q", (data_start + s for s in starts))


class ResourceReader(io.RawIOBase):
    """The decoded bytes ``[start, start + length)`` of a resource, chunk by chunk (never all at once)."""

    def __init__(self, fh: BinaryIO, res: ResHdr, chunk_size: int, compression: str, codec: Codec | None = None,
                 *, chunked: ChunkedResource | None = None, start: int = 0, length: int | None = None) -> None:
        super().__init__()
        self._fh = fh
        self._res = res
        self._chunk_size = chunk_size
        self._compression = compression
        self._own_codec = codec is None
        self._codec = codec
        self._chunked = chunked
        self._pos = start
        self._end = start + (res.original_size if length is None else length)

    def readable(self) -> bool:
        return True

    def _resource(self) -> ChunkedResource:
        if self._chunked is None:
            where = f"resource at offset {self._res.offset}"
            if self._codec is None:
                self._codec = Codec(1 << 62)
            self._codec.check_window(self._compression, self._chunk_size, where)
            offsets = chunk_offsets(self._fh, self._res.offset, self._res.stored_size, self._res.original_size,
                                    self._chunk_size, False, where)
            self._chunked = ChunkedResource(self._fh, offsets, self._res.original_size, self._chunk_size,
                                            self._compression, self._codec, where)
        return self._chunked

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if self._pos >= self._end or not len(view):
            return 0
        if self._chunked is None and not self._res.compressed:
            n = min(len(view), self._end - self._pos)
            self._fh.seek(self._res.offset + self._pos)
            data = self._fh.read(n)
            if len(data) != n:
                raise FormatError(f"WIM: resource at offset {self._res.offset} runs past the end of the file")
            view[:n] = data
            self._pos += n
            return n
        res = self._resource()
        i, off = divmod(self._pos, res.chunk_size)
        data = res.chunk(i)
        n = min(len(view), len(data) - off, self._end - self._pos)
        view[:n] = memoryview(data)[off : off + n]
        self._pos += n
        return n

    def close(self) -> None:
        if self._own_codec and self._codec is not None:
            self._codec.close()
        super().close()


def _read_resource(fh: BinaryIO, res: ResHdr, hdr: WimHeader, cap: int, what: str, codec: Codec | None = None) -> bytes:
    if res.original_size > cap:
        raise LimitExceeded(f"WIM: {what} of {res.original_size} bytes exceeds the {cap}-byte cap")
    with ResourceReader(fh, res, hdr.chunk_size, hdr.compression, codec) as reader:
        return reader.readall()


def _filetime(ft: int) -> float | None:
    return (ft - _FILETIME_EPOCH) / 1e7 if ft else None


@dataclass(frozen=True)
class Dentry:
    """One directory entry of an image's metadata resource (what listing needs)."""

    path: str
    attributes: int
    mtime: float | None
    link_group: int
    reparse_tag: int
    data_hash: bytes
    named_streams: tuple[tuple[str, bytes], ...]

    @property
    def is_dir(self) -> bool:
        """Directories (but not reparse points such as junctions)."""
        return bool(self.attributes & ATTR_DIRECTORY) and not self.attributes & ATTR_REPARSE


def _dentry_at(meta: bytes, pos: int, parent: str) -> tuple[Dentry, int, int]:
    """Decode the dentry at ``pos``; return it, its subdirectory offset and the offset of the next one."""
    if pos + DENTRY_SIZE > len(meta):
        raise FormatError(f"WIM: directory entry at metadata offset {pos} runs past the end of the metadata")
    (length, attrs, _sec, subdir) = struct.unpack_from("<QIiQ", meta, pos)
    (_ctime, _atime, wtime) = struct.unpack_from("<QQQ", meta, pos + 40)
    default_hash = meta[pos + 64 : pos + 84]
    (reparse_tag,) = struct.unpack_from("<I", meta, pos + 88)
    (link_group,) = struct.unpack_from("<Q", meta, pos + 88)
    n_streams, short_len, name_len = struct.unpack_from("<HHH", meta, pos + 96)
    if length < DENTRY_SIZE or pos + length > len(meta):
        raise FormatError(f"WIM: directory entry at metadata offset {pos} has bad length {length}")
    if DENTRY_SIZE + name_len > length:
        raise FormatError(f"WIM: name of directory entry at metadata offset {pos} overruns the entry")
    name = display_name(meta[pos + DENTRY_SIZE : pos + DENTRY_SIZE + name_len].decode("utf-16-le", "replace"))
    nxt = pos + ((length + 7) & ~7)
    is_reparse = bool(attrs & ATTR_REPARSE)
    data_hash = default_hash
    named: list[tuple[str, bytes]] = []
    for _ in range(n_streams):
        if nxt + 38 > len(meta):
            raise FormatError(f"WIM: stream entry at metadata offset {nxt} runs past the end of the metadata")
        (slen,) = struct.unpack_from("<Q", meta, nxt)
        shash = meta[nxt + 16 : nxt + 36]
        (sname_len,) = struct.unpack_from("<H", meta, nxt + 36)
        if slen < 38 or nxt + slen > len(meta) or 38 + sname_len > slen:
            raise FormatError(f"WIM: stream entry at metadata offset {nxt} has bad length {slen}")
        if sname_len:
            sname = meta[nxt + 38 : nxt + 38 + sname_len].decode("utf-16-le", "replace")
            named.append((display_name(sname), shash))
        elif shash != _ZERO_HASH and data_hash == _ZERO_HASH:
            data_hash = shash  # the unnamed stream (reparse data, or data next to named streams)
        nxt += (slen + 7) & ~7
    path = f"{parent}/{name}" if parent else name
    if is_reparse:
        return Dentry(path, attrs, _filetime(wtime), 0, reparse_tag, data_hash, tuple(named)), subdir, nxt
    return Dentry(path, attrs, _filetime(wtime), link_group, 0, data_hash, tuple(named)), subdir, nxt


def walk_metadata(meta: bytes) -> Iterator[Dentry]:
    """Every dentry of an image's decoded metadata resource, parents before children (root excluded)."""
    if len(meta) < 8:
        raise FormatError("WIM: metadata resource shorter than its security data header")
    (sec_len,) = struct.unpack_from("<I", meta, 0)
    sec_len = max((sec_len + 7) & ~7, 8)
    if sec_len + DENTRY_SIZE > len(meta):
        raise FormatError(f"WIM: security data length {sec_len} runs past the end of the metadata resource")
    _root, root_sub, _ = _dentry_at(meta, sec_len, "")
    stack: list[tuple[int, str]] = [(root_sub, "")]
    seen: set[int] = {sec_len}
    while stack:
        pos, parent = stack.pop()
        children: list[tuple[Dentry, int]] = []
        while pos:
            if pos + 8 > len(meta):
                raise FormatError(f"WIM: directory at metadata offset {pos} runs past the end of the metadata")
            (length,) = struct.unpack_from("<Q", meta, pos)
            if length <= 8:
                break  # end-of-directory marker
            if pos in seen:
                raise FormatError(f"WIM: directory entry at metadata offset {pos} reached twice (loop)")
            seen.add(pos)
            d, sub, pos = _dentry_at(meta, pos, parent)
            children.append((d, sub))
        subdirs = []
        for d, sub in children:
            yield d
            if d.is_dir and sub:
                subdirs.append((sub, d.path))
        stack.extend(reversed(subdirs))  # first subdirectory walked first


@dataclass(frozen=True)
class SolidResource:
    """One solid resource: many streams compressed together, with its own chunk size and compression."""

    index: int
    res: ResHdr
    original_size: int
    chunk_size: int
    compression: str

    def as_meta(self) -> dict[str, Any]:
        """JSON-friendly form for the container's metadata."""
        return {"index": self.index, "offset": self.res.offset, "stored_size": self.res.stored_size,
                "original_size": self.original_size, "chunk_size": self.chunk_size,
                "compression": self.compression}

    def share(self, size: int) -> int:
        """Stored bytes attributed to a stream of ``size`` decoded bytes: its share of the resource."""
        if not self.original_size:
            return 0
        return (self.res.stored_size * size + self.original_size // 2) // self.original_size


@dataclass(frozen=True)
class SolidBlob:
    """Where a stream lives inside a solid resource."""

    solid: SolidResource
    offset: int
    size: int


def read_solid_runs(fh: BinaryIO, blobs: list[Blob], file_size: int,
                    problem: Any) -> tuple[list[SolidResource], dict[bytes, SolidBlob]]:
    """The solid resources of a version-3584 lookup table and where each stream lies in them.

    As wimlib's ``read_blob_table`` reads them: a run of consecutive SOLID entries holds resource entries
    (original size 0x100000000; the real size, chunk size and compression open the resource) and stream
    entries, whose offset counts through the run's resources in order. Streams that fit no resource are
    reported and left out.
    """
    solids: list[SolidResource] = []
    located: dict[bytes, SolidBlob] = {}
    i = 0
    while i < len(blobs):
        if not blobs[i].res.flags & RES_SOLID:
            i += 1
            continue
        j = i
        while j < len(blobs) and blobs[j].res.flags & RES_SOLID:
            j += 1
        run = []
        for b in blobs[i:j]:
            if b.res.original_size != SOLID_MAGIC_SIZE:
                continue
            where = f"solid resource at offset {b.res.offset}"
            if b.res.offset + b.res.stored_size > file_size or b.res.stored_size < SOLID_HEADER:
                raise FormatError(f"WIM: {where} ({b.res.stored_size} bytes) runs past the end of the file")
            fh.seek(b.res.offset)
            usize, chunk, ctype = struct.unpack("<QII", fh.read(SOLID_HEADER))
            compression = wimcodec.CTYPE_NAMES.get(ctype, f"type {ctype}")
            solid = SolidResource(len(solids), b.res, usize, chunk, compression)
            solids.append(solid)
            run.append(solid)
        for b in blobs[i:j]:
            if b.res.original_size == SOLID_MAGIC_SIZE or b.sha1 == _ZERO_HASH:
                continue
            offset, size = b.res.offset, b.res.stored_size
            for solid in run:
                if offset + size <= solid.original_size:
                    located.setdefault(b.sha1, SolidBlob(solid, offset, size))
                    break
                offset -= solid.original_size
            else:
                problem(None, f"stream {b.sha1.hex()} at solid offset {b.res.offset} ({size} bytes) lies in no "
                        "solid resource of its run", "error")
        i = j
    return solids, located


class WimHandler:
    """Reads WIM files (see the module docstring for what is decoded when)."""

    name = "wim"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        """WIM files start with ``MSWIM\\0\\0\\0``."""
        return info.head.startswith(MAGIC)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Header, lookup table and XML into ``ctx.meta``; then the files (or the streams) as members."""
        codec = Codec(ctx.budget.limits.max_window_bytes)
        try:
            yield from self._members(stream, ctx, codec)
        finally:
            codec.close()

    def _members(self, stream: BinaryIO, ctx: UnpackContext, codec: Codec) -> Iterator[Member]:
        stream.seek(0, io.SEEK_END)
        file_size = stream.tell()
        stream.seek(0)
        hdr = parse_header(stream.read(HEADER_SIZE))
        if hdr.compression != "none" and (hdr.chunk_size <= 0 or hdr.chunk_size & (hdr.chunk_size - 1)):
            raise FormatError(f"WIM: chunk size {hdr.chunk_size} of a compressed WIM is not a power of two")
        for what, res in (("lookup table", hdr.lookup), ("XML data", hdr.xml)):
            if res.offset + res.stored_size > file_size:
                raise FormatError(f"WIM: {what} at offset {res.offset} ({res.stored_size} bytes) runs past the "
                                  f"end of the file ({file_size} bytes)")
        meta = ctx.meta
        meta.update({"version": hdr.version, "compression": hdr.compression, "chunk_size": hdr.chunk_size,
                     "guid": hdr.guid, "part": f"{hdr.part}/{hdr.total_parts}", "image_count": hdr.image_count,
                     "boot_index": hdr.boot_index})
        if hdr.compression != "none":
            codec.check_window(hdr.compression, hdr.chunk_size, "the header")
        images = (parse_xml(_read_resource(stream, hdr.xml, hdr, MAX_XML, "XML data", codec))
                  if hdr.xml.stored_size else [])
        if images:
            meta["images"] = [i.as_meta() for i in images]
        blobs = parse_lookup(_read_resource(stream, hdr.lookup, hdr, MAX_LOOKUP, "lookup table", codec))
        if hdr.version != SOLID_VERSION:  # as wimlib: the SOLID flag means nothing in other versions
            blobs = [Blob(ResHdr(b.res.stored_size, b.res.flags & ~RES_SOLID, b.res.offset, b.res.original_size),
                          b.part, b.refcount, b.sha1) for b in blobs]
        solids, in_solid = read_solid_runs(stream, blobs, file_size, ctx.problem)
        data_blobs = [b for b in blobs if not b.res.flags & RES_METADATA and b.res.original_size != SOLID_MAGIC_SIZE]
        metadata = [b for b in blobs if b.res.flags & RES_METADATA]
        meta["streams"] = {
            "count": len(data_blobs),
            # a stream inside a solid resource records its size in the stored-size field (as wimlib reads it)
            "original_bytes": sum(b.res.stored_size if b.res.flags & RES_SOLID else b.res.original_size
                                  for b in data_blobs),
            "stored_bytes": (sum(b.res.stored_size for b in data_blobs if not b.res.flags & RES_SOLID)
                             + sum(s.res.stored_size for s in solids)),
            "metadata_stored_bytes": sum(b.res.stored_size for b in metadata),
        }
        if solids:
            meta["solid_resources"] = [s.as_meta() for s in solids]
        spanned = hdr.total_parts > 1
        if spanned and not metadata:
            # a later part of a split WIM (.swm): the image trees are in the first part, this one holds streams
            ctx.problem(None, f"spanned WIM part {hdr.part} of {hdr.total_parts}: the image trees are in part 1; "
                        "this part's streams are listed by SHA-1", "unsupported")
            meta["decoded"] = False
            yield from self._stream_members(stream, data_blobs, hdr, file_size, ctx)
            return
        if len(metadata) != hdr.image_count:
            ctx.problem(None, f"header says {hdr.image_count} images, lookup table has {len(metadata)} "
                        "metadata resources", "mismatch")
        by_hash = {b.sha1: b for b in data_blobs if not b.res.flags & RES_SOLID}
        # an unknown solid compression is reported on its own resource; the tree is still listed
        needed = {hdr.compression} | {s.compression for s in solids if s.compression in wimcodec.MAX_CHUNK}
        missing = sorted(c for c in needed if not wimcodec.can_decode(c))
        if missing:
            why = ("needs wimlib (Debian libwim15), which is not available" if missing == ["lzms"]
                   else "has no decoder here")
            ctx.problem(None, f"{'/'.join(m.upper() for m in missing)}-compressed WIM: {why}; header, lookup "
                        "table and XML read, file data not decoded", "unsupported")
            meta["decoded"] = False
            yield from self._stream_members(stream, data_blobs, hdr, file_size, ctx)
            return
        meta["decoded"] = True
        meta["decoder"] = wimcodec.backend()
        reader = _BlobReader(stream, hdr, codec, by_hash, in_solid, file_size, ctx)
        for n, mblob in enumerate(metadata, 1):
            if mblob.res.offset + mblob.res.stored_size > file_size:
                ctx.problem(f"{n}", f"metadata resource of image {n} at offset {mblob.res.offset} runs past the "
                            f"end of the file ({file_size} bytes); image not listed", "error")
                continue
            yield Member(f"{n}", EntryKind.DIR, meta=images[n - 1].as_meta() if n <= len(images) else {})
            mdata = _read_resource(stream, mblob.res, hdr, MAX_METADATA, f"metadata of image {n}", codec)
            yield from self._image_members(mdata, f"{n}/", reader)
        if reader.elsewhere:
            ctx.problem(None, f"spanned WIM part {hdr.part} of {hdr.total_parts}: {reader.elsewhere:,} files whose "
                        "streams are in the other parts are listed without content", "unsupported")

    def _image_members(self, mdata: bytes, prefix: str, reader: _BlobReader) -> Iterator[Member]:
        """The image's tree in order; files in solid resources afterwards, sorted by where they lie.

        Solid streams are read in storage order so each solid chunk is decoded once, whatever order
        the directory tree lists the files in.
        """
        links: dict[int, str] = {}
        deferred: list[tuple[int, int, str, bytes, float | None]] = []

        def file(name: str, hsh: bytes, mtime: float | None) -> Iterator[Member]:
            loc = reader.in_solid.get(hsh)
            if loc is not None:
                deferred.append((loc.solid.index, loc.offset, name, hsh, mtime))
            else:
                yield reader.member(name, hsh, mtime)

        for d in walk_metadata(mdata):
            name = prefix + d.path
            if d.is_dir:
                yield Member(name, EntryKind.DIR, mtime=d.mtime)
            elif d.reparse_tag:
                yield Member(name, EntryKind.SYMLINK, mtime=d.mtime, link_target=reader.reparse_target(d),
                             meta={"reparse_tag": f"0x{d.reparse_tag:08x}"})
            elif d.link_group and d.link_group in links:
                yield Member(name, EntryKind.HARDLINK, mtime=d.mtime, link_target=links[d.link_group])
            else:
                if d.link_group:
                    links[d.link_group] = name
                yield from file(name, d.data_hash, d.mtime)
            for sname, shash in d.named_streams:
                yield from file(f"{name}:{sname}", shash, d.mtime)
        deferred.sort(key=lambda t: (t[0], t[1]))
        for _, _, name, hsh, mtime in deferred:
            yield reader.member(name, hsh, mtime)

    def _stream_members(self, stream: BinaryIO, blobs: list[Blob], hdr: WimHeader, file_size: int,
                        ctx: UnpackContext) -> Iterator[Member]:
        """One member per stream of the lookup table, for WIMs whose file tree cannot be decoded."""
        for blob in blobs:
            name = f"[streams]/{blob.sha1.hex()}"
            meta = {"sha1": blob.sha1.hex(), "refcount": blob.refcount, "compressed": blob.res.compressed}
            readable = not blob.res.compressed and not blob.res.flags & RES_SOLID and blob.part in (0, hdr.part)
            in_file = blob.part in (0, hdr.part) and not blob.res.flags & RES_SOLID  # solid: offset is in-resource
            if in_file and blob.res.offset + blob.res.stored_size > file_size:
                ctx.problem(name, f"stream at offset {blob.res.offset} ({blob.res.stored_size} bytes) runs past "
                            f"the end of the file ({file_size} bytes)", "error")
                readable = False
            yield Member(name, EntryKind.FILE, size=blob.res.original_size, stored_size=blob.res.stored_size,
                         meta=meta, open=self._plain_opener(stream, blob) if readable else None)

    @staticmethod
    def _plain_opener(stream: BinaryIO, blob: Blob) -> Any:
        return lambda: _Sha1Checked(RangeReader(stream, blob.res.offset, blob.res.original_size), blob.sha1)


class _BlobReader:
    """Turns a stream's SHA-1 into a member: sizes, stored size, and an opener checked against the SHA-1."""

    def __init__(self, stream: BinaryIO, hdr: WimHeader, codec: Codec, by_hash: dict[bytes, Blob],
                 in_solid: dict[bytes, SolidBlob], file_size: int, ctx: UnpackContext) -> None:
        self.stream = stream
        self.hdr = hdr
        self.codec = codec
        self.by_hash = by_hash
        self.in_solid = in_solid
        self.file_size = file_size
        self.ctx = ctx
        self._solid: dict[int, ChunkedResource | WalkError] = {}
        #: Streams whose stored bytes a member already carries: the editions of a WIM share most streams.
        self._stored: set[bytes] = set()
        #: Files whose stream the lookup table lacks, in a part of a spanned WIM (the other parts hold them).
        self.elsewhere = 0

    def _solid_resource(self, solid: SolidResource) -> ChunkedResource:
        """The solid resource's decoder, set up once (its failure is reported once, on the container)."""
        got = self._solid.get(solid.index)
        if got is None:
            where = f"solid resource {solid.index} at offset {solid.res.offset}"
            try:
                if solid.compression not in wimcodec.MAX_CHUNK:
                    raise Unsupported(f"WIM: {where} uses compression {solid.compression}, not decoded")
                if solid.chunk_size <= 0 or solid.chunk_size & (solid.chunk_size - 1):
                    raise FormatError(f"WIM: {where} has chunk size {solid.chunk_size}, not a power of two")
                self.codec.check_window(solid.compression, solid.chunk_size, where)
                offsets = chunk_offsets(self.stream, solid.res.offset, solid.res.stored_size, solid.original_size,
                                        solid.chunk_size, True, where)
                got = ChunkedResource(self.stream, offsets, solid.original_size, solid.chunk_size,
                                      solid.compression, self.codec, where)
            except WalkError as exc:
                got = exc
                self.ctx.problem(None, f"{exc}; its files are listed without content",
                                 str(getattr(exc, "kind", "error")), limit=getattr(exc, "limit", None))
            self._solid[solid.index] = got
        if isinstance(got, WalkError):
            raise got
        return got

    def opener(self, hsh: bytes) -> Any:
        """A function opening the stream's decoded content, checked against its SHA-1 (``None``: unreadable)."""
        loc = self.in_solid.get(hsh)
        if loc is not None:
            try:
                chunked = self._solid_resource(loc.solid)
            except WalkError:
                return None
            return lambda: _Sha1Checked(ResourceReader(self.stream, loc.solid.res, loc.solid.chunk_size,
                                                       loc.solid.compression, self.codec, chunked=chunked,
                                                       start=loc.offset, length=loc.size), hsh)
        blob = self.by_hash[hsh]
        if blob.res.compressed:
            return lambda: _Sha1Checked(ResourceReader(self.stream, blob.res, self.hdr.chunk_size,
                                                       self.hdr.compression, self.codec), hsh)
        return lambda: _Sha1Checked(RangeReader(self.stream, blob.res.offset, blob.res.original_size), hsh)

    def member(self, name: str, hsh: bytes, mtime: float | None) -> Member:
        """The file member for a stream (an empty file for the all-zero hash).

        A stream is stored once however many files (in however many images) hold it: the first member
        that names it carries its stored bytes, every later one 0 and the stream's SHA-1 as its
        ``content_key``, so the walker reads it once (an install.wim's editions share most of their files).
        """
        if hsh == _ZERO_HASH:
            return Member(name, EntryKind.FILE, size=0, stored_size=0, mtime=mtime, open=lambda: io.BytesIO())
        meta: dict[str, Any] = {"sha1": hsh.hex()}
        loc = self.in_solid.get(hsh)
        if loc is not None:
            meta["solid_resource"] = loc.solid.index
            stored = self._stored_once(hsh, loc.solid.share(loc.size))
            return Member(name, EntryKind.FILE, size=loc.size, stored_size=stored, mtime=mtime, meta=meta,
                          open=self.opener(hsh), content_key=hsh)
        blob = self.by_hash.get(hsh)
        if blob is None:
            if self.hdr.total_parts > 1:
                self.elsewhere += 1  # said once for the container (``WimHandler._members``), not per file
            else:
                self.ctx.problem(name, f"stream {hsh.hex()} missing from the lookup table", "error")
            return Member(name, EntryKind.FILE, mtime=mtime, meta=meta)
        stored = self._stored_once(hsh, blob.res.stored_size)
        if blob.res.offset + blob.res.stored_size > self.file_size:
            self.ctx.problem(name, f"stream at offset {blob.res.offset} ({blob.res.stored_size} bytes) runs past "
                             f"the end of the file ({self.file_size} bytes)", "error")
            return Member(name, EntryKind.FILE, size=blob.res.original_size, stored_size=stored, mtime=mtime,
                          meta=meta)
        return Member(name, EntryKind.FILE, size=blob.res.original_size, stored_size=stored, mtime=mtime, meta=meta,
                      open=self.opener(hsh), content_key=hsh)

    def _stored_once(self, hsh: bytes, stored: int) -> int:
        """``stored`` for the first member holding stream ``hsh``, 0 for the others."""
        if hsh in self._stored:
            return 0
        self._stored.add(hsh)
        return stored

    def reparse_target(self, d: Dentry) -> str | None:
        """The print name of a symlink/junction reparse point (``None`` when it cannot be read)."""
        if d.reparse_tag not in (REPARSE_SYMLINK, REPARSE_MOUNT_POINT):
            return None
        blob = self.by_hash.get(d.data_hash)
        loc = self.in_solid.get(d.data_hash)
        size = loc.size if loc else blob.res.original_size if blob else None
        if size is None or size > MAX_REPARSE:
            return None
        if blob is not None and blob.res.offset + blob.res.stored_size > self.file_size:
            return None
        try:
            opener = self.opener(d.data_hash)
            if opener is None:
                return None
            data = opener().read(MAX_REPARSE)
            sub_off, sub_len, pr_off, pr_len = struct.unpack_from("<HHHH", data, 0)
            # WIM stores reparse data without the 8-byte tag/length header; symlinks have 4 flag bytes.
            base = 12 if d.reparse_tag == REPARSE_SYMLINK else 8
            off, ln = (pr_off, pr_len) if pr_len else (sub_off, sub_len)
            text = data[base + off : base + off + ln].decode("utf-16-le", "replace").replace("\\", "/")
            return display_name(text) or None
        except (struct.error, WalkError):
            return None


class _Sha1Checked(io.RawIOBase):
    """A stream's content checked against the SHA-1 the WIM's lookup table records for it.

    A chunk damaged in a way the decoder cannot notice still yields bytes; the hash catches it when the
    stream ends, so corrupt content is reported (and not hashed into the inventory) instead of listed.
    """

    def __init__(self, inner: Any, expected: bytes) -> None:
        super().__init__()
        self._inner = inner
        self._expected = expected
        self._sha1 = hashlib.sha1(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._inner.readinto(b) or 0
        if n:
            self._sha1.update(memoryview(b)[:n])
        elif self._sha1.digest() != self._expected:
            raise FormatError(f"content does not match its SHA-1 in the WIM lookup table "
                              f"({self._sha1.hexdigest()} != {self._expected.hex()}): corrupt")
        return n
