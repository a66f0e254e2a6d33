"""ISO 9660 images (with Rock Ridge, Joliet, ISO 9660:1999, UDF and El Torito).

An image can carry up to five directory trees over the same data. We read the richest one present
(``_choose_tree``), UDF (Windows media keep everything there and only a README stub in ISO 9660), then
Rock Ridge (POSIX modes, links, devices, 255-byte names), then Joliet (Unicode names), ISO 9660:1999,
then plain ISO 9660, and say which one in the container's metadata. The ISO 9660 trees are read record
by record by our own reader (``iso9660*`` modules); UDF still goes through pycdlib. El Torito boot
entries are reported too; a boot image that no directory entry points at is listed under ``[boot]/``.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from inspector.model import EntryKind, ProblemKind
from inspector.names import display_name
from inspector.streams import RangeReader
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext
from inspector.unpack.iso9660 import SECTOR, IsoFormatError, VolumeDescriptor, read_volume
from inspector.unpack.iso9660_boot import EMULATION, PLATFORMS, read_catalog
from inspector.unpack.iso9660_walk import TreeWalker, available_trees

TREE_ORDER = ("udf", "rock-ridge", "joliet", "iso9660-1999", "iso9660")


def _choose_tree(trees: list[str]) -> str:
    """The richest tree present, in ``TREE_ORDER``: UDF (Windows media keep everything there), Rock Ridge
    (POSIX modes, links, long names), Joliet (Unicode), ISO 9660:1999 (long names), plain ISO 9660."""
    return next(t for t in TREE_ORDER if t in trees)


class IsoHandler:
    name = "iso9660"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        h = info.head
        return h[0x8001:0x8006] == b"CD001" or (
            # UDF-only media still start with a volume recognition sequence at sector 16.
            h[0x8001:0x8006] in (b"BEA01", b"NSR02", b"NSR03")
        )

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        try:
            volume = read_volume(stream)
            iso_trees = available_trees(volume, stream)
        except IsoFormatError as exc:
            raise FormatError(f"ISO 9660: {exc}") from None
        names = ["udf"] if volume.has_udf else []
        names += [t.name for t in iso_trees]
        tree = _choose_tree(names)
        udf = None
        if tree == "udf":
            try:
                udf = _open_udf(stream)
            except FormatError as exc:
                if not iso_trees:
                    raise
                names.remove("udf")
                tree = _choose_tree(names)
                ctx.problem(None, f"{exc}: the {tree} tree is read instead", ProblemKind.ERROR)
        ctx.meta["tree"] = tree
        ctx.meta["trees"] = names
        primary = volume.first("primary")
        if primary is not None:
            ctx.meta["volume_id"] = primary.volume_id
            if primary.application_id:
                ctx.meta["application_id"] = primary.application_id
        image_size = stream.seek(0, 2)
        extents: dict[int, str] = {}
        if udf is not None:
            yield from self._udf_members(udf, stream, ctx)
        else:
            chosen = next(t for t in iso_trees if t.name == tree)
            _report_truncation(chosen.descriptor, image_size, ctx)
            walker = TreeWalker(stream, chosen, image_size, ctx)
            yield from walker.members()
            extents = walker.extent_paths
        if volume.boot_catalog is not None:
            yield from _boot_members(stream, volume.boot_catalog, extents, ctx)

    def _udf_members(self, iso: pycdlib.PyCdlib, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """The UDF tree, through pycdlib (which needs an ISO 9660 primary volume descriptor)."""
        end = _truncated_end(iso, stream, ctx)
        try:
            yield from self._walk(iso, "/", "", set(), ctx, stream, end)
        except PyCdlibException as exc:
            raise FormatError(f"UDF: {exc}") from None

    def _walk(
        self, iso: pycdlib.PyCdlib, path: str, prefix: str, seen_dirs: set[int], ctx: UnpackContext,
        stream: BinaryIO, end: int | None = None,
    ) -> Iterator[Member]:
        children = list(iso.list_children(udf_path=path))
        for rec in children:
            if rec is None or rec.is_dot() or rec.is_dotdot():
                continue
            ident = rec.file_identifier()
            name = display_name(ident.decode("utf-8", "replace") if isinstance(ident, bytes) else str(ident))
            rel = f"{prefix}{name}"
            mtime = _udf_mtime(rec)
            if rec.is_symlink():
                yield Member(rel, EntryKind.SYMLINK, mtime=mtime)
                continue
            if rec.is_dir():
                loc = rec.extent_location()
                if loc in seen_dirs:
                    ctx.problem(rel, "directory points back at an ancestor (loop); not followed", "error")
                    continue
                yield Member(rel, EntryKind.DIR, mtime=mtime)
                lookup = ident.decode("utf-8", "replace") if isinstance(ident, bytes) else str(ident)
                yield from self._walk(iso, path.rstrip("/") + "/" + lookup, rel + "/", seen_dirs | {loc}, ctx,
                                      stream, end)
                continue
            size = rec.get_data_length()
            offset = _data_offset(rec, iso.logical_block_size)
            if end is not None and offset is not None and offset + max(size, 0) >= end and (size or offset >= end):
                # pycdlib shortens a file that runs past the end of the image to what is there: report it.
                yield Member(rel, EntryKind.FILE, mtime=mtime, open=_fail(
                    f"truncated image: file data at byte {offset} runs past the end of the image ({end} bytes)"))
                continue
            yield Member(
                rel,
                EntryKind.FILE,
                size=size,
                stored_size=size,
                mtime=mtime,
                open=(lambda o=offset, n=size: _ExtentReader(stream, o, n))  # type: ignore[misc]
                if offset is not None and size
                else (lambda: RangeReader(_EMPTY, 0, 0)),  # type: ignore[arg-type]
            )


def _open_udf(stream: BinaryIO) -> pycdlib.PyCdlib:
    """The image opened by pycdlib for its UDF tree; ``FormatError`` when pycdlib cannot read it."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(stream)
    except PyCdlibException as exc:
        raise FormatError(f"ISO 9660: {exc}") from None
    except (IndexError, KeyError, ValueError, UnicodeDecodeError, OSError) as exc:
        raise FormatError(f"ISO 9660: corrupt volume ({type(exc).__name__}: {exc})") from None
    if not iso.has_udf():
        raise FormatError("UDF: recognition sequence present but no readable UDF volume")
    return iso


def _report_truncation(d: VolumeDescriptor, actual: int, ctx: UnpackContext) -> None:
    """Say once when the image is shorter than its volume descriptor records (its files are then checked)."""
    recorded = d.space_blocks * d.block_size
    if actual < recorded:
        ctx.problem(None, f"truncated image: {actual} of the {recorded} bytes its volume descriptor records",
                    ProblemKind.ERROR)


def _boot_members(stream: BinaryIO, catalog: int, extents: dict[int, str], ctx: UnpackContext) -> Iterator[Member]:
    """El Torito boot entries into the container's meta; a boot image no file points at as ``[boot]/``."""
    entries, problem = read_catalog(stream, catalog)
    if problem is not None:
        ctx.problem(None, problem, ProblemKind.WARNING)
        return
    boot = []
    for n, entry in enumerate(entries):
        rba = entry.load_rba
        info: dict[str, Any] = {
            "platform": PLATFORMS.get(entry.platform, hex(entry.platform)),
            "emulation": EMULATION.get(entry.media_type, str(entry.media_type)),
            "load_rba": rba,
            "load_sectors": entry.sector_count,
            "bootable": entry.bootable,
        }
        if rba in extents:
            info["file"] = extents[rba]
        boot.append(info)
        if rba not in extents:
            size = max(entry.sector_count, 1) * 512
            yield Member(
                f"[boot]/eltorito-{n}.img",
                EntryKind.FILE,
                size=size,
                stored_size=size,
                meta={"el_torito": info},
                open=lambda r=rba, s=size: RangeReader(stream, r * SECTOR, s),  # type: ignore[misc]
            )
    ctx.meta["el_torito"] = boot


def _udf_mtime(rec: Any) -> float | None:
    try:
        t = rec.mod_time
        tz = t.tz & 0xFFF
        offset = tz - 0x1000 if tz & 0x800 else tz
        offset = 0 if offset == -2047 else offset
        secs = calendar.timegm((t.year, t.month, t.day, t.hour, t.minute, t.second, 0, 0, 0))
        return float(secs - offset * 60)
    except (AttributeError, ValueError, OverflowError, TypeError):
        return None


def _data_offset(rec: Any, block_size: int) -> int | None:
    """Byte offset of a file's data in the image (None when it has none).

    Read straight from the image rather than through ``PyCdlibIO``: one seekable window per file, and
    the boot catalog (which pycdlib gives no inode) is read like any other file.
    """
    ino = rec.inode
    if ino is not None:
        if ino.original_data_location == ino.DATA_ON_ORIGINAL_ISO:
            return int(ino.orig_extent_loc) * block_size
        return int(ino.fp_offset)
    return None


def _truncated_end(iso: pycdlib.PyCdlib, stream: BinaryIO, ctx: UnpackContext) -> int | None:
    """The image's real size when it is shorter than its volume descriptor says (else None), reported."""
    try:
        recorded = int(iso.pvd.space_size) * iso.logical_block_size
        actual = stream.seek(0, 2)
    except (AttributeError, OSError, ValueError):
        return None
    if actual >= recorded:
        return None
    ctx.problem(None, f"truncated image: {actual} of the {recorded} bytes its volume descriptor records", "error")
    return actual


def _fail(reason: str) -> Callable[[], BinaryIO]:
    """An ``open`` for a member whose content cannot be read: raises with the reason."""

    def opener() -> BinaryIO:
        raise FormatError(reason)

    return opener


class _ExtentReader(RangeReader):
    """A file's extent; an image that ends inside it is an error, never a silently short file."""

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = super().readinto(b)
        if n == 0 and len(b) and self.tell() < self._length:
            raise FormatError(
                f"truncated image: file data ends at byte {self.tell()} of {self._length} (image too short)"
            )
        return n


class _Empty:
    def seek(self, *_: Any) -> int:
        return 0

    def readinto(self, _b: Any) -> int:
        return 0


_EMPTY = _Empty()
