"""ISO 9660 images (with Rock Ridge, Joliet, UDF and El Torito) through pycdlib.

An image can carry up to four directory trees over the same data. We read the richest one present,
UDF (Windows media keep everything there and only a README stub in ISO 9660), then Rock Ridge (POSIX
modes, symlinks, 255-byte names), then Joliet (Unicode names, 64 characters), then plain ISO 9660, and
say which one in the container's metadata. El Torito boot entries are reported too; a boot image that
no directory entry points at is listed as a member of its own under ``[boot]/``.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from inspector.limits import Unsupported
from inspector.model import EntryKind, ProblemKind
from inspector.names import display_name
from inspector.streams import RangeReader
from inspector.unpack import udf
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext

SECTOR = 2048
_PLATFORMS = {0: "bios", 1: "powerpc", 2: "mac", 0xEF: "efi"}
_EMULATION = {0: "none", 1: "floppy-1.2M", 2: "floppy-1.44M", 3: "floppy-2.88M", 4: "hard-disk"}


def _tree(iso: pycdlib.PyCdlib, has_udf: bool) -> str:
    if has_udf:
        return "udf"
    if iso.has_rock_ridge():
        return "rock-ridge"
    if iso.has_joliet():
        return "joliet"
    return "iso9660"


_PATH_KEY = {"udf": "udf_path", "rock-ridge": "rr_path", "joliet": "joliet_path", "iso9660": "iso_path"}


def _name(rec: Any, tree: str) -> str:
    if tree == "rock-ridge" and rec.rock_ridge is not None:
        raw = rec.rock_ridge.name()
        return display_name(raw)
    ident = rec.file_identifier()
    if tree == "joliet":
        text = ident.decode("utf-16-be", "backslashreplace")
    elif isinstance(ident, bytes):
        text = ident.decode("utf-8", "backslashreplace")
    else:
        text = str(ident)
    if tree in ("iso9660", "joliet") and ";" in text:
        text = text.rsplit(";", 1)[0]
        if tree == "iso9660" and text.endswith("."):
            text = text[:-1]
    return display_name(text)


def _mtime(rec: Any, tree: str) -> float | None:
    try:
        if tree == "udf":
            t = rec.mod_time
            tz = t.tz & 0xFFF
            offset = tz - 0x1000 if tz & 0x800 else tz
            offset = 0 if offset == -2047 else offset
            secs = calendar.timegm((t.year, t.month, t.day, t.hour, t.minute, t.second, 0, 0, 0))
            return float(secs - offset * 60)
        d = rec.date
        secs = calendar.timegm((1900 + d.years_since_1900, d.month, d.day_of_month, d.hour, d.minute, d.second))
        return float(secs - d.gmtoffset * 15 * 60)
    except (AttributeError, ValueError, OverflowError, TypeError):
        return None


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
        udf_volume = _udf_volume(stream, ctx)
        iso = pycdlib.PyCdlib()
        try:
            iso.open_fp(stream)
        except (PyCdlibException, IndexError, KeyError, ValueError, UnicodeDecodeError, OSError) as exc:
            reason = str(exc) if isinstance(exc, PyCdlibException) else f"corrupt volume ({type(exc).__name__}: {exc})"
            if udf_volume is None:
                raise FormatError(f"ISO 9660: {reason}") from None
            # The UDF tree (the one we list) was read by our own reader: keep it.
            ctx.problem(None, f"ISO 9660 side not read ({reason}); the UDF tree is listed", ProblemKind.WARNING)
            ctx.meta["tree"] = "udf"
            ctx.meta["trees"] = ["udf"]
            yield from udf.udf_members(udf_volume, stream, ctx)
            return
        tree = _tree(iso, udf_volume is not None)
        ctx.meta["tree"] = tree
        ctx.meta["trees"] = [
            t for t, has in (
                ("udf", udf_volume is not None), ("rock-ridge", iso.has_rock_ridge()),
                ("joliet", iso.has_joliet()), ("iso9660", True),
            ) if has
        ]
        try:
            pvd = iso.pvd
            ctx.meta["volume_id"] = pvd.volume_identifier.decode("ascii", "replace").strip()
            app = pvd.application_identifier.text.decode("ascii", "replace").strip()
            if app:
                ctx.meta["application_id"] = app
        except AttributeError:
            pass
        extents: dict[int, str] = {}
        end = _truncated_end(iso, stream, ctx)
        try:
            if udf_volume is not None:
                yield from udf.udf_members(udf_volume, stream, ctx)
            else:
                yield from self._walk(iso, tree, "/", "", extents, set(), ctx, stream, end)
            yield from self._boot_members(iso, stream, extents, ctx)
        except PyCdlibException as exc:
            raise FormatError(f"ISO 9660: {exc}") from None

    def _walk(
        self, iso: pycdlib.PyCdlib, tree: str, path: str, prefix: str,
        extents: dict[int, str], seen_dirs: set[int], ctx: UnpackContext, stream: BinaryIO,
        end: int | None = None,
    ) -> Iterator[Member]:
        key = _PATH_KEY[tree]
        children = list(iso.list_children(**{key: path}))
        for rec in children:
            if rec is None or rec.is_dot() or rec.is_dotdot():
                continue
            name = _name(rec, tree)
            rel = f"{prefix}{name}"
            mtime = _mtime(rec, tree)
            mode = None
            link = None
            if tree == "rock-ridge" and rec.rock_ridge is not None:
                try:
                    mode = rec.rock_ridge.get_file_mode() & 0o7777
                except PyCdlibException:
                    mode = None
                if rec.rock_ridge.is_symlink():
                    link = display_name(rec.rock_ridge.symlink_path())
                    yield Member(rel, EntryKind.SYMLINK, mode=mode, mtime=mtime, link_target=link)
                    continue
            elif tree == "udf" and rec.is_symlink():
                yield Member(rel, EntryKind.SYMLINK, mtime=mtime)
                continue
            if rec.is_dir():
                loc = rec.extent_location()
                if loc in seen_dirs:
                    ctx.problem(rel, "directory points back at an ancestor (loop); not followed", "error")
                    continue
                yield Member(rel, EntryKind.DIR, mode=mode, mtime=mtime)
                child_path = path.rstrip("/") + "/" + self._lookup_name(rec, tree, name)
                yield from self._walk(iso, tree, child_path, rel + "/", extents, seen_dirs | {loc}, ctx, stream,
                                      end)
                continue
            size = rec.get_data_length()
            if tree != "udf":
                extents.setdefault(rec.extent_location(), rel)
            offset = _data_offset(rec, tree, iso.logical_block_size)
            if end is not None and offset is not None and offset + max(size, 0) >= end and (size or offset >= end):
                # pycdlib shortens a file that runs past the end of the image to what is there: report it.
                yield Member(rel, EntryKind.FILE, mode=mode, mtime=mtime, open=_fail(
                    f"truncated image: file data at byte {offset} runs past the end of the image ({end} bytes)"))
                continue
            yield Member(
                rel,
                EntryKind.FILE,
                size=size,
                stored_size=size,
                mode=mode,
                mtime=mtime,
                open=(lambda o=offset, n=size: _ExtentReader(stream, o, n))  # type: ignore[misc]
                if offset is not None and size
                else (lambda: RangeReader(_EMPTY, 0, 0)),  # type: ignore[arg-type]
            )

    @staticmethod
    def _lookup_name(rec: Any, tree: str, shown: str) -> str:
        """The name pycdlib expects in a path for this tree (ISO 9660 names keep their raw form)."""
        if tree == "iso9660":
            return rec.file_identifier().decode("ascii", "replace")
        if tree == "rock-ridge":
            return rec.rock_ridge.name().decode("utf-8", "surrogateescape")
        if tree == "joliet":
            return rec.file_identifier().decode("utf-16-be", "replace")
        ident = rec.file_identifier()
        return ident.decode("utf-8", "replace") if isinstance(ident, bytes) else str(ident)

    def _boot_members(
        self, iso: pycdlib.PyCdlib, stream: BinaryIO, extents: dict[int, str], ctx: UnpackContext
    ) -> Iterator[Member]:
        cat = iso.eltorito_boot_catalog
        if cat is None:
            return
        entries = [(cat.validation_entry.platform_id, cat.initial_entry)]
        for sec in cat.sections:
            entries.extend((sec.platform_id, e) for e in sec.section_entries)
        boot = []
        for n, (platform, entry) in enumerate(entries):
            rba = entry.load_rba
            info: dict[str, Any] = {
                "platform": _PLATFORMS.get(platform, hex(platform)),
                "emulation": _EMULATION.get(entry.boot_media_type, str(entry.boot_media_type)),
                "load_rba": rba,
                "load_sectors": entry.sector_count,
                "bootable": entry.boot_indicator == 0x88,
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


def _udf_volume(stream: BinaryIO, ctx: UnpackContext) -> udf.UdfVolume | None:
    """The image's UDF volume, read by our UDF reader (None when the image has no UDF, or a broken one:
    then the ISO 9660 trees are listed and the UDF problem reported)."""
    stream.seek(udf.VRS_START)
    if not udf.udf_recognised(bytes(udf.VRS_START) + stream.read(64 * 2048)):
        return None
    try:
        return udf.open_volume(stream, ctx)
    except (FormatError, Unsupported) as exc:
        kind = ProblemKind.UNSUPPORTED if isinstance(exc, Unsupported) else ProblemKind.ERROR
        ctx.problem(None, f"UDF tree not read ({exc}); the ISO 9660 tree is listed instead", kind)
        return None


def _data_offset(rec: Any, tree: str, block_size: int) -> int | None:
    """Byte offset of a file's data in the image (None when it has none).

    Read straight from the image rather than through ``PyCdlibIO``: one seekable window per file, and
    the boot catalog (which pycdlib gives no inode) is read like any other file.
    """
    ino = rec.inode
    if ino is not None:
        if ino.original_data_location == ino.DATA_ON_ORIGINAL_ISO:
            return int(ino.orig_extent_loc) * block_size
        return int(ino.fp_offset)
    if tree == "udf":
        return None
    return int(rec.extent_location()) * block_size


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
