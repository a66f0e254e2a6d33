"""A UDF logical volume over a seekable image: anchor, volume descriptors, partitions, block reads.

Finds the Anchor Volume Descriptor Pointer (block 256, else N-256, else N-1, for every legal block
size), reads the Volume Descriptor Sequence (the reserve copy when the main one is damaged), and maps
logical blocks of each partition map to byte ranges of the image: physical (type 1), sparable (sparing
table remaps whole packets) and metadata (UDF 2.50+: the metadata file's extents, its mirror used when
the main copy is damaged). Every range is checked against its partition and the image: a descriptor
or extent that lies outside is a ``UdfError``, never clamped.
"""

from __future__ import annotations

import array
import bisect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from inspector.limits import Unsupported
from inspector.model import ProblemKind
from inspector.unpack import udf_descriptors as d
from inspector.unpack.udf_descriptors import AllocDesc, ExtentType, UdfError

T = TypeVar("T")
Report = Callable[[str | None, str, str], None]

VRS_START = 32768
_BLOCK_SIZES = (2048, 512, 1024, 4096, 8192, 16384, 32768)
_MAX_VDS_SECTORS = 512
_MAX_VDP_HOPS = 16
_MAX_VAT_BYTES = 64 << 20
#: Allocation extent descriptor chains and indirect entry chains longer than this are a loop.
MAX_CHAIN = 1 << 16


def udf_recognised(head: bytes) -> bool:
    """Whether a Volume Recognition Sequence in ``head`` announces a UDF (NSR02/NSR03) volume."""
    for off in range(VRS_START, min(len(head), VRS_START + 64 * 2048) - 6, 2048):
        if head[off] == 0 and head[off + 1:off + 6] in (b"NSR02", b"NSR03"):
            return True
    return False


def iso9660_recognised(head: bytes) -> bool:
    """Whether ``head`` holds an ISO 9660 volume descriptor (CD001) in the recognition area."""
    for off in range(VRS_START, min(len(head), VRS_START + 64 * 2048) - 6, 2048):
        if head[off + 1:off + 6] == b"CD001":
            return True
    return False


@dataclass(frozen=True)
class Piece:
    """A run of a file's content: ``length`` bytes at ``file_offset``, read from byte ``image_offset``
    of the image, or zeros when ``image_offset`` is None (an unrecorded or sparse extent)."""

    file_offset: int
    length: int
    image_offset: int | None


class _Partition:
    """A partition reference: maps (block, byte count) to image byte ranges."""

    label: str

    def ranges(self, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        raise NotImplementedError

    @property
    def has_mirror(self) -> bool:
        return False


class _Physical(_Partition):
    def __init__(self, label: str, start: int, length: int, sector: int, block: int) -> None:
        self.label, self.start, self.length, self.sector, self.block = label, start, length, sector, block

    def ranges(self, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        if lbn < 0 or lbn * self.block + nbytes > self.length * self.sector:
            raise UdfError(f"extent at block {lbn} ({nbytes} bytes) runs past {self.label} "
                           f"({self.length} blocks)")
        return [(self.start * self.sector + lbn * self.block, nbytes)]


class _Sparable(_Physical):
    def __init__(self, label: str, start: int, length: int, sector: int, block: int, packet: int,
                 table: dict[int, int]) -> None:
        super().__init__(label, start, length, sector, block)
        self.packet = max(packet, 1)
        self.table = table

    def ranges(self, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        plain = super().ranges(lbn, nbytes)
        if not self.table:
            return plain
        out: list[tuple[int, int]] = []
        pos = lbn * self.block
        end = pos + nbytes
        while pos < end:
            block = pos // self.block
            packet = block - block % self.packet
            run_end = min(end, (packet + self.packet) * self.block)
            if packet in self.table:
                base = self.table[packet] * self.sector + (pos - packet * self.block)
            else:
                base = self.start * self.sector + pos
            out.append((base, run_end - pos))
            pos = run_end
        return out


class _Virtual(_Partition):
    """A virtual partition: block ``n`` is block ``table[n]`` of the underlying physical partition."""

    def __init__(self, label: str, under: _Physical, table: array.array[int]) -> None:
        self.label, self.under, self.table = label, under, table

    def ranges(self, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        block = self.under.block
        out: list[tuple[int, int]] = []
        pos = 0
        while pos < nbytes:
            v = lbn + pos // block
            if not 0 <= v < len(self.table) or self.table[v] == 0xFFFFFFFF:
                raise UdfError(f"block {v} of {self.label} is not in its allocation table")
            take = min(block, nbytes - pos)
            (off, n), = self.under.ranges(self.table[v], take)
            if out and out[-1][0] + out[-1][1] == off:
                out[-1] = (out[-1][0], out[-1][1] + n)
            else:
                out.append((off, n))
            pos += take
        return out


class _Metadata(_Partition):
    """The metadata partition: its blocks are the content of the metadata file (and of its mirror)."""

    def __init__(self, label: str, block: int, main: list[Piece] | None, mirror: list[Piece] | None) -> None:
        self.label, self.block, self.main, self.mirror = label, block, main, mirror

    @property
    def has_mirror(self) -> bool:
        return self.main is not None and self.mirror is not None

    def ranges(self, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        pieces = self.mirror if (mirror or self.main is None) else self.main
        assert pieces is not None
        pos = lbn * self.block
        end = pos + nbytes
        size = pieces[-1].file_offset + pieces[-1].length if pieces else 0
        if lbn < 0 or end > size:
            raise UdfError(f"extent at block {lbn} ({nbytes} bytes) runs past {self.label} ({size} bytes)")
        starts = [p.file_offset for p in pieces]
        out: list[tuple[int, int]] = []
        i = bisect.bisect_right(starts, pos) - 1
        while pos < end:
            p = pieces[i]
            take = min(end, p.file_offset + p.length) - pos
            if p.image_offset is None:
                raise UdfError(f"block {pos // self.block} of {self.label} is not recorded")
            out.append((p.image_offset + pos - p.file_offset, take))
            pos += take
            i += 1
        return out


@dataclass(frozen=True)
class VolumeInfo:
    """What the volume says about itself, for the container's metadata."""

    volume_id: str
    logical_volume_id: str
    file_set_id: str
    udf_revision: str
    block_size: int
    partition_maps: tuple[str, ...]


class UdfVolume:
    """An opened UDF logical volume: block reads by (partition reference, block) with range checks."""

    def __init__(self, stream: BinaryIO, report: Report) -> None:
        self.stream = stream
        self.report = report
        self.image_size = stream.seek(0, 2)
        self.sector, main, reserve = self._anchor()
        self.block = self.sector
        lvd, pds, pvd_ident = self._sequence(main, reserve)
        if not (512 <= lvd.block_size <= 65536) or lvd.block_size % 512:
            raise UdfError(f"logical volume descriptor: logical block size {lvd.block_size}")
        self.block = lvd.block_size
        self.lvd = lvd
        self.partitions: list[_Partition] = []
        for n, pmap in enumerate(lvd.maps):
            self.partitions.append(self._partition(n, pmap, pds))
        fsd_ad = lvd.fsd
        self.fsd = self.read_descriptor(fsd_ad.partition, fsd_ad.lbn, lambda b: d.parse_fsd(b, fsd_ad.lbn),
                                        None, "file set descriptor")
        rev = lvd.udf_revision
        self.info = VolumeInfo(
            volume_id=pvd_ident, logical_volume_id=lvd.identifier, file_set_id=self.fsd.identifier,
            udf_revision=f"{rev >> 8:x}.{rev & 0xFF:02x}" if rev else "unknown", block_size=self.block,
            partition_maps=tuple(m.kind for m in lvd.maps),
        )

    # -- raw reads --------------------------------------------------------------------------------
    def read_at(self, offset: int, n: int, what: str) -> bytes:
        """``n`` bytes at image byte ``offset``; an image that ends first is a ``UdfError``."""
        if offset < 0 or offset + n > self.image_size:
            raise UdfError(f"{what}: bytes {offset}-{offset + n} lie beyond the end of the image "
                           f"({self.image_size} bytes)")
        self.stream.seek(offset)
        data = self.stream.read(n)
        if len(data) < n:
            raise UdfError(f"{what}: image ends at byte {offset + len(data)} (truncated)")
        return data

    def ranges(self, partition: int, lbn: int, nbytes: int, mirror: bool = False) -> list[tuple[int, int]]:
        """Image byte ranges of ``nbytes`` from block ``lbn`` of partition reference ``partition``."""
        if not 0 <= partition < len(self.partitions):
            raise UdfError(f"partition reference {partition} but the volume has {len(self.partitions)} "
                           "partition maps")
        out = self.partitions[partition].ranges(lbn, nbytes, mirror)
        for off, length in out:
            if off + length > self.image_size:
                raise UdfError(f"extent at block {lbn} of partition {partition} (image bytes {off}-"
                               f"{off + length}) lies beyond the end of the image ({self.image_size} bytes)")
        return out

    def read(self, partition: int, lbn: int, nbytes: int, what: str, mirror: bool = False) -> bytes:
        """``nbytes`` from block ``lbn`` of a partition (through the metadata mirror when asked)."""
        return b"".join(self.read_at(off, n, what) for off, n in self.ranges(partition, lbn, nbytes, mirror))

    def has_mirror(self, partition: int) -> bool:
        """Whether ``partition`` is a metadata partition whose mirror can stand in for a damaged copy."""
        return 0 <= partition < len(self.partitions) and self.partitions[partition].has_mirror

    def read_descriptor(self, partition: int, lbn: int, parse: Callable[[bytes], T], where: str | None,
                        what: str, nbytes: int | None = None) -> T:
        """Read and parse a descriptor; in a metadata partition a damaged one is read from the mirror.

        Using the mirror is reported (a warning naming ``what``): the content read is good, the main
        copy is not.
        """
        size = nbytes or self.block
        try:
            return parse(self.read(partition, lbn, size, what))
        except UdfError as exc:
            if not self.has_mirror(partition):
                raise
            try:
                value = parse(self.read(partition, lbn, size, what, mirror=True))
            except UdfError:
                raise exc from None
            self.report(where, f"{what} at block {lbn}: main metadata copy damaged ({exc}); read from the "
                        "metadata mirror file", ProblemKind.WARNING)
            return value

    # -- anchor and volume descriptor sequence ----------------------------------------------------
    def _anchor(self) -> tuple[int, d.Extent, d.Extent]:
        first_error: str | None = None
        for fallback in (False, True):
            for size in _BLOCK_SIZES:
                blocks = self.image_size // size
                spots = (blocks - 256, blocks - 1) if fallback else (256,)
                for loc in spots:
                    if loc < 0 or (loc + 1) * size > self.image_size:
                        continue
                    buf = self.read_at(loc * size, size, "anchor volume descriptor pointer")
                    try:
                        main, reserve = d.parse_avdp(buf, loc)
                    except UdfError as exc:
                        if size == 2048 and loc == 256 and first_error is None:
                            first_error = str(exc)
                        continue
                    if fallback:
                        self.report(None, f"UDF anchor at block 256 missing or damaged ({first_error}); used "
                                    f"the one at block {loc}", ProblemKind.WARNING)
                    return size, main, reserve
        raise UdfError(f"UDF: no anchor volume descriptor pointer at block 256, N-256 or N-1 "
                       f"({first_error or 'image too small'})")

    def _sequence(self, main: d.Extent, reserve: d.Extent
                  ) -> tuple[d.LogicalVolumeDesc, dict[int, d.PartitionDesc], str]:
        try:
            return self._read_sequence(main, "main")
        except UdfError as exc:
            if not reserve.length:
                raise
            try:
                found = self._read_sequence(reserve, "reserve")
            except UdfError:
                raise exc from None
            self.report(None, f"main volume descriptor sequence damaged ({exc}); read the reserve copy",
                        ProblemKind.WARNING)
            return found

    def _read_sequence(self, extent: d.Extent, which: str
                       ) -> tuple[d.LogicalVolumeDesc, dict[int, d.PartitionDesc], str]:
        lvd: d.LogicalVolumeDesc | None = None
        pds: dict[int, d.PartitionDesc] = {}
        pvd_ident = ""
        pvd_vdsn = -1
        hops = 0
        loc, count = extent.location, extent.length // self.sector
        seen: set[int] = set()
        read = 0
        while count > 0:
            if loc in seen or read >= _MAX_VDS_SECTORS:
                raise UdfError(f"{which} volume descriptor sequence: loops or exceeds {_MAX_VDS_SECTORS} "
                               "descriptors")
            seen.add(loc)
            read += 1
            buf = self.read_at(loc * self.sector, self.sector, f"{which} volume descriptor sequence")
            tag = d.parse_tag(buf, f"{which} volume descriptor sequence, sector {loc}", loc)
            if tag.ident == d.TAG_TD or tag.ident == 0 and not any(buf):
                break
            if tag.ident == d.TAG_VDP:
                hops += 1
                nxt = d.parse_vdp(buf)
                if hops > _MAX_VDP_HOPS:
                    raise UdfError(f"{which} volume descriptor sequence: more than {_MAX_VDP_HOPS} pointers")
                loc, count = nxt.location, nxt.length // self.sector
                continue
            if tag.ident == d.TAG_PVD:
                vdsn = int.from_bytes(buf[16:20], "little")
                if vdsn > pvd_vdsn:
                    pvd_vdsn, pvd_ident = vdsn, d.parse_pvd_ident(buf)
            elif tag.ident == d.TAG_PD:
                pd = d.parse_pd(buf)
                if pd.number not in pds or pd.vdsn >= pds[pd.number].vdsn:
                    pds[pd.number] = pd
            elif tag.ident == d.TAG_LVD:
                new = d.parse_lvd(buf)
                if lvd is None or new.vdsn >= lvd.vdsn:
                    lvd = new
            loc += 1
            count -= 1
        if lvd is None:
            raise UdfError(f"{which} volume descriptor sequence has no logical volume descriptor")
        if not pds:
            raise UdfError(f"{which} volume descriptor sequence has no partition descriptor")
        return lvd, pds, pvd_ident

    # -- partitions -------------------------------------------------------------------------------
    def _partition(self, n: int, pmap: d.PartitionMap, pds: dict[int, d.PartitionDesc]) -> _Partition:
        label = f"partition {n}"
        pd = pds.get(pmap.partition_number)
        if pd is None:
            raise UdfError(f"partition map {n} names partition {pmap.partition_number}, which no partition "
                           "descriptor describes")
        write_once = any(m.kind == "virtual" for m in self.lvd.maps)  # recorded only up to its VAT
        if (pd.start + pd.length) * self.sector > self.image_size and not write_once:
            self.report(None, f"truncated image: {label} ends at byte {(pd.start + pd.length) * self.sector} "
                        f"but the image has {self.image_size} bytes", ProblemKind.ERROR)
        if pmap.kind == "physical":
            return _Physical(label, pd.start, pd.length, self.sector, self.block)
        if pmap.kind == "sparable":
            return _Sparable(label, pd.start, pd.length, self.sector, self.block, pmap.packet_length,
                             self._sparing_table(pmap))
        if pmap.kind == "metadata":
            return self._metadata_partition(n, pmap, pd)
        if pmap.kind == "virtual":
            return self._virtual_partition(n, pd)
        raise Unsupported(f"UDF partition map type {pmap.kind} is not read")

    def _virtual_partition(self, n: int, pd: d.PartitionDesc) -> _Virtual:
        """A virtual partition (write-once media): blocks mapped through the Virtual Allocation Table,
        whose file entry is the last sector of the image."""
        under = _Physical(f"partition {pd.number}", pd.start, pd.length, self.sector, self.block)
        lbn = self.image_size // self.sector - 1 - pd.start
        try:
            (off, size), = under.ranges(lbn, self.block)
            fe = d.parse_file_entry(self.read_at(off, size, "virtual allocation table"), lbn, self.block)
        except UdfError as exc:
            raise UdfError(f"virtual allocation table (last sector of the image): {exc}") from None
        if fe.info_length > _MAX_VAT_BYTES:
            raise UdfError(f"virtual allocation table of {fe.info_length} bytes")
        if fe.ad_kind is d.AdKind.EMBEDDED:
            data = fe.ad_area[:fe.info_length]
        else:
            pieces = self._pieces(self._ads_of(fe, under, lambda p: under), fe.info_length, lambda ad: under,
                                  "virtual allocation table")
            data = b"".join(bytes(p.length) if p.image_offset is None else
                            self.read_at(p.image_offset, p.length, "virtual allocation table") for p in pieces)
        if fe.file_type == d.FileType.VAT:
            head = int.from_bytes(data[0:2], "little")
            entries = data[head:]
        elif fe.file_type == d.FileType.UNSPECIFIED and d.regid(data[-36:-4]) == "*UDF Virtual Alloc Tbl":
            entries = data[:-36]
        else:
            raise UdfError(f"last sector of the image holds a file entry of type {fe.file_type}, not a virtual "
                           "allocation table")
        table = array.array("I", entries[: len(entries) // 4 * 4])
        if sys.byteorder != "little":
            table.byteswap()
        return _Virtual(f"virtual partition {n}", under, table)

    def _sparing_table(self, pmap: d.PartitionMap) -> dict[int, int]:
        size = max(pmap.sparing_table_size, 56)
        nbytes = -(-size // self.sector) * self.sector
        errors = []
        for loc in pmap.sparing_tables:
            try:
                return d.parse_sparing_table(self.read_at(loc * self.sector, nbytes, "sparing table"), loc)
            except UdfError as exc:
                errors.append(str(exc))
        raise UdfError(f"no readable sparing table ({'; '.join(errors) or 'none recorded'})")

    def _metadata_partition(self, n: int, pmap: d.PartitionMap, pd: d.PartitionDesc) -> _Metadata:
        under = _Physical(f"partition {pd.number}", pd.start, pd.length, self.sector, self.block)
        label = f"metadata partition {n}"
        copies: list[list[Piece] | None] = []
        errors: list[str] = []
        for what, loc, ftype in (("metadata file", pmap.metadata_file, d.FileType.METADATA),
                                 ("metadata mirror file", pmap.metadata_mirror, d.FileType.METADATA_MIRROR)):
            try:
                copies.append(self._metadata_pieces(under, what, loc, ftype))
            except UdfError as exc:
                copies.append(None)
                errors.append(f"{what}: {exc}")
        main, mirror = copies
        if main is None and mirror is None:
            raise UdfError(f"{label}: neither the metadata file nor its mirror can be read ({'; '.join(errors)})")
        if main is None:
            self.report(None, f"{label}: {errors[0]}; the metadata partition is read through its mirror",
                        ProblemKind.WARNING)
        return _Metadata(label, self.block, main, mirror)

    def _metadata_pieces(self, under: _Physical, what: str, loc: int, ftype: int) -> list[Piece]:
        if loc == 0xFFFFFFFF:
            raise UdfError("not recorded")
        (off, n), = under.ranges(loc, self.block)
        fe = d.parse_file_entry(self.read_at(off, n, what), loc, self.block)
        if fe.file_type != ftype:
            raise UdfError(f"file type {fe.file_type}, expected {ftype}")
        ads = self._ads_of(fe, under, lambda p: under)
        return self._pieces(ads, fe.info_length, lambda ad: under, what)

    # -- allocation descriptors and content -------------------------------------------------------
    def _ads_of(self, fe: d.FileEntry, icb_part: _Partition | int,
                part_of: Callable[[int], _Partition]) -> list[AllocDesc]:
        """Allocation descriptors of an entry, following allocation extent descriptors (bounded)."""
        kind = fe.ad_kind
        if kind is d.AdKind.EMBEDDED:
            return []
        default_part = icb_part if isinstance(icb_part, int) else 0
        ads = d.parse_ads(fe.ad_area, kind, default_part)
        out: list[AllocDesc] = []
        seen: set[tuple[int, int]] = set()
        while ads:
            last = ads[-1]
            if last.kind is not ExtentType.CONTINUATION:
                out.extend(ads)
                break
            out.extend(ads[:-1])
            key = (last.partition, last.lbn)
            if key in seen or len(seen) >= MAX_CHAIN:
                raise UdfError(f"allocation extent descriptors loop back to block {last.lbn}")
            seen.add(key)
            part = icb_part if isinstance(icb_part, _Partition) else part_of(last.partition)
            nbytes = max(min(last.length, self.block), 24)
            ranges = part.ranges(last.lbn, nbytes)
            buf = b"".join(self.read_at(o, m, "allocation extent descriptor") for o, m in ranges)
            d.expect_tag(buf, d.TAG_AED, last.lbn)
            l_ad = int.from_bytes(buf[20:24], "little")
            if 24 + l_ad > len(buf):
                raise UdfError(f"allocation extent descriptor at block {last.lbn}: {l_ad} bytes of descriptors "
                               "run past it")
            ads = d.parse_ads(buf[24:24 + l_ad], kind, default_part if kind is d.AdKind.SHORT else 0)
            if kind is d.AdKind.SHORT:
                ads = [AllocDesc(a.kind, a.length, a.lbn, default_part) for a in ads]
        return out

    def _pieces(self, ads: list[AllocDesc], info_length: int, part_of: Callable[[AllocDesc], _Partition],
                what: str) -> list[Piece]:
        pieces: list[Piece] = []
        pos = 0
        for ad in ads:
            if pos >= info_length:
                break
            take = min(ad.length, info_length - pos)
            if take <= 0:
                continue
            if ad.kind is ExtentType.RECORDED:
                for off, n in part_of(ad).ranges(ad.lbn, take):
                    if off + n > self.image_size:
                        raise UdfError(f"{what}: extent at block {ad.lbn} (image bytes {off}-{off + n}) lies "
                                       f"beyond the end of the image ({self.image_size} bytes)")
                    pieces.append(Piece(pos, n, off))
                    pos += n
            else:
                pieces.append(Piece(pos, take, None))
                pos += take
        if pos < info_length:
            raise UdfError(f"{what}: allocation descriptors cover {pos} of its {info_length} bytes")
        return pieces

    def file_ads(self, fe: d.FileEntry, icb_partition: int) -> list[AllocDesc]:
        """An entry's allocation descriptors (continuations followed), short ones in the ICB's partition."""
        return self._ads_of(fe, icb_partition, self._part)

    def file_pieces(self, fe: d.FileEntry, icb_partition: int, what: str) -> list[Piece]:
        """Where each byte of an entry's content is: image ranges, or zeros for unrecorded extents."""
        return self._pieces(self.file_ads(fe, icb_partition), fe.info_length,
                            lambda ad: self._part(ad.partition), what)

    def mirror_pieces(self, fe: d.FileEntry, icb_partition: int, what: str) -> list[Piece] | None:
        """The same content read through the metadata mirror (None when no extent lies in a mirrored
        metadata partition)."""
        ads = self.file_ads(fe, icb_partition)
        if not any(self.has_mirror(a.partition) for a in ads):
            return None
        pieces: list[Piece] = []
        pos = 0
        for ad in ads:
            take = min(ad.length, fe.info_length - pos)
            if take <= 0:
                break
            if ad.kind is ExtentType.RECORDED:
                for off, n in self.ranges(ad.partition, ad.lbn, take, mirror=self.has_mirror(ad.partition)):
                    pieces.append(Piece(pos, n, off))
                    pos += n
            else:
                pieces.append(Piece(pos, take, None))
                pos += take
        return pieces

    def _part(self, ref: int) -> _Partition:
        if not 0 <= ref < len(self.partitions):
            raise UdfError(f"partition reference {ref} but the volume has {len(self.partitions)} partition maps")
        return self.partitions[ref]
