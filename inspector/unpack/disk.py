"""Partitioned disk images (``.dd``, ``.img``): MBR with extended/logical partitions, and GPT.

Each partition is a member named ``p<N>`` with Linux's numbering (primaries 1-4 by slot, the first
logical partition is 5; GPT entry *i* is partition *i + 1*), whose content is a byte range of the disk,
sniffed like any member (a FAT volume opens as a container, a vmkcore partition stays data). An MBR
extended partition is listed as a member of kind ``other`` (its logical partitions are listed
separately). The disk's metadata says how much of it is partitioned, how much holds partition tables
and how much is unallocated, with the gaps, so a "1 GB flash image" shows how much of it is used.

Bad tables are reported and the rest still read: a partition overlapping another, lying partly or
wholly past the end of the disk, a logical partition outside its extended partition, a looping EBR
chain, a GPT header or entry array whose CRC does not match.
"""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from inspector.model import EntryKind, ProblemKind
from inspector.streams import RangeReader
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext
from inspector.unpack.fat import claims_fat, looks_like_fat, parse_bpb

SIGNATURE = b"\x55\xaa"
GPT_MAGIC = b"EFI PART"
EXTENDED_TYPES = frozenset({0x05, 0x0F, 0x85})
#: MBR partition types that promise a FAT file system (FAT12, FAT16 <32M, FAT16, FAT32 CHS/LBA, FAT16 LBA).
FAT_TYPES = frozenset({0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E})
#: Logical partitions followed at most (Linux stops far earlier in practice).
MAX_LOGICAL = 256
#: GPT partition entries read at most, and the largest entry size accepted.
MAX_GPT_ENTRIES = 4096
MAX_GPT_ENTRY_SIZE = 4096
#: Gaps listed individually in the disk's metadata (their total is always exact).
MAX_GAPS_LISTED = 64
#: OEM names of volume boot records (bytes 3..11): sector 0 of an unpartitioned volume, not an MBR.
_VBR_OEM = (b"NTFS", b"EXFAT", b"MSDOS", b"MSWIN", b"FAT", b"SYSLINUX", b"mkfs.fat", b"mkdosfs", b"MTOO", b"FREEDOS")

MBR_TYPES = {
    0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16", 0x07: "HPFS/NTFS/exFAT",
    0x0B: "W95 FAT32", 0x0C: "W95 FAT32 (LBA)", 0x0E: "W95 FAT16 (LBA)", 0x0F: "W95 Ext'd (LBA)",
    0x82: "Linux swap", 0x83: "Linux", 0x85: "Linux extended", 0x8E: "Linux LVM", 0xA5: "FreeBSD",
    0xEE: "GPT", 0xEF: "EFI (FAT-12/16/32)", 0xFB: "VMware VMFS", 0xFC: "VMware VMKCORE",
    0xFD: "Linux raid autodetect",
}
GPT_TYPES = {
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
    "21686148-6449-6E6F-744E-656564454649": "BIOS boot",
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
    "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
    "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery environment",
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
    "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
    "E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
    "A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
    "AA31E02A-400F-11DB-9590-000C2911D1B8": "VMware VMFS",
    "9D275380-40AD-11DB-BF97-000C2911D1B8": "VMware kcore crash protection",
    "9198EFFC-31C0-11DB-8F78-000C2911D1B8": "VMware reserved",
}


@dataclass(frozen=True)
class Partition:
    """One partition table entry, in bytes and sectors (``last_lba`` inclusive, as GPT stores it)."""

    number: int
    scheme: str
    type: str
    type_name: str
    first_lba: int
    sectors: int
    sector_size: int
    bootable: bool = False
    extended: bool = False
    name: str = ""
    guid: str = ""
    attributes: int = 0

    @property
    def start(self) -> int:
        """Byte offset of the partition on the disk."""
        return self.first_lba * self.sector_size

    @property
    def size(self) -> int:
        """Size in bytes as the table gives it."""
        return self.sectors * self.sector_size

    @property
    def end(self) -> int:
        """Byte offset just past the partition."""
        return self.start + self.size

    @property
    def last_lba(self) -> int:
        """Last sector of the partition (inclusive)."""
        return self.first_lba + self.sectors - 1

    def meta(self) -> dict[str, Any]:
        """The partition's table data as it appears in the member's metadata."""
        m: dict[str, Any] = {
            "number": self.number,
            "scheme": self.scheme,
            "type": self.type,
            "type_name": self.type_name,
            "start": self.start,
            "size": self.size,
            "first_lba": self.first_lba,
            "last_lba": self.last_lba,
            "sectors": self.sectors,
        }
        if self.bootable:
            m["bootable"] = True
        if self.extended:
            m["extended"] = True
        if self.name:
            m["name"] = self.name
        if self.guid:
            m["guid"] = self.guid
        if self.attributes:
            m["attributes"] = f"0x{self.attributes:016x}"
        return m


@dataclass
class Table:
    """A parsed partition table: the partitions, the sectors holding the table itself, findings."""

    scheme: str
    sector_size: int
    partitions: list[Partition] = field(default_factory=list)
    table_ranges: list[tuple[int, int]] = field(default_factory=list)  # byte ranges [start, end)
    problems: list[tuple[str | None, str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def _mbr_entries(sector: bytes) -> list[tuple[int, int, int, int]]:
    """The four (status, type, first LBA, sector count) entries of an MBR or EBR."""
    return [struct.unpack_from("<B3xB3xII", sector, 446 + 16 * i) for i in range(4)]


def looks_like_mbr(head: bytes) -> bool:
    """An MBR: boot signature, sane entries, at least one partition, and not a volume boot record."""
    if len(head) < 512 or head[510:512] != SIGNATURE:
        return False
    if looks_like_fat(head) or claims_fat(head) or any(m in head[3:11] for m in _VBR_OEM):
        return False
    entries = _mbr_entries(head)
    if any(status not in (0x00, 0x80) for status, _t, _s, _n in entries):
        return False
    used = [(t, s, n) for _st, t, s, n in entries if t != 0]
    if not used or any(n < 1 for _t, _s, n in used):
        return False
    if all(s >= 1 for _t, s, _n in used):
        return True
    # An entry starting at sector 0 is impossible (the partition would contain its own table); with only
    # known partition types it is still read as a (damaged) MBR, so the lie is reported, not passed over.
    return all(t in MBR_TYPES for t, _s, _n in used)


def gpt_sector_size(head: bytes) -> int | None:
    """Logical sector size of a GPT disk (where ``EFI PART`` sits at LBA 1), or None."""
    for ss in (512, 4096):
        if head[ss : ss + 8] == GPT_MAGIC:
            return ss
    return None


def _read(fh: BinaryIO, offset: int, n: int) -> bytes:
    fh.seek(offset)
    return fh.read(n)


def read_mbr(fh: BinaryIO, disk_size: int, sector: bytes) -> Table:
    """Primary partitions 1-4 and the logical partitions (5, 6, ...) of every extended partition."""
    ss = 512
    table = Table("mbr", ss, table_ranges=[(0, ss)])
    (sig,) = struct.unpack_from("<I", sector, 440)
    table.meta["disk_signature"] = f"0x{sig:08x}"
    extended: list[Partition] = []
    for slot, (status, ptype, start, count) in enumerate(_mbr_entries(sector), 1):
        if ptype == 0 or count == 0:
            continue
        p = _mbr_partition(slot, status, ptype, start, count)
        table.partitions.append(p)
        if p.extended:
            extended.append(p)
    number = 5
    for ext in extended:
        number = _read_logicals(fh, disk_size, ext, number, table)
    return table


def _mbr_partition(number: int, status: int, ptype: int, start: int, count: int) -> Partition:
    return Partition(
        number=number,
        scheme="mbr",
        type=f"0x{ptype:02x}",
        type_name=MBR_TYPES.get(ptype, "unknown"),
        first_lba=start,
        sectors=count,
        sector_size=512,
        bootable=status == 0x80,
        extended=ptype in EXTENDED_TYPES,
    )


def _read_logicals(fh: BinaryIO, disk_size: int, ext: Partition, number: int, table: Table) -> int:
    """Follow the EBR chain of ``ext``; return the next free partition number."""
    ss = 512
    ebr_lba = ext.first_lba
    seen: set[int] = set()
    where = f"p{ext.number}"
    while True:
        if ebr_lba in seen:
            table.problems.append((where, f"extended boot record chain loops back to sector {ebr_lba}; "
                                   "later logical partitions not read", "error"))
            return number
        if len(seen) >= MAX_LOGICAL:
            table.problems.append((where, f"more than {MAX_LOGICAL} logical partitions; rest not read", "limit"))
            return number
        seen.add(ebr_lba)
        ebr = _read(fh, ebr_lba * ss, ss)
        if len(ebr) < ss:
            table.problems.append((where, f"extended boot record at sector {ebr_lba} lies past the end of "
                                   "the disk; logical partitions from there on not read", "error"))
            return number
        if ebr[510:512] != SIGNATURE:
            table.problems.append((where, f"extended boot record at sector {ebr_lba} has no boot signature; "
                                   "logical partitions from there on not read", "error"))
            return number
        table.table_ranges.append((ebr_lba * ss, ebr_lba * ss + ss))
        next_lba = None
        for status, ptype, start, count in _mbr_entries(ebr):
            if ptype == 0 or count == 0:
                continue
            if ptype in EXTENDED_TYPES:
                if next_lba is None:
                    next_lba = ext.first_lba + start
                continue
            p = _mbr_partition(number, status, ptype, ebr_lba + start, count)
            table.partitions.append(p)
            if p.first_lba < ext.first_lba or p.first_lba + p.sectors > ext.first_lba + ext.sectors:
                table.problems.append((f"p{number}", f"logical partition (sectors {p.first_lba}-{p.last_lba}) "
                                       f"lies outside its extended partition p{ext.number}", "warning"))
            number += 1
        if next_lba is None:
            return number
        ebr_lba = next_lba


def _guid(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw)).upper()


@dataclass(frozen=True)
class _GptHeader:
    my_lba: int
    alternate_lba: int
    first_usable: int
    last_usable: int
    disk_guid: str
    entries_lba: int
    entries: int
    entry_size: int
    entries_crc: int


def _gpt_header(raw: bytes, ss: int) -> _GptHeader | str:
    """The parsed header, or the reason it is not valid."""
    if len(raw) < 92 or raw[:8] != GPT_MAGIC:
        return "no GPT signature"
    (hsize,) = struct.unpack_from("<I", raw, 12)
    if not 92 <= hsize <= ss:
        return f"header size {hsize} out of range"
    (crc,) = struct.unpack_from("<I", raw, 16)
    body = raw[:16] + b"\x00\x00\x00\x00" + raw[20:hsize]
    if zlib.crc32(body) != crc:
        return "header CRC32 mismatch"
    my, alt, first, last = struct.unpack_from("<QQQQ", raw, 24)
    entries_lba, n, esz, ecrc = struct.unpack_from("<QIII", raw, 72)
    if esz < 128 or esz % 8 or esz > MAX_GPT_ENTRY_SIZE:
        return f"partition entry size {esz} invalid"
    return _GptHeader(my, alt, first, last, _guid(raw[56:72]), entries_lba, n, esz, ecrc)


def read_gpt(fh: BinaryIO, disk_size: int, ss: int) -> Table:
    """GPT partitions (numbered by entry index + 1) from the primary header, else from the backup."""
    table = Table("gpt", ss, table_ranges=[(0, ss)])
    last_sector = disk_size // ss - 1
    primary = _gpt_header(_read(fh, ss, ss), ss)
    backup_raw = _read(fh, last_sector * ss, ss) if last_sector > 1 else b""
    if isinstance(primary, _GptHeader) and primary.alternate_lba * ss + ss <= disk_size:
        backup_raw = _read(fh, primary.alternate_lba * ss, ss)
    backup = _gpt_header(backup_raw, ss)
    if isinstance(primary, _GptHeader):
        header = primary
        table.table_ranges.append((ss, 2 * ss))
    elif isinstance(backup, _GptHeader):
        header = backup
        table.problems.append((None, f"primary GPT header unusable ({primary}); backup header used", "error"))
    else:
        raise FormatError(f"GPT: primary header unusable ({primary}), backup header unusable ({backup})")
    if isinstance(backup, _GptHeader):
        backup_lba = header.alternate_lba if header is primary else backup.my_lba
        table.table_ranges.append((backup_lba * ss, backup_lba * ss + ss))
        table.table_ranges.append(_array_range(backup, ss))
    elif header is primary:
        table.problems.append((None, f"backup GPT header unusable ({backup})", "warning"))
    count = header.entries
    if count > MAX_GPT_ENTRIES:
        table.problems.append((None, f"GPT claims {count} partition entries; only the first "
                               f"{MAX_GPT_ENTRIES} read", "limit"))
        count = MAX_GPT_ENTRIES
    array_bytes = _read(fh, header.entries_lba * ss, header.entries * header.entry_size
                        if header.entries <= MAX_GPT_ENTRIES else count * header.entry_size)
    table.table_ranges.append(_array_range(header, ss))
    if len(array_bytes) < count * header.entry_size:
        table.problems.append((None, "GPT partition entry array runs past the end of the disk", "error"))
        count = len(array_bytes) // header.entry_size
    elif header.entries <= MAX_GPT_ENTRIES and zlib.crc32(array_bytes) != header.entries_crc:
        table.problems.append((None, "GPT partition entry array CRC32 mismatch (entries read anyway)", "error"))
    table.meta.update(
        disk_guid=header.disk_guid,
        first_usable_lba=header.first_usable,
        last_usable_lba=header.last_usable,
        gpt_entries=header.entries,
    )
    for i in range(count):
        e = array_bytes[i * header.entry_size : (i + 1) * header.entry_size]
        if e[:16] == b"\x00" * 16:
            continue
        type_guid = _guid(e[:16])
        first, last, attrs = struct.unpack_from("<QQQ", e, 32)
        name = e[56:128].decode("utf-16-le", "replace").split("\x00", 1)[0]
        number = i + 1
        if last < first:
            table.problems.append((f"p{number}", f"GPT entry ends (sector {last}) before it starts "
                                   f"(sector {first}); skipped", "error"))
            continue
        p = Partition(
            number=number, scheme="gpt", type=type_guid, type_name=GPT_TYPES.get(type_guid, "unknown"),
            first_lba=first, sectors=last - first + 1, sector_size=ss, name=name,
            guid=_guid(e[16:32]), attributes=attrs,
        )
        table.partitions.append(p)
        if first < header.first_usable or last > header.last_usable:
            table.problems.append((f"p{number}", f"partition (sectors {first}-{last}) lies outside the usable "
                                   f"area {header.first_usable}-{header.last_usable}", "warning"))
    return table


def _array_range(h: _GptHeader, ss: int) -> tuple[int, int]:
    n = min(h.entries, MAX_GPT_ENTRIES) * h.entry_size
    return h.entries_lba * ss, h.entries_lba * ss + -(-n // ss) * ss


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(r for r in ranges if r[1] > r[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def space_accounting(table: Table, disk_size: int) -> dict[str, Any]:
    """Partitioned, partition-table and unallocated bytes of the disk, and the unallocated gaps.

    The three figures add up to the disk size. Ranges are clipped to the disk; overlapping partitions
    count once. Extended MBR partitions are containers of logical ones and do not count themselves.
    """
    clip = lambda r: (min(r[0], disk_size), min(r[1], disk_size))  # noqa: E731
    data = _union([clip((p.start, p.end)) for p in table.partitions if not p.extended])
    used = _union(data + [clip(r) for r in table.table_ranges])
    partitioned = sum(e - s for s, e in data)
    covered = sum(e - s for s, e in used)
    gaps = []
    pos = 0
    for s, e in used + [(disk_size, disk_size)]:
        if s > pos:
            gaps.append((pos, s))
        pos = max(pos, e)
    return {
        "partitioned_bytes": partitioned,
        "table_bytes": covered - partitioned,
        "unallocated_bytes": disk_size - covered,
        "gaps": [{"start": s, "size": e - s} for s, e in gaps[:MAX_GAPS_LISTED]],
        "gap_count": len(gaps),
    }


def check_layout(table: Table, disk_size: int) -> None:
    """Record partitions that overlap each other or lie past the end of the disk."""
    data = sorted((p for p in table.partitions if not p.extended), key=lambda p: (p.start, p.number))
    for i, a in enumerate(data):
        for b in data[i + 1 :]:
            if b.start >= a.end:
                break
            later, earlier = (a, b) if a.number > b.number else (b, a)
            lo, hi = max(a.first_lba, b.first_lba), min(a.last_lba, b.last_lba)
            table.problems.append((f"p{later.number}", f"partition overlaps p{earlier.number} "
                                   f"(sectors {lo}-{hi} are in both)", "error"))
    for p in table.partitions:
        if p.start == 0 and not p.extended:
            # Read all the same: the walker notices a member that holds its container's own bytes again.
            table.problems.append((f"p{p.number}", "partition starts at sector 0, over the partition table "
                                   "(a partition cannot contain its own table)", "mismatch"))
        elif p.start >= disk_size:
            table.problems.append((f"p{p.number}", f"partition starts at byte {p.start}, past the end of the "
                                   f"{disk_size}-byte disk; not read", "error"))
        elif p.end > disk_size:
            table.problems.append((f"p{p.number}", f"partition ends {p.end - disk_size} bytes past the end of "
                                   f"the {disk_size}-byte disk; only its first {disk_size - p.start} bytes read",
                                   "error"))


class DiskHandler:
    """A partitioned disk image: one member per partition, space accounting in the disk's metadata."""

    name = "disk"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        """A GPT header at LBA 1, or an MBR that is not a volume boot record."""
        return gpt_sector_size(info.head) is not None and info.head[510:512] == SIGNATURE or looks_like_mbr(
            info.head
        )

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the partitions in number order (the extended container first among them)."""
        disk_size = stream.seek(0, io.SEEK_END)
        sector = _read(stream, 0, 512)
        if len(sector) < 512:
            raise FormatError("disk image shorter than one sector")
        ss = gpt_sector_size(_read(stream, 0, 4096 + 8))
        protective = any(t == 0xEE for _s, t, _f, _n in _mbr_entries(sector))
        if ss is not None:
            table = read_gpt(stream, disk_size, ss)
        else:
            table = read_mbr(stream, disk_size, sector)
            if protective:
                table.problems.append((None, "protective MBR (type 0xEE) but no GPT header found; "
                                       "MBR entries read", "error"))
        check_layout(table, disk_size)
        ctx.meta.update(scheme=table.scheme, sector_size=table.sector_size, disk_size=disk_size)
        ctx.meta.update(table.meta)
        ctx.meta["partitions"] = [
            {"name": f"p{p.number}", "type": p.type, "type_name": p.type_name, "start": p.start, "size": p.size,
             **({"label": p.name} if p.name else {}), **({"extended": True} if p.extended else {})}
            for p in sorted(table.partitions, key=lambda p: p.number)
        ]
        ctx.meta.update(space_accounting(table, disk_size))
        for where, reason, kind in table.problems:
            ctx.problem(where, reason, kind)
        for p in sorted(table.partitions, key=lambda p: p.number):
            meta: dict[str, Any] = {"partition": p.meta()}
            if p.name:
                meta["label"] = p.name
            if p.extended:
                yield Member(f"p{p.number}", EntryKind.OTHER, size=p.size, meta=meta)
                continue
            if p.start >= disk_size:
                continue
            length = min(p.size, disk_size - p.start)
            fat_problem = _fat_promise_broken(stream, p)
            if fat_problem is not None:
                ctx.problem(f"p{p.number}", fat_problem, ProblemKind.ERROR)
                meta["unreadable"] = True
            if length < p.size:
                meta["truncated"] = True
            yield Member(
                f"p{p.number}",
                EntryKind.FILE,
                size=length,
                stored_size=length,
                meta=meta,
                open=lambda s=p.start, n=length: RangeReader(stream, s, n),  # type: ignore[misc]
            )


def _fat_promise_broken(stream: BinaryIO, p: Partition) -> str | None:
    """Why a partition typed FAT cannot be read as FAT (its boot sector is not a valid BPB), or None.

    A boot sector that still claims to be FAT is left to the FAT reader, which reports the same reason.
    """
    if p.scheme != "mbr" or int(p.type, 16) not in FAT_TYPES:
        return None
    sector = _read(stream, p.start, 512)
    if looks_like_fat(sector) or claims_fat(sector):
        return None
    try:
        parse_bpb(sector)
    except FormatError as exc:
        reason = str(exc).removeprefix("FAT: ")
    else:  # a valid BPB without the boot signature or jump instruction
        reason = "no FAT boot signature (0x55AA) or jump instruction"
    return (f"partition typed {p.type_name} ({p.type}) but its boot sector is not a FAT volume: {reason}; "
            "read as plain data")


__all__ = ["DiskHandler", "Partition", "Table", "read_mbr", "read_gpt", "space_accounting", "looks_like_mbr"]
