"""Walk one ISO 9660 name tree record by record: plain ISO 9660, ISO 9660:1999, Joliet or Rock Ridge.

Every member's path is built from the names stored in the records of its directories, never looked up
again by path, so a name holding ``/`` or a lone UTF-16 surrogate is escaped and its siblings are all
listed. Files are checked against the image: data past its end is an error on that file, never clamped.
Multi-extent files (ISO 9660 level 3) are read over all their extents; records sharing one extent are
hard links (listed once with content, then as links); zisofs files are decompressed; Rock Ridge device
nodes, symlinks, modes, times and relocated deep directories (``CL``/``RE``) are honoured.

Bounded work on hostile images: each directory extent is walked once (a second record pointing at it is
listed, not walked again), a directory holds at most ``MAX_RECORDS_PER_DIRECTORY`` records and one
extent is shared by at most ``MAX_RECORDS_PER_EXTENT`` records; each limit is reported once, with a count.
"""

from __future__ import annotations

import bisect
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from inspector.limits import Unsupported
from inspector.model import EntryKind, ProblemKind
from inspector.names import display_name
from inspector.streams import HEAD_SIZE, ReadWindow, SeekableRaw
from inspector.unpack.base import FormatError, Member, UnpackContext
from inspector.unpack.iso9660 import (
    MAX_DIRECTORY_BYTES,
    SECTOR,
    DirRecord,
    Volume,
    VolumeDescriptor,
    read_directory,
)
from inspector.unpack.iso9660_rr import RockRidge, find_sp, parse
from inspector.unpack.iso9660_zisofs import ZisofsReader

#: More records than this in one directory are not listed (a real one has a few thousand at most).
MAX_RECORDS_PER_DIRECTORY = 250_000
#: More records than this pointing at one file's data are not listed (hard links of one file).
MAX_RECORDS_PER_EXTENT = 1_000
#: Problems of one kind named one by one per image; the rest are counted in one closing line.
MAX_NAMED_PROBLEMS = 5
_NO_RR = RockRidge()
_RR_MOVED = ("rr_moved", ".rr_moved")


@dataclass(frozen=True)
class Tree:
    """One name tree of the image: its kind, its volume descriptor and (Rock Ridge) the SUSP skip."""

    name: str
    descriptor: VolumeDescriptor
    susp_skip: int = 0


def available_trees(volume: Volume, stream: BinaryIO) -> list[Tree]:
    """The ISO 9660 name trees of ``volume``, richest first: Rock Ridge, Joliet, ISO 9660:1999, plain.

    Rock Ridge is present when the root's ``.`` record starts with a SUSP ``SP`` entry.
    """
    out: list[Tree] = []
    primary = volume.first("primary")
    if primary is not None:
        skip = _root_sp(stream, primary)
        if skip is not None:
            out.append(Tree("rock-ridge", primary, skip))
    for kind, name in (("joliet", "joliet"), ("enhanced", "iso9660-1999")):
        d = volume.first(kind)
        if d is not None:
            out.append(Tree(name, d))
    if primary is not None:
        out.append(Tree("iso9660", primary))
    return out


def _root_sp(stream: BinaryIO, d: VolumeDescriptor) -> int | None:
    problems: list[str] = []
    root = d.root
    first = next(read_directory(stream, root.extent * d.block_size, min(root.data_length, SECTOR), problems), None)
    return find_sp(first.system_use) if first is not None else None


def _utf16(raw: bytes) -> tuple[str, bool]:
    """UCS-2/UTF-16BE text; lone surrogates and an odd trailing byte become ``\\uXXXX``/``\\xNN`` escapes."""
    tail = raw[-1:] if len(raw) % 2 else b""
    body = raw[: len(raw) - len(tail)]
    try:
        text = body.decode("utf-16-be")
        clean = True
    except UnicodeDecodeError:
        units = struct.unpack(f">{len(body) // 2}H", body)
        chars: list[str] = []
        i = 0
        while i < len(units):
            u = units[i]
            if 0xD800 <= u < 0xDC00 and i + 1 < len(units) and 0xDC00 <= units[i + 1] < 0xE000:
                chars.append(chr(0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00)))
                i += 2
                continue
            chars.append(f"\\u{u:04x}" if 0xD800 <= u < 0xE000 else chr(u))
            i += 1
        text = "".join(chars)
        clean = False
    if tail:
        text += f"\\x{tail[0]:02x}"
        clean = False
    return text, clean


def _strip_version(text: str, plain: bool) -> str:
    stem, sep, version = text.rpartition(";")
    if sep and (version.isdigit() or plain):
        text = stem
        if plain and text.endswith(".") and len(text) > 1:
            text = text[:-1]
    return text


def record_name(identifier: bytes, tree: str, rr: RockRidge) -> tuple[str, bool]:
    """The member name of a record in ``tree`` and whether it was stored cleanly (no escapes needed).

    A ``/`` inside a stored name is escaped as ``\\x2f``: a name is one path component, never two.
    """
    if tree == "rock-ridge" and rr.name is not None:
        raw = rr.name
        text = display_name(raw)
        clean = text == raw.decode("utf-8", "replace")
    elif tree == "joliet":
        decoded, clean = _utf16(identifier)
        decoded = _strip_version(decoded, False)
        text = display_name(decoded)
        clean = clean and text == decoded
    else:
        try:
            decoded = identifier.decode("utf-8")
            clean = True
        except UnicodeDecodeError:
            decoded = identifier.decode("utf-8", "backslashreplace")
            clean = False
        decoded = _strip_version(decoded, tree != "iso9660-1999")
        text = display_name(decoded)
        clean = clean and text == decoded
    if "/" in text or not text:
        text = text.replace("/", "\\x2f") or "\\x00"
        clean = False
    return text, clean


class ExtentsReader(SeekableRaw):
    """A file's content over one or more extents of the image, as one seekable stream.

    The extents were checked against the image size; an image that still ends early (it shrank, or a
    stream lies about its size) raises ``FormatError`` instead of giving a short file.
    """

    def __init__(self, fh: BinaryIO, pieces: list[tuple[int, int]]) -> None:
        super().__init__(sum(n for _, n in pieces))
        self._fh = fh
        self._pieces = pieces
        self._starts: list[int] = []
        at = 0
        for _, n in pieces:
            self._starts.append(at)
            at += n

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if self._pos >= self._length or not len(view):
            return 0
        i = bisect.bisect_right(self._starts, self._pos) - 1
        offset, n = self._pieces[i]
        inner = self._pos - self._starts[i]
        want = min(len(view), n - inner)
        self._fh.seek(offset + inner)
        got = self._fh.readinto(view[:want]) or 0  # type: ignore[attr-defined]
        if got == 0:
            raise FormatError(f"truncated image: file data ends at byte {self._pos} of {self._length} "
                              "(image too short)")
        self._pos += got
        return got


def _small_content(window: ReadWindow, pieces: list[tuple[int, int]], stored: int) -> bytes | None:
    """A small one-extent file's whole content, read with its record (``Member.data``): most files of a
    distribution disc are a few KiB, and one read here costs less than a stream the walker opens and
    sniffs. None (the walker opens ``ExtentsReader``, which says why) when the image gives fewer bytes."""
    if len(pieces) != 1 or not 0 < stored <= HEAD_SIZE:
        return None
    return window.whole(pieces[0][0], stored)


def _fail(exc: Exception) -> Callable[[], BinaryIO]:
    def opener() -> BinaryIO:
        raise exc

    return opener


@dataclass
class _Dir:
    extent: int
    length: int
    prefix: str
    ancestors: frozenset[int]


class TreeWalker:
    """Members of one tree, in directory order (a directory's records, then its subdirectories)."""

    def __init__(self, stream: BinaryIO, tree: Tree, image_size: int, ctx: UnpackContext) -> None:
        self.stream = stream
        self.tree = tree
        self.block = tree.descriptor.block_size
        self.image_size = image_size
        self.volume_size = tree.descriptor.space_blocks * self.block
        self.ctx = ctx
        self.rock_ridge = tree.name == "rock-ridge"
        #: First data extent of each listed file -> its path (El Torito names its boot images from it).
        self.extent_paths: dict[int, str] = {}
        self._window = ReadWindow(stream)
        #: Records pointing at an extent that several records share (one listed file's extent is not counted).
        self._extent_refs: dict[int, int] = {}
        self._visited: set[int] = set()
        self._repeated_dirs: list[str] = []
        self._over_extent_limit: dict[int, int] = {}
        self._named: dict[str, int] = {}
        self._unnamed: dict[str, int] = {}
        self.relocated = 0

    # -- reporting ------------------------------------------------------------------------------------
    def _problem(self, where: str | None, reason: str, kind: ProblemKind = ProblemKind.ERROR) -> None:
        self.ctx.problem(where, reason, kind)

    def _capped(self, category: str, where: str | None, reason: str) -> bool:
        """Report an error of ``category`` unless ``MAX_NAMED_PROBLEMS`` were named already (then count it).

        A hostile image repeats one defect thousands of times; the reader stays under a screenful.
        """
        if self._named.get(category, 0) < MAX_NAMED_PROBLEMS:
            self._named[category] = self._named.get(category, 0) + 1
            self._problem(where, reason)
            return True
        self._unnamed[category] = self._unnamed.get(category, 0) + 1
        return False

    # -- the walk -------------------------------------------------------------------------------------
    def members(self) -> Iterator[Member]:
        """Walk the tree from its root; report the bounded-work limits once each at the end."""
        root = self.tree.descriptor.root
        self._visited.add(root.extent)
        stack = [_Dir(root.extent, root.data_length, "", frozenset({root.extent}))]
        while stack:
            d = stack.pop()
            subdirs: list[_Dir] = []
            yield from self._directory(d, subdirs)
            stack.extend(reversed(subdirs))
        self._report_limits()

    def _report_limits(self) -> None:
        for category, n in self._unnamed.items():
            self._problem(None, f"{n} more {category} (not named one by one)")
        if self._repeated_dirs:
            n = len(self._repeated_dirs)
            self._problem(None, f"{n} directory record(s) point at a directory already listed (first: "
                          f"'{self._repeated_dirs[0]}'): listed, not walked again", ProblemKind.WARNING)
        if self._over_extent_limit:
            n = sum(self._over_extent_limit.values())
            first = next(iter(self._over_extent_limit))
            self._problem(None, f"{n} record(s) point at file data already shared by {MAX_RECORDS_PER_EXTENT} "
                          f"records (the limit per extent; first: extent of '{self.extent_paths.get(first, first)}')"
                          ": not listed", ProblemKind.LIMIT)
        if self.relocated:
            self.ctx.meta["relocated_directories"] = self.relocated

    def _records(self, extent: int, length: int, where: str | None) -> Iterator[tuple[DirRecord, RockRidge]]:
        """The records of a directory (without ``.``/``..``), with their Rock Ridge view, bounded.

        Streamed: the directory is read in bounded chunks, so a huge one never sits in memory whole.
        """
        start = extent * self.block
        if length > MAX_DIRECTORY_BYTES:
            self._problem(where, f"directory of {length} bytes is larger than the limit of {MAX_DIRECTORY_BYTES}: "
                          "only its start is read", ProblemKind.LIMIT)
            length = MAX_DIRECTORY_BYTES
        if start + length > self.image_size:
            self._capped("directories out of bounds", where, f"directory data out of bounds: {length} bytes at byte "
                         f"{start} end past the end of the image ({self.image_size} bytes)")
            length = max(0, min(length, self.image_size - start))
        problems: list[str] = []
        listed = skipped = 0
        for rec in read_directory(self.stream, start, length, problems):
            for p in problems:
                self._capped("malformed directory records", where, p)
            problems.clear()
            if rec.is_self_or_parent:
                continue
            if listed >= MAX_RECORDS_PER_DIRECTORY:
                skipped += 1
                continue
            listed += 1
            yield rec, (self._rock_ridge(rec) if self.rock_ridge else _NO_RR)
        for p in problems:
            self._capped("malformed directory records", where, p)
        if skipped:
            self._problem(where, f"directory holds {listed + skipped} records, over the limit of "
                          f"{MAX_RECORDS_PER_DIRECTORY}: the last {skipped} are not listed", ProblemKind.LIMIT)

    def _rock_ridge(self, rec: DirRecord) -> RockRidge:
        """The record's Rock Ridge view; its problems are reported by the caller at the member's path."""
        return parse(rec.system_use, self.tree.susp_skip, self._read_area)

    def _read_area(self, block: int, offset: int, length: int) -> bytes:
        start = block * self.block + offset
        if start >= self.image_size:
            return b""
        self.stream.seek(start)
        return self.stream.read(min(length, self.image_size - start))

    def _directory(self, d: _Dir, subdirs: list[_Dir]) -> Iterator[Member]:
        where = d.prefix.rstrip("/") or None
        pending: list[tuple[DirRecord, RockRidge]] = []
        for rec, rr in self._records(d.extent, d.length, where):
            if rec.is_associated:
                continue
            if pending and rec.identifier != pending[0][0].identifier:
                yield from self._member(pending, d, subdirs, unfinished=True)
                pending = []
            pending.append((rec, rr))
            if rec.continues and not rec.is_dir:
                continue
            yield from self._member(pending, d, subdirs)
            pending = []
        if pending:
            yield from self._member(pending, d, subdirs, unfinished=True)

    def _member(self, group: list[tuple[DirRecord, RockRidge]], d: _Dir, subdirs: list[_Dir],
                unfinished: bool = False) -> Iterator[Member]:
        rec, rr = group[0]
        if rr.relocated:
            return  # the directory's real place is the CL record that points at it
        name, clean = record_name(rec.identifier, self.tree.name, rr)
        rel = d.prefix + name
        for p in rr.problems:
            self._capped("Rock Ridge problems", rel, p)
        meta: dict[str, Any] = {} if clean else {"raw_name": (rr.name or rec.identifier).hex()}
        mtime = rr.mtime if rr.mtime is not None else rec.recorded
        mode = rr.mode & 0o7777 if rr.mode is not None else None
        ftype = stat.S_IFMT(rr.mode) if rr.mode is not None else 0
        if rr.symlink is not None or ftype == stat.S_IFLNK:
            target = display_name(rr.symlink) if rr.symlink is not None else None
            yield Member(rel, EntryKind.SYMLINK, mode=mode, mtime=mtime, link_target=target, meta=meta)
            return
        if rr.child_link is not None:
            yield from self._relocated(rec, rr, rel, d, subdirs, mode, mtime, meta)
            return
        if rec.is_dir:
            if not d.prefix and self.rock_ridge and name.lower() in _RR_MOVED and self._holds_relocated(rec):
                return  # the relocation directory: its content is listed where the CL records point
            yield Member(rel, EntryKind.DIR, mode=mode, mtime=mtime, meta=meta)
            self._descend(rec.extent, rec.data_length, rel, d, subdirs)
            return
        if ftype in (stat.S_IFCHR, stat.S_IFBLK):
            yield Member(rel, EntryKind.DEVICE, mode=mode, mtime=mtime, meta={**meta, **self._device(rr, ftype)})
            return
        if ftype in (stat.S_IFIFO, stat.S_IFSOCK):
            meta["type"] = "fifo" if ftype == stat.S_IFIFO else "socket"
            yield Member(rel, EntryKind.OTHER, mode=mode, mtime=mtime, meta=meta)
            return
        yield from self._file(group, rel, rr, mode, mtime, meta, unfinished)

    @staticmethod
    def _device(rr: RockRidge, ftype: int) -> dict[str, Any]:
        """Device type and number as xorriso and bsdtar show them: a ``PN`` low word that fits in 16 bits
        with a zero high word is the classic ``major << 8 | minor``; otherwise high and low are major and minor."""
        kind = "char" if ftype == stat.S_IFCHR else "block"
        if rr.device is None:
            return {"device": kind}
        high, low = rr.device
        major, minor = (low >> 8, low & 0xFF) if high == 0 and low <= 0xFFFF else (high, low)
        return {"device": kind, "major": major, "minor": minor}

    def _holds_relocated(self, rec: DirRecord) -> bool:
        seen = False
        for _, rr in self._records(rec.extent, rec.data_length, None):
            if not rr.relocated:
                return False
            seen = True
        return seen

    def _descend(self, extent: int, length: int, rel: str, d: _Dir, subdirs: list[_Dir]) -> None:
        if extent in d.ancestors:
            self._capped("directory loops", None, f"directory '{rel}' points back at an ancestor (loop): not followed")
            return
        if extent in self._visited:
            self._repeated_dirs.append(rel)
            return
        self._visited.add(extent)
        subdirs.append(_Dir(extent, length, rel + "/", d.ancestors | {extent}))

    def _relocated(self, rec: DirRecord, rr: RockRidge, rel: str, d: _Dir, subdirs: list[_Dir],
                   mode: int | None, mtime: float | None, meta: dict[str, Any]) -> Iterator[Member]:
        """A ``CL`` record: a deep directory moved elsewhere (``rr_moved``); its ``.`` record gives its size."""
        extent = rr.child_link or 0
        problems: list[str] = []
        dot = None
        if extent * self.block < self.image_size:
            dot = next(read_directory(self.stream, extent * self.block, SECTOR, problems), None)
        self.relocated += 1
        if dot is None or not dot.is_self_or_parent:
            self._capped("Rock Ridge problems", rel, f"Rock Ridge CL entry points at block {extent}, which holds no "
                         "directory")
            yield Member(rel, EntryKind.DIR, mode=mode, mtime=mtime, meta=meta)
            return
        if mode is None or mtime is None:
            dot_rr = self._rock_ridge(dot)
            mode = mode if mode is not None else (dot_rr.mode & 0o7777 if dot_rr.mode is not None else None)
        yield Member(rel, EntryKind.DIR, mode=mode, mtime=mtime, meta=meta)
        self._descend(extent, dot.data_length, rel, d, subdirs)

    def _file(self, group: list[tuple[DirRecord, RockRidge]], rel: str, rr: RockRidge, mode: int | None,
              mtime: float | None, meta: dict[str, Any], unfinished: bool) -> Iterator[Member]:
        recs = [r for r, _ in group]
        pieces = [(r.extent * self.block, r.data_length) for r in recs]
        stored = sum(n for _, n in pieces)
        if len(recs) > 1:
            meta["extents"] = len(recs)
        if rr.nlink is not None and rr.nlink > 1:
            meta["nlink"] = rr.nlink
        if unfinished:
            self._capped("unfinished multi-extent files", rel, f"multi-extent file: the record of its last part is "
                         f"missing ({len(recs)} part(s), {stored} bytes found)")
        failure = self._out_of_bounds(pieces)
        if failure is not None:
            meta["declared_size"] = stored
            named = self._named.get("files out of bounds", 0) < MAX_NAMED_PROBLEMS
            if not named:
                self._unnamed["files out of bounds"] = self._unnamed.get("files out of bounds", 0) + 1
            else:
                self._named["files out of bounds"] = self._named.get("files out of bounds", 0) + 1
            # The first ones fail when opened (the walker names them); the rest are listed unread and counted.
            yield Member(rel, EntryKind.FILE, mode=mode, mtime=mtime, meta=meta,
                         open=_fail(FormatError(failure)) if named else None)
            return
        if stored:
            key = recs[0].extent
            first = self.extent_paths.get(key)
            if first is not None:
                refs = self._extent_refs.get(key, 1) + 1
                self._extent_refs[key] = refs
                if refs > MAX_RECORDS_PER_EXTENT:
                    self._over_extent_limit[key] = self._over_extent_limit.get(key, 0) + 1
                    return
                yield Member(rel, EntryKind.HARDLINK, mode=mode, mtime=mtime, link_target=first, meta=meta)
                return
            self.extent_paths[key] = rel
        if recs[0].unit_size or recs[0].gap_size:
            yield Member(rel, EntryKind.FILE, mode=mode, mtime=mtime, meta=meta, open=_fail(Unsupported(
                f"interleaved file (unit size {recs[0].unit_size}, gap {recs[0].gap_size}) is not supported")))
            return
        if rr.sparse:
            yield Member(rel, EntryKind.FILE, mode=mode, mtime=mtime, meta=meta, open=_fail(Unsupported(
                "Rock Ridge sparse file (SF) is not supported")))
            return
        stream = self.stream
        zf = rr.zisofs if self.rock_ridge else None
        if zf is not None and stored:
            meta["compression"] = "zisofs2" if zf.version >= 2 else "zisofs"
            yield Member(rel, EntryKind.FILE, size=zf.size, stored_size=stored, mode=mode, mtime=mtime, meta=meta,
                         open=lambda: ZisofsReader(ExtentsReader(stream, pieces), stored, zf.size))
            return
        data = _small_content(self._window, pieces, stored)
        yield Member(rel, EntryKind.FILE, size=stored, stored_size=stored, mode=mode, mtime=mtime, meta=meta,
                     open=lambda: ExtentsReader(stream, pieces), data=data)

    def _out_of_bounds(self, pieces: list[tuple[int, int]]) -> str | None:
        """Why a file's extents cannot be read whole (None when they all lie inside the image)."""
        for offset, n in pieces:
            if not n:
                continue
            end = offset + n
            if self.volume_size and end > self.volume_size and end > self.image_size:
                return (f"file data out of bounds: {n} bytes at byte {offset} end past the end of the volume "
                        f"({self.volume_size} bytes) and of the image ({self.image_size} bytes)")
            if end > self.image_size:
                return (f"truncated image: file data at byte {offset} ({n} bytes) runs past the end of the image "
                        f"({self.image_size} bytes)")
        return None
