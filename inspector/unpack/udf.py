"""UDF file systems (OSTA UDF 1.02-2.60 on ECMA-167), read by our own streaming reader.

Used for pure UDF media (``UdfHandler``: a UDF Volume Recognition Sequence and no ISO 9660 volume
descriptor, as on Blu-ray discs and ``mkudffs`` images) and, through ``udf_members``, by the ISO
reader for bridge discs (Windows media: the ISO 9660 tree holds one README, UDF holds everything).

The walk reads File Identifier Descriptors of each directory, then each File Entry / Extended File
Entry they point at; content is streamed straight from the image extent by extent (unrecorded and
sparse extents read as zeros). A file entry reached twice is a hard link: listed as a ``hardlink`` to
the first path, its content counted once. Damaged descriptors and extents beyond the image are
problems on the file that has them; loops in directories and descriptor chains are bounded.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from inspector.limits import LimitExceeded
from inspector.model import EntryKind, ProblemKind
from inspector.names import display_name
from inspector.streams import HEAD_SIZE, ReadWindow, SeekableRaw
from inspector.unpack import udf_descriptors as d
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext
from inspector.unpack.udf_descriptors import FileType, UdfError
from inspector.unpack.udf_volume import (
    MAX_CHAIN,
    VRS_START,
    Piece,
    UdfVolume,
    iso9660_recognised,
    udf_recognised,
)

__all__ = ["VRS_START", "UdfHandler", "UdfVolume", "open_volume", "udf_members", "udf_recognised"]

#: A directory's identifiers are read into memory: larger directories are a limit problem.
MAX_DIRECTORY_BYTES = 64 << 20
MAX_SYMLINK_BYTES = 64 << 10
MAX_DEPTH = 256
#: A file with no recorded extent at all is read (as zeros) only up to this size.
MAX_UNRECORDED_ONLY = 1 << 30

_FILE_TYPES = {FileType.FILE, FileType.UNSPECIFIED, FileType.REALTIME}
_OTHER_TYPES: dict[int, str] = {FileType.FIFO: "fifo", FileType.SOCKET: "socket", FileType.TERMINAL: "terminal-entry",
                FileType.STREAM_DIRECTORY: "stream-directory"}


class UdfHandler:
    """Pure UDF media: a UDF recognition sequence without an ISO 9660 volume descriptor."""

    name = "udf"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        """NSR02/NSR03 in the volume recognition area and no CD001 (those go to the ISO reader)."""
        return udf_recognised(info.head) and not iso9660_recognised(info.head)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Every file, directory and link of the UDF file set."""
        volume = open_volume(stream, ctx)
        ctx.meta["tree"] = "udf"
        ctx.meta["trees"] = ["udf"]
        if volume.info.volume_id:
            ctx.meta["volume_id"] = volume.info.volume_id
        yield from udf_members(volume, stream, ctx)


def open_volume(stream: BinaryIO, ctx: UnpackContext) -> UdfVolume:
    """Open the UDF volume of an image (anchor, descriptors, partitions, file set); ``UdfError`` if none.

    Records the UDF revision, partition map kinds and identifiers in ``ctx.meta``.
    """
    volume = UdfVolume(stream, ctx.problem)
    info = volume.info
    ctx.meta["udf"] = {
        "revision": info.udf_revision, "block_size": info.block_size, "logical_volume_id": info.logical_volume_id,
        "file_set_id": info.file_set_id, "partition_maps": list(info.partition_maps),
    }
    return volume


def udf_members(volume: UdfVolume, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
    """The members of an opened UDF volume, directories before their content, in directory order."""
    walker = _Walk(volume, stream, ctx)
    root = volume.fsd.root
    try:
        fe, at = walker.entry(root, None, "root directory")
    except UdfError as exc:
        raise FormatError(f"UDF: root directory: {exc}") from None
    if fe.file_type != FileType.DIRECTORY:
        raise FormatError(f"UDF: root directory entry has file type {fe.file_type}, not a directory")
    yield from walker.directory(fe, at, "", frozenset({(root.partition, root.lbn)}), 0)


class _Walk:
    def __init__(self, volume: UdfVolume, stream: BinaryIO, ctx: UnpackContext) -> None:
        self.volume = volume
        self.stream = stream
        self._window = ReadWindow(stream)
        self.ctx = ctx
        self.files: dict[tuple[int, int], str] = {}
        self.dirs: dict[tuple[int, int], str] = {}

    # -- ICBs -------------------------------------------------------------------------------------
    def entry(self, icb: d.AllocDesc, where: str | None, what: str) -> tuple[d.FileEntry, d.AllocDesc]:
        """The file entry an ICB address points at, following indirect entries (strategy 4096), and
        where that entry really is (embedded identifiers carry that block as their tag location)."""
        vol = self.volume
        part, lbn = icb.partition, icb.lbn
        seen: set[tuple[int, int]] = set()
        while True:
            if (part, lbn) in seen or len(seen) > 64:
                raise UdfError(f"{what}: indirect entries loop at block {lbn}")
            seen.add((part, lbn))
            fe_or_ie: d.FileEntry | d.AllocDesc = vol.read_descriptor(
                part, lbn, functools.partial(self._icb, at=lbn), where, what)
            if isinstance(fe_or_ie, d.AllocDesc):
                part, lbn = fe_or_ie.partition, fe_or_ie.lbn
                continue
            fe = fe_or_ie
            if fe.strategy == 4096:
                nxt = self._next_indirect(part, lbn + 1)
                if nxt is not None and (nxt.partition, nxt.lbn) not in seen:
                    part, lbn = nxt.partition, nxt.lbn
                    continue
            if not d.ad_kind_valid(fe.icb_flags):
                raise UdfError(f"{what}: allocation descriptor type {fe.icb_flags & 7} is not defined")
            return fe, d.AllocDesc(icb.kind, icb.length, lbn, part)

    def _icb(self, buf: bytes, at: int) -> d.FileEntry | d.AllocDesc:
        tag = d.parse_tag(buf, "file entry", at)
        if tag.ident == d.TAG_IE:
            return d.long_ad(buf[36:52])
        return d.parse_file_entry(buf, at, self.volume.block)

    def _next_indirect(self, part: int, lbn: int) -> d.AllocDesc | None:
        try:
            buf = self.volume.read(part, lbn, self.volume.block, "indirect entry")
            tag = d.parse_tag(buf, "indirect entry", lbn)
        except UdfError:
            return None
        if tag.ident != d.TAG_IE:
            return None
        ad = d.long_ad(buf[36:52])
        return ad if ad.length else None

    # -- directories ------------------------------------------------------------------------------
    def directory(self, fe: d.FileEntry, icb: d.AllocDesc, prefix: str, ancestors: frozenset[tuple[int, int]],
                  depth: int) -> Iterator[Member]:
        """The members under one directory (recursively)."""
        where = prefix.rstrip("/") or None
        try:
            fids = self._identifiers(fe, icb, where)
        except UdfError as exc:
            self.ctx.problem(where, f"directory not read: {exc}", ProblemKind.ERROR)
            return
        names: set[str] = set()
        for fid in fids:
            if fid.is_parent or fid.is_deleted:
                continue
            name = self._name(fid, prefix, names)
            rel = prefix + name
            key = (fid.icb.partition, fid.icb.lbn)
            try:
                child, at = self.entry(fid.icb, rel, "file entry")
            except UdfError as exc:
                self.ctx.problem(rel, str(exc), ProblemKind.ERROR)
                continue
            if child.file_type == FileType.DIRECTORY:
                if key in ancestors:
                    self.ctx.problem(rel, "directory points back at an ancestor (loop); not followed",
                                     ProblemKind.ERROR)
                    continue
                if key in self.dirs:
                    self.ctx.problem(rel, f"directory is the same entry as '{self.dirs[key]}' (a directory "
                                     "hard link); not followed again", ProblemKind.ERROR)
                    continue
                self.dirs[key] = rel
                yield Member(rel, EntryKind.DIR, mode=child.mode, mtime=child.mtime)
                if depth + 1 >= MAX_DEPTH:
                    self.ctx.problem(rel, f"directories nested deeper than {MAX_DEPTH} levels; not read",
                                     ProblemKind.LIMIT)
                    continue
                yield from self.directory(child, at, rel + "/", ancestors | {key}, depth + 1)
                continue
            yield from self._leaf(child, at, rel, key)

    def _name(self, fid: d.FileIdent, prefix: str, names: set[str]) -> str:
        raw = fid.name
        if fid.name_note:
            self.ctx.problem(prefix + display_name(raw), f"file identifier: {fid.name_note}; name escaped",
                             ProblemKind.WARNING)
        name = display_name(raw).replace("/", "\\x2f")
        if not name:
            name = "\\x00"
            self.ctx.problem(prefix + name, "file identifier is empty; listed as '\\x00'", ProblemKind.WARNING)
        names.add(name)
        return name

    def _identifiers(self, fe: d.FileEntry, icb: d.AllocDesc, where: str | None) -> list[d.FileIdent]:
        if fe.info_length > MAX_DIRECTORY_BYTES:
            raise UdfError(f"{fe.info_length} bytes of identifiers, more than the {MAX_DIRECTORY_BYTES} "
                           "read per directory")
        vol = self.volume
        if fe.ad_kind is d.AdKind.EMBEDDED:
            if fe.info_length > len(fe.ad_area):
                raise UdfError(f"embedded directory of {fe.info_length} bytes in a {len(fe.ad_area)}-byte area")
            data = fe.ad_area[:fe.info_length]
            fids, err = d.parse_fids(data, lambda _off: icb.lbn)
        else:
            ads = vol.file_ads(fe, icb.partition)
            data, block_of = self._directory_bytes(ads, fe.info_length, mirror=False)
            fids, err = d.parse_fids(data, block_of)
            if err and any(vol.has_mirror(a.partition) for a in ads):
                try:
                    data2, block_of2 = self._directory_bytes(ads, fe.info_length, mirror=True)
                    fids2, err2 = d.parse_fids(data2, block_of2)
                except UdfError:
                    err2, fids2 = err, fids
                if not err2:
                    self.ctx.problem(where, f"directory: main metadata copy damaged ({err}); read from the "
                                     "metadata mirror file", ProblemKind.WARNING)
                    return fids2
        if err:
            self.ctx.problem(where, f"directory: {err}; the rest of it is not listed", ProblemKind.ERROR)
        return fids

    def _directory_bytes(self, ads: list[d.AllocDesc], length: int, mirror: bool
                         ) -> tuple[bytes, Callable[[int], int]]:
        vol = self.volume
        parts: list[bytes] = []
        starts: list[int] = []
        blocks: list[int] = []
        pos = 0
        for ad in ads:
            take = min(ad.length, length - pos)
            if take <= 0:
                break
            starts.append(pos)
            blocks.append(ad.lbn)
            if ad.kind is d.ExtentType.RECORDED:
                parts.append(vol.read(ad.partition, ad.lbn, take, "directory",
                                      mirror=mirror and vol.has_mirror(ad.partition)))
            else:
                parts.append(bytes(take))
            pos += take
        if pos < length:
            raise UdfError(f"allocation descriptors cover {pos} of its {length} bytes")
        bs = vol.block

        def block_of(off: int) -> int:
            i = bisect.bisect_right(starts, off) - 1
            return blocks[i] + (off - starts[i]) // bs

        return b"".join(parts), block_of

    # -- files, links, devices --------------------------------------------------------------------
    def _leaf(self, fe: d.FileEntry, icb: d.AllocDesc, rel: str, key: tuple[int, int]) -> Iterator[Member]:
        ftype = fe.file_type
        if ftype in _FILE_TYPES and key in self.files:
            yield Member(rel, EntryKind.HARDLINK, mode=fe.mode, mtime=fe.mtime, link_target=self.files[key])
            return
        if ftype == FileType.SYMLINK:
            yield Member(rel, EntryKind.SYMLINK, mode=fe.mode, mtime=fe.mtime, link_target=self._symlink(fe, icb, rel))
            return
        if ftype in (FileType.BLOCK_DEVICE, FileType.CHAR_DEVICE):
            meta: dict[str, Any] = {"device": "block" if ftype == FileType.BLOCK_DEVICE else "char"}
            numbers = d.device_numbers(fe.ea)
            if numbers is None:
                self.ctx.problem(rel, "device entry has no device specification extended attribute; "
                                 "major/minor unknown", ProblemKind.WARNING)
            else:
                meta["major"], meta["minor"] = numbers
            yield Member(rel, EntryKind.DEVICE, mode=fe.mode, mtime=fe.mtime, meta=meta)
            return
        if ftype in _OTHER_TYPES:
            yield Member(rel, EntryKind.OTHER, mode=fe.mode, mtime=fe.mtime, meta={"udf_type": _OTHER_TYPES[ftype]})
            return
        if ftype not in _FILE_TYPES:
            self.ctx.problem(rel, f"file entry of type {ftype} in a directory; listed as 'other'",
                             ProblemKind.WARNING)
            yield Member(rel, EntryKind.OTHER, mode=fe.mode, mtime=fe.mtime, meta={"udf_type": int(ftype)})
            return
        self.files[key] = rel
        meta = {"link_count": fe.link_count} if fe.link_count > 1 else {}
        if fe.stream_dir is not None:
            meta["udf_named_streams"] = "present, not listed"
        if fe.ad_kind is d.AdKind.EMBEDDED:
            if fe.info_length > len(fe.ad_area):
                yield Member(rel, EntryKind.FILE, size=fe.info_length, mode=fe.mode, mtime=fe.mtime, meta=meta,
                             open=_fail(f"embedded data of {fe.info_length} bytes in a {len(fe.ad_area)}-byte "
                                        "allocation area"))
                return
            data = fe.ad_area[:fe.info_length]
            yield Member(rel, EntryKind.FILE, size=len(data), stored_size=len(data), mode=fe.mode, mtime=fe.mtime,
                         meta={**meta, "embedded": True}, open=lambda: _Bytes(data), data=data)
            return
        try:
            pieces = self.volume.file_pieces(fe, icb.partition, "file data")
        except UdfError as exc:
            yield Member(rel, EntryKind.FILE, size=fe.info_length, mode=fe.mode, mtime=fe.mtime, meta=meta,
                         open=_fail(str(exc)))
            return
        stored = sum(p.length for p in pieces if p.image_offset is not None)
        if stored < fe.info_length:
            meta["sparse"] = True
        if stored == 0 and fe.info_length > MAX_UNRECORDED_ONLY:
            # Nothing recorded, so the walker's expansion-ratio guard has no base: a few descriptors
            # could otherwise make us hash terabytes of zeros.
            yield Member(rel, EntryKind.FILE, size=fe.info_length, stored_size=0, mode=fe.mode, mtime=fe.mtime,
                         meta=meta, open=_limit(f"sparse file of {fe.info_length} bytes with no recorded data "
                                                f"(more than {MAX_UNRECORDED_ONLY}); its zeros are not hashed"))
            return
        yield Member(rel, EntryKind.FILE, size=fe.info_length, stored_size=stored, mode=fe.mode, mtime=fe.mtime,
                     meta=meta, open=lambda: PieceReader(self.stream, pieces, fe.info_length),
                     data=_small_content(self._window, pieces, fe.info_length))

    def _symlink(self, fe: d.FileEntry, icb: d.AllocDesc, rel: str) -> str | None:
        if fe.info_length > MAX_SYMLINK_BYTES:
            self.ctx.problem(rel, f"symbolic link of {fe.info_length} bytes; target not read", ProblemKind.LIMIT)
            return None
        try:
            if fe.ad_kind is d.AdKind.EMBEDDED:
                data = fe.ad_area[:fe.info_length]
            else:
                pieces = self.volume.file_pieces(fe, icb.partition, "symbolic link")
                data = PieceReader(self.stream, pieces, fe.info_length).read()
            return symlink_target(data)
        except (UdfError, FormatError) as exc:
            self.ctx.problem(rel, f"symbolic link target not read: {exc}", ProblemKind.ERROR)
            return None


def symlink_target(data: bytes) -> str:
    """A UDF symbolic link's path components (ECMA-167 4/14.16) joined with ``/``."""
    parts: list[str] = []
    absolute = False
    off = 0
    count = 0
    while off + 4 <= len(data):
        ctype, length = data[off], data[off + 1]
        ident = data[off + 4:off + 4 + length]
        if off + 4 + length > len(data):
            raise UdfError(f"symbolic link: path component at byte {off} runs past the link's data")
        if ctype in (1, 2):
            parts, absolute = [], True
        elif ctype == 3:
            parts.append("..")
        elif ctype == 4:
            parts.append(".")
        elif ctype == 5:
            parts.append(display_name(d.cs0(ident)[0]).replace("/", "\\x2f"))
        else:
            raise UdfError(f"symbolic link: path component type {ctype} at byte {off}")
        off += 4 + length
        count += 1
        if count > MAX_CHAIN:
            raise UdfError("symbolic link: too many path components")
    return ("/" if absolute else "") + "/".join(parts)


_ZEROS = bytes(1 << 20)
_ZEROS_VIEW = memoryview(_ZEROS)


def _small_content(window: ReadWindow, pieces: list[Piece], length: int) -> bytes | None:
    """A small file's whole content when one recorded piece holds it, read with its entry (``Member.data``):
    cheaper than a stream the walker opens and sniffs. None (the walker opens ``PieceReader``, which says
    why) for anything else, or when the image gives fewer bytes."""
    if len(pieces) != 1 or not 0 < length <= HEAD_SIZE:
        return None
    piece = pieces[0]
    if piece.image_offset is None or piece.file_offset != 0 or piece.length < length:
        return None
    return window.whole(piece.image_offset, length)


class PieceReader(SeekableRaw):
    """A file's content from its pieces: image ranges read as they are, unrecorded ones as zeros."""

    def __init__(self, fh: BinaryIO, pieces: list[Piece], length: int) -> None:
        super().__init__(length)
        self._fh = fh
        self._pieces = pieces
        self._starts = [p.file_offset for p in pieces]

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill ``b`` from the piece holding the current position (one piece per call)."""
        view = memoryview(b).cast("B")
        if self._pos >= self._length or not len(view):
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        p = self._pieces[i]
        inside = self._pos - p.file_offset
        n = min(len(view), p.length - inside, self._length - self._pos)
        if p.image_offset is None:
            n = min(n, len(_ZEROS))
            view[:n] = _ZEROS_VIEW[:n]
            got = n
        else:
            self._fh.seek(p.image_offset + inside)
            got = self._fh.readinto(view[:n]) or 0  # type: ignore[attr-defined]
            if got == 0:
                raise FormatError(f"truncated image: file data ends at byte {self._pos} of {self._length}")
        self._pos += got
        return got


class _Bytes(PieceReader):
    def __init__(self, data: bytes) -> None:
        import io

        super().__init__(io.BytesIO(data), [Piece(0, len(data), 0)], len(data))


def _limit(reason: str) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        raise LimitExceeded(reason)

    return opener


def _fail(reason: str) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        raise UdfError(reason)

    return opener
