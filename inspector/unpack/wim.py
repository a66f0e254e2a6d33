"""Windows Imaging (WIM) files: ``install.wim`` / ``boot.wim``, read in pure Python.

Always read (any compression): the 208-byte header, the resource lookup table (one 50-byte entry per
stream: resource header, part number, reference count, SHA-1) and the UTF-16 XML image descriptions
(names, directory/file counts, total bytes). Those three are stored uncompressed even in LZX WIMs, so
image names, counts and stored vs original sizes are reported for every WIM.

Listed file by file when the metadata resources can be decoded (uncompressed, XPRESS and LZX WIMs,
chunks decoded by ``xpress.py`` / ``lzx.py``): each image's directory tree (security data skipped,
dentries walked iteratively), with file content decoded chunk by chunk on demand. Single-image WIMs
list paths as they are; multi-image WIMs prefix the image index (``2/Windows/...``), as 7-Zip does.
Hard links after the first are ``hardlink`` members; named data streams are members ``path:stream``.

LZMS and solid WIMs/ESDs: the file tree cannot be decoded here; each stream of the lookup table is
listed as ``[streams]/<sha1>`` with its original and stored size (streams stored uncompressed are
still read and hashed), and an ``unsupported`` problem says what was not decoded.
"""

from __future__ import annotations

import hashlib
import io
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from inspector.limits import LimitExceeded
from inspector.model import EntryKind
from inspector.names import display_name
from inspector.streams import RangeReader
from inspector.unpack import lzx, xpress
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


class ResourceReader(io.RawIOBase):
    """The decoded content of one resource, read chunk by chunk (uncompressed, XPRESS or LZX)."""

    def __init__(self, fh: BinaryIO, res: ResHdr, chunk_size: int, compression: str) -> None:
        super().__init__()
        self._fh = fh
        self._res = res
        self._chunk = chunk_size
        self._compression = compression
        self._buf = b""
        self._next = 0  # next chunk to decode
        self._offsets: list[int] | None = None
        self._nchunks = (res.original_size + chunk_size - 1) // chunk_size if res.compressed else 0

    def readable(self) -> bool:
        return True

    def _read_at(self, offset: int, n: int) -> bytes:
        self._fh.seek(offset)
        data = self._fh.read(n)
        if len(data) != n:
            raise FormatError(f"WIM: resource at offset {offset} runs past the end of the file")
        return data

    def _chunk_table(self) -> list[int]:
        n = self._nchunks
        width = 8 if self._res.original_size > 0xFFFFFFFF else 4
        table_size = (n - 1) * width
        if table_size > self._res.stored_size:
            raise FormatError(f"WIM: chunk table of resource at offset {self._res.offset} larger than the resource")
        raw = self._read_at(self._res.offset, table_size)
        starts = [0] + list(struct.unpack(f"<{n - 1}{'Q' if width == 8 else 'I'}", raw))
        data_size = self._res.stored_size - table_size
        ends = starts[1:] + [data_size]
        if any(a > b for a, b in zip(starts, ends, strict=True)):
            raise FormatError(f"WIM: chunk table of resource at offset {self._res.offset} is not ascending")
        return [self._res.offset + table_size + s for s in starts] + [self._res.offset + table_size + data_size]

    def _decode_next(self) -> bytes:
        if self._offsets is None:
            self._offsets = self._chunk_table()
        i = self._next
        self._next += 1
        start, end = self._offsets[i], self._offsets[i + 1]
        usize = min(self._chunk, self._res.original_size - i * self._chunk)
        data = self._read_at(start, end - start)
        if len(data) == usize:
            return data  # stored raw: did not compress
        if self._compression == "lzx":
            try:
                return lzx.decompress(data, usize, self._chunk)
            except lzx.LzxError as exc:
                raise FormatError(f"WIM: corrupt LZX chunk {i} of resource at offset {self._res.offset}: "
                                  f"{exc}") from None
        if self._compression != "xpress":
            raise FormatError(f"WIM: {self._compression} chunks cannot be decoded")
        try:
            return xpress.decompress(data, usize)
        except (xpress.XpressError, IndexError) as exc:
            raise FormatError(f"WIM: corrupt XPRESS chunk {i} of resource at offset {self._res.offset}: "
                              f"{exc}") from None

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if not self._res.compressed:
            # plain resource: a window of the file
            if self._next >= self._res.original_size:
                return 0
            n = min(len(view), self._res.original_size - self._next)
            data = self._read_at(self._res.offset + self._next, n)
            view[:n] = data
            self._next += n
            return n
        while not self._buf:
            if self._next >= self._nchunks:
                return 0
            self._buf = self._decode_next()
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _read_resource(fh: BinaryIO, res: ResHdr, hdr: WimHeader, cap: int, what: str) -> bytes:
    if res.original_size > cap:
        raise LimitExceeded(f"WIM: {what} of {res.original_size} bytes exceeds the {cap}-byte cap")
    return ResourceReader(fh, res, hdr.chunk_size, hdr.compression).readall()


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


class WimHandler:
    """Reads WIM files (see the module docstring for what is decoded when)."""

    name = "wim"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        """WIM files start with ``MSWIM\\0\\0\\0``."""
        return info.head.startswith(MAGIC)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Header, lookup table and XML into ``ctx.meta``; then the files (or the streams) as members."""
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
        images = parse_xml(_read_resource(stream, hdr.xml, hdr, MAX_XML, "XML data")) if hdr.xml.stored_size else []
        if images:
            meta["images"] = [i.as_meta() for i in images]
        blobs = parse_lookup(_read_resource(stream, hdr.lookup, hdr, MAX_LOOKUP, "lookup table"))
        data_blobs = [b for b in blobs if not b.res.flags & RES_METADATA]
        metadata = [b for b in blobs if b.res.flags & RES_METADATA]
        meta["streams"] = {
            "count": len(data_blobs),
            "original_bytes": sum(b.res.original_size for b in data_blobs),
            "stored_bytes": sum(b.res.stored_size for b in data_blobs),
            "metadata_stored_bytes": sum(b.res.stored_size for b in metadata),
        }
        if len(metadata) != hdr.image_count:
            ctx.problem(None, f"header says {hdr.image_count} images, lookup table has {len(metadata)} "
                        "metadata resources", "mismatch")
        by_hash = {b.sha1: b for b in data_blobs}
        decodable = hdr.compression in ("none", "xpress", "lzx") and not any(b.res.flags & RES_SOLID for b in blobs)
        if hdr.total_parts > 1:
            ctx.problem(None, f"spanned WIM part {hdr.part} of {hdr.total_parts}: streams in other parts "
                        "not read", "unsupported")
        if not decodable:
            what = "LZMS/solid" if hdr.compression == "lzms" or hdr.version == 0xE00 else hdr.compression.upper()
            ctx.problem(None, f"{what}-compressed WIM: header, lookup table and XML read; file data not decoded",
                        "unsupported")
            meta["decoded"] = False
            yield from self._stream_members(stream, data_blobs, hdr, file_size, ctx)
            return
        meta["decoded"] = True
        multi = len(metadata) > 1
        for n, mblob in enumerate(metadata, 1):
            prefix = f"{n}/" if multi else ""
            if mblob.res.offset + mblob.res.stored_size > file_size:
                ctx.problem(prefix.rstrip("/") or None, f"metadata resource of image {n} at offset "
                            f"{mblob.res.offset} runs past the end of the file ({file_size} bytes); image not "
                            "listed", "error")
                continue
            if multi:
                yield Member(f"{n}", EntryKind.DIR)
            mdata = _read_resource(stream, mblob.res, hdr, MAX_METADATA, f"metadata of image {n}")
            yield from self._image_members(stream, mdata, prefix, by_hash, hdr, file_size, ctx)

    def _opener(self, stream: BinaryIO, blob: Blob, hdr: WimHeader) -> Any:
        if blob.res.compressed:
            return lambda: _Sha1Checked(ResourceReader(stream, blob.res, hdr.chunk_size, hdr.compression), blob.sha1)
        return lambda: _Sha1Checked(RangeReader(stream, blob.res.offset, blob.res.original_size), blob.sha1)

    def _file(self, name: str, hsh: bytes, by_hash: dict[bytes, Blob], hdr: WimHeader, file_size: int,
              stream: BinaryIO, ctx: UnpackContext, mtime: float | None) -> Member:
        if hsh == _ZERO_HASH:
            return Member(name, EntryKind.FILE, size=0, stored_size=0, mtime=mtime, open=lambda: io.BytesIO())
        blob = by_hash.get(hsh)
        meta = {"sha1": hsh.hex()}
        if blob is None:
            ctx.problem(name, f"stream {hsh.hex()} missing from the lookup table", "error")
            return Member(name, EntryKind.FILE, mtime=mtime, meta=meta)
        if blob.res.offset + blob.res.stored_size > file_size:
            ctx.problem(name, f"stream at offset {blob.res.offset} ({blob.res.stored_size} bytes) runs past the "
                        f"end of the file ({file_size} bytes)", "error")
            return Member(name, EntryKind.FILE, size=blob.res.original_size, stored_size=blob.res.stored_size,
                          mtime=mtime, meta=meta)
        return Member(name, EntryKind.FILE, size=blob.res.original_size, stored_size=blob.res.stored_size,
                      mtime=mtime, meta=meta, open=self._opener(stream, blob, hdr))

    def _image_members(self, stream: BinaryIO, mdata: bytes, prefix: str, by_hash: dict[bytes, Blob],
                       hdr: WimHeader, file_size: int, ctx: UnpackContext) -> Iterator[Member]:
        links: dict[int, str] = {}
        for d in walk_metadata(mdata):
            name = prefix + d.path
            if d.is_dir:
                yield Member(name, EntryKind.DIR, mtime=d.mtime)
            elif d.reparse_tag:
                yield Member(name, EntryKind.SYMLINK, mtime=d.mtime,
                             link_target=self._reparse_target(stream, d, by_hash, hdr, file_size),
                             meta={"reparse_tag": f"0x{d.reparse_tag:08x}"})
            elif d.link_group and d.link_group in links:
                yield Member(name, EntryKind.HARDLINK, mtime=d.mtime, link_target=links[d.link_group])
            else:
                if d.link_group:
                    links[d.link_group] = name
                yield self._file(name, d.data_hash, by_hash, hdr, file_size, stream, ctx, d.mtime)
            for sname, shash in d.named_streams:
                yield self._file(f"{name}:{sname}", shash, by_hash, hdr, file_size, stream, ctx, d.mtime)

    def _reparse_target(self, stream: BinaryIO, d: Dentry, by_hash: dict[bytes, Blob], hdr: WimHeader,
                        file_size: int) -> str | None:
        """The print name of a symlink/junction reparse point (``None`` when it cannot be read)."""
        blob = by_hash.get(d.data_hash)
        if d.reparse_tag not in (REPARSE_SYMLINK, REPARSE_MOUNT_POINT):
            return None
        if blob is None or blob.res.original_size > MAX_REPARSE or blob.res.offset + blob.res.stored_size > file_size:
            return None
        try:
            data = self._opener(stream, blob, hdr)().read(MAX_REPARSE)
            sub_off, sub_len, pr_off, pr_len = struct.unpack_from("<HHHH", data, 0)
            # WIM stores reparse data without the 8-byte tag/length header; symlinks have 4 flag bytes.
            base = 12 if d.reparse_tag == REPARSE_SYMLINK else 8
            off, ln = (pr_off, pr_len) if pr_len else (sub_off, sub_len)
            text = data[base + off : base + off + ln].decode("utf-16-le", "replace").replace("\\", "/")
            return display_name(text) or None
        except (struct.error, FormatError):
            return None

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
                         meta=meta, open=self._opener(stream, blob, hdr) if readable else None)


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
