"""ISO 9660 images (with Rock Ridge, Joliet, ISO 9660:1999, UDF and El Torito).

An image can carry up to five directory trees over the same data. We read the richest one present
(``_choose_tree``), UDF (Windows media keep everything there and only a README stub in ISO 9660), then
Rock Ridge (POSIX modes, links, devices, 255-byte names), then Joliet (Unicode names), ISO 9660:1999,
then plain ISO 9660, and say which one in the container's metadata. The ISO 9660 trees are read record
by record by our own reader (``iso9660*`` modules), UDF by our own UDF reader (``udf*`` modules). El Torito boot
entries are reported too; a boot image that no directory entry points at is listed under ``[boot]/``. A
hybrid image's MBR/GPT partitions that lie past the ISO volume (``xorriso -append_partition``: an EFI or
data FAT no tree reaches) are listed under ``[appended]/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from inspector.limits import Unsupported
from inspector.model import EntryKind, ProblemKind
from inspector.streams import RangeReader
from inspector.unpack import disk, udf
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
            udf_alone = _udf_volume(stream, ctx)
            if udf_alone is None:
                raise FormatError(f"ISO 9660: {exc}") from None
            # The UDF tree (the richest one) was read by our own reader: keep it.
            ctx.problem(None, f"ISO 9660 side not read ({exc}); the UDF tree is listed", ProblemKind.WARNING)
            ctx.meta["tree"] = "udf"
            ctx.meta["trees"] = ["udf"]
            yield from udf.udf_members(udf_alone, stream, ctx)
            return
        for reason in volume.unusable:
            ctx.problem(None, reason, ProblemKind.WARNING)
        names = ["udf"] if volume.has_udf else []
        names += [t.name for t in iso_trees]
        tree = _choose_tree(names)
        udf_volume = None
        if tree == "udf":
            udf_volume = _udf_volume(stream, ctx)
            if udf_volume is None:
                if not iso_trees:
                    raise FormatError("UDF: recognition sequence present but no readable UDF volume")
                names.remove("udf")
                tree = _choose_tree(names)
        ctx.meta["tree"] = tree
        ctx.meta["trees"] = names
        primary = volume.first("primary")
        if primary is not None:
            ctx.meta["volume_id"] = primary.volume_id
            if primary.application_id:
                ctx.meta["application_id"] = primary.application_id
        image_size = stream.seek(0, 2)
        extents: dict[int, str] = {}
        if udf_volume is not None:
            yield from udf.udf_members(udf_volume, stream, ctx)
        else:
            chosen = next(t for t in iso_trees if t.name == tree)
            _report_truncation(chosen.descriptor, image_size, ctx)
            walker = TreeWalker(stream, chosen, image_size, ctx)
            yield from walker.members()
            extents = walker.extent_paths
        if volume.boot_catalog is not None:
            yield from _boot_members(stream, volume.boot_catalog, extents, ctx)
        if primary is not None:
            boot_starts = {e["load_rba"] * SECTOR for e in ctx.meta.get("el_torito", ())}
            yield from _appended_members(stream, primary.space_blocks * primary.block_size, image_size,
                                         boot_starts)


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


def _report_truncation(d: VolumeDescriptor, actual: int, ctx: UnpackContext) -> None:
    """Say once when the image is shorter than its volume descriptor records (its files are then checked)."""
    recorded = d.space_blocks * d.block_size
    if actual < recorded:
        ctx.problem(None, f"truncated image: {actual} of the {recorded} bytes its volume descriptor records",
                    ProblemKind.ERROR)


def _appended_members(stream: BinaryIO, volume_end: int, image_size: int, boot_starts: set[int]
                      ) -> Iterator[Member]:
    """The partitions of the image's MBR or GPT (its system area: a hybrid image) that start past the ISO
    volume: ``xorriso -append_partition`` puts an EFI or data FAT there, which no directory tree reaches and
    the partition table alone names. Each is a member ``[appended]/pN.img`` the walker opens like any disk
    partition (one that is also an El Torito boot image is listed under ``[boot]/`` already)."""
    if image_size <= volume_end:
        return
    stream.seek(0)
    head = stream.read(4096 + 8)
    if len(head) < 512 or head[510:512] != disk.SIGNATURE:
        return
    ss = disk.gpt_sector_size(head)
    if ss is not None:
        table = disk.read_gpt(stream, image_size, ss)
    elif disk.looks_like_mbr(head):
        table = disk.read_mbr(stream, image_size, head[:512])
    else:
        return
    for p in sorted(table.partitions, key=lambda p: p.number):
        if p.extended or p.start < volume_end or p.start >= image_size or p.start in boot_starts:
            continue
        length = min(p.size, image_size - p.start)
        yield Member(
            f"[appended]/p{p.number}.img",
            EntryKind.FILE,
            size=length,
            stored_size=length,
            meta={"partition": p.meta()},
            open=lambda s=p.start, n=length: RangeReader(stream, s, n),  # type: ignore[misc]
        )


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


