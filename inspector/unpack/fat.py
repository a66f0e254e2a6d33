"""FAT12/16/32 volumes (a partition of a disk image, or a bare ``mformat``/``mkfs.fat`` image).

Read with our own small reader (the mature Python ones are AGPL). The boot sector's BPB gives the
geometry; the FAT type follows from the cluster count as the Microsoft specification says (<4085
FAT12, <65525 FAT16, else FAT32). Directories are read cluster by cluster (the FAT12/16 root is a fixed
region), VFAT long names are used when their checksum matches the short entry, ``.``/``..``, volume-label
and deleted entries are skipped. File data is streamed cluster run by cluster run.

Every cluster may belong to one chain only: a chain that loops, runs off the volume, reaches a free or
bad cluster, or shares a cluster with another file is reported as an error naming that file or
directory, and the rest of the volume is still read. The FAT itself is read on demand through a small
block cache, so memory stays bounded whatever the volume size.
"""

from __future__ import annotations

import array
import bisect
import calendar
import io
import re
import struct
import sys
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from inspector.model import EntryKind, ProblemKind
from inspector.names import display_name
from inspector.streams import SeekableRaw
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext

#: Directory nesting deeper than this is reported and not followed (FAT has no depth limit of its own).
MAX_DIR_DEPTH = 64
#: Bytes of the FAT read at a time, and how many such blocks are cached.
_FAT_BLOCK = 64 * 1024
_FAT_CACHE_BLOCKS = 32
_EOC = {12: 0xFF8, 16: 0xFFF8, 32: 0x0FFFFFF8}
_BAD = {12: 0xFF7, 16: 0xFFF7, 32: 0x0FFFFFF7}
_ATTR_RO, _ATTR_HIDDEN, _ATTR_SYSTEM, _ATTR_VOLUME, _ATTR_DIR = 0x01, 0x02, 0x04, 0x08, 0x10
_ATTR_LFN = 0x0F


@dataclass(frozen=True)
class Bpb:
    """Geometry of a FAT volume, from its boot sector (all offsets in bytes from the volume start)."""

    fat_type: int
    sector_size: int
    cluster_size: int
    reserved_sectors: int
    fats: int
    fat_sectors: int
    root_entries: int
    total_sectors: int
    clusters: int
    fat_offset: int
    root_offset: int  # FAT12/16 fixed root directory
    root_size: int
    data_offset: int
    root_cluster: int  # FAT32
    oem_name: str
    bpb_label: str
    serial: str
    fs_type: str

    @property
    def volume_size(self) -> int:
        """Bytes the boot sector says the volume spans."""
        return self.total_sectors * self.sector_size


def _ascii(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip(" \x00")


def parse_bpb(sector: bytes) -> Bpb:
    """Parse and validate a FAT boot sector; raise FormatError with the first inconsistency found."""
    if len(sector) < 512:
        raise FormatError("FAT: boot sector truncated")
    bps, spc, reserved, fats, root_entries, total16, _media, fatsz16 = struct.unpack_from("<HBHBHHBH", sector, 11)
    total32, fatsz32 = struct.unpack_from("<II", sector, 32)
    if bps not in (512, 1024, 2048, 4096):
        raise FormatError(f"FAT: invalid bytes per sector {bps}")
    if spc == 0 or spc & (spc - 1):
        raise FormatError(f"FAT: invalid sectors per cluster {spc}")
    if reserved == 0 or fats == 0 or fats > 4:
        raise FormatError(f"FAT: invalid BPB (reserved sectors {reserved}, FAT copies {fats})")
    fat_sectors = fatsz16 or fatsz32
    total = total16 or total32
    if fat_sectors == 0 or total == 0:
        raise FormatError("FAT: BPB gives no FAT size or no sector count")
    root_size = root_entries * 32
    root_sectors = (root_size + bps - 1) // bps
    first_data = reserved + fats * fat_sectors + root_sectors
    if first_data >= total:
        raise FormatError(f"FAT: metadata ({first_data} sectors) fills the whole volume ({total} sectors)")
    clusters = (total - first_data) // spc
    fat_type = 12 if clusters < 4085 else 16 if clusters < 65525 else 32
    if fat_type == 32:
        if fatsz16 or root_entries:
            raise FormatError("FAT: FAT32 cluster count but a FAT12/16 BPB")
        label_at, serial_at, type_at = 71, 67, 82
        (root_cluster,) = struct.unpack_from("<I", sector, 44)
    else:
        if root_entries == 0:
            raise FormatError(f"FAT{fat_type}: no root directory entries")
        label_at, serial_at, type_at = 43, 39, 54
        root_cluster = 0
    if fat_sectors * bps * 8 < (clusters + 2) * fat_type:
        raise FormatError(f"FAT{fat_type}: FAT of {fat_sectors} sectors too small for {clusters} clusters")
    has_ext = sector[serial_at - 1] in (0x28, 0x29)
    (serial,) = struct.unpack_from("<I", sector, serial_at)
    return Bpb(
        fat_type=fat_type,
        sector_size=bps,
        cluster_size=bps * spc,
        reserved_sectors=reserved,
        fats=fats,
        fat_sectors=fat_sectors,
        root_entries=root_entries,
        total_sectors=total,
        clusters=clusters,
        fat_offset=reserved * bps,
        root_offset=(reserved + fats * fat_sectors) * bps,
        root_size=root_size,
        data_offset=first_data * bps,
        root_cluster=root_cluster,
        oem_name=_ascii(sector[3:11]),
        bpb_label=_ascii(sector[label_at : label_at + 11]) if has_ext and sector[serial_at - 1] == 0x29 else "",
        serial=f"{serial >> 16:04X}-{serial & 0xFFFF:04X}" if has_ext else "",
        fs_type=_ascii(sector[type_at : type_at + 8]) if has_ext else "",
    )


#: File-system type strings a FAT boot sector carries at offset 54 (FAT12/16) or 82 (FAT32).
_FS_TYPES = (b"FAT12   ", b"FAT16   ", b"FAT32   ", b"FAT     ")


def claims_fat(head: bytes) -> bool:
    """True when ``head`` presents itself as a FAT boot sector (jump, signature and a FAT type string),
    whether or not its BPB is valid: such a volume is reported as unreadable, never read as plain data."""
    if len(head) < 512 or head[510:512] != b"\x55\xaa" or head[0] not in (0xEB, 0xE9):
        return False
    return head[54:62] in _FS_TYPES or head[82:90] in _FS_TYPES


def looks_like_fat(head: bytes) -> bool:
    """True when ``head`` starts with a FAT boot sector (jump instruction, signature and a sane BPB)."""
    if len(head) < 512 or head[510:512] != b"\x55\xaa" or head[0] not in (0xEB, 0xE9):
        return False
    try:
        parse_bpb(head[:512])
    except FormatError:
        return False
    return True


def dos_time(date: int, time: int) -> float | None:
    """Seconds since the epoch for a DOS date/time pair (FAT stores local time; we read it as UTC)."""
    if date == 0:
        return None
    year, month, day = 1980 + (date >> 9), (date >> 5) & 0xF, date & 0x1F
    hour, minute, sec = time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and sec < 60):
        return None
    try:
        return float(calendar.timegm((year, month, day, hour, minute, sec, 0, 0, 0)))
    except (ValueError, OverflowError):
        return None


def lfn_checksum(short: bytes) -> int:
    """The VFAT checksum of an 11-byte short name, stored in each long-name entry that belongs to it."""
    s = 0
    for c in short:
        s = (((s & 1) << 7) + (s >> 1) + c) & 0xFF
    return s


def short_name(raw: bytes, nt_flags: int) -> str:
    """The 8.3 name of a directory entry, lower-cased where Windows NT's case bits say so."""
    base, ext = bytearray(raw[:8].rstrip(b" ")), raw[8:11].rstrip(b" ")
    if base[:1] == b"\x05":
        base[0] = 0xE5
    b, e = bytes(base).decode("cp437"), ext.decode("cp437")
    if nt_flags & 0x08:
        b = b.lower()
    if nt_flags & 0x10:
        e = e.lower()
    return f"{b}.{e}" if e else b


@dataclass(frozen=True)
class _DirEntry:
    name: str
    short: str
    attr: int
    cluster: int
    size: int
    mtime: float | None
    #: The long name held UTF-16 code units that are not text (lone surrogates); they are escaped.
    odd_long_name: bool = False


#: A lone UTF-16 surrogate left in a decoded name (``surrogatepass`` keeps unpaired halves as such).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_long_name(units: bytes) -> tuple[str, bool]:
    """A VFAT long name from its UTF-16LE code units, lone surrogates escaped as ``\\uXXXX``.

    Returns the name and whether anything had to be escaped: a name that is not valid UTF-16 is shown
    as it is stored, never replaced by U+FFFD (two different stored names must stay two names).
    """
    text = units.decode("utf-16-le", "surrogatepass")
    escaped = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return escaped, escaped != text


class _FatTable:
    """On-demand access to the first FAT with a small block cache, and the per-volume cluster owners."""

    def __init__(self, fh: BinaryIO, bpb: Bpb) -> None:
        self._fh = fh
        self.bpb = bpb
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._size = bpb.fat_sectors * bpb.sector_size
        self.eoc = _EOC[bpb.fat_type]
        self.bad = _BAD[bpb.fat_type]
        self._used = bytearray(bpb.clusters // 8 + 2)

    def _bytes(self, offset: int, n: int) -> bytes:
        out = b""
        while n > 0:
            idx, off = divmod(offset, _FAT_BLOCK)
            block = self._block(idx)
            part = block[off : off + n]
            if not part:
                raise FormatError(f"FAT{self.bpb.fat_type}: FAT truncated at byte {offset}")
            out += part
            offset += len(part)
            n -= len(part)
        return out

    def _block(self, idx: int) -> bytes:
        block = self._cache.get(idx)
        if block is None:
            start = idx * _FAT_BLOCK
            self._fh.seek(self.bpb.fat_offset + start)
            block = self._fh.read(min(_FAT_BLOCK, self._size - start))
            self._cache[idx] = block
            if len(self._cache) > _FAT_CACHE_BLOCKS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(idx)
        return block

    def get(self, cluster: int) -> int:
        """The FAT entry of ``cluster`` (the next cluster of its chain, EOC, free or bad)."""
        t = self.bpb.fat_type
        if t == 12:
            (v,) = struct.unpack("<H", self._bytes(cluster + cluster // 2, 2))
            return v >> 4 if cluster & 1 else v & 0xFFF
        if t == 16:
            return int(struct.unpack("<H", self._bytes(cluster * 2, 2))[0])
        return int(struct.unpack("<I", self._bytes(cluster * 4, 4))[0]) & 0x0FFFFFFF

    def claim(self, cluster: int, what: str) -> None:
        """Mark ``cluster`` as used by ``what``; a second claim means a loop or a cross-link."""
        byte, bit = divmod(cluster, 8)
        if self._used[byte] & (1 << bit):
            raise FormatError(
                f"FAT chain of {what} reaches cluster {cluster} a second time (loop or cross-linked clusters)"
            )
        self._used[byte] |= 1 << bit

    def free_clusters(self) -> int:
        """Count the free entries of the FAT, reading it block by block."""
        bpb = self.bpb
        first, last = 2, bpb.clusters + 1
        if bpb.fat_type == 12:
            data = self._bytes(0, min(self._size, (last + 1) * 3 // 2 + 2))
            free = 0
            for c in range(first, last + 1):
                off = c + c // 2
                v = data[off] | (data[off + 1] << 8) if off + 1 < len(data) else 0xFFF
                free += (v >> 4 if c & 1 else v & 0xFFF) == 0
            return free
        width = 2 if bpb.fat_type == 16 else 4
        code = "H" if width == 2 else ("I" if array.array("I").itemsize == 4 else "L")
        free = 0
        step = _FAT_BLOCK // width
        for start in range(first, last + 1, step):
            n = min(step, last + 1 - start)
            arr = array.array(code, self._bytes(start * width, n * width))
            if sys.byteorder == "big":
                arr.byteswap()
            free += arr.count(0)
        return free


class _Chain:
    """A cluster chain, followed lazily; its clusters are kept as runs of consecutive clusters."""

    def __init__(self, table: _FatTable, start: int, what: str) -> None:
        self._t = table
        self._what = what
        self._starts: list[int] = []  # chain index of each run's first cluster
        self._runs: list[tuple[int, int]] = []  # (first cluster, count)
        self.length = 0
        self._next: int | None = start
        self.ended = False

    def _valid(self, c: int) -> None:
        t = self._t
        if c == 0 and self.length == 0:
            raise FormatError(f"{self._what} has data but no first cluster")
        if c == 0:
            raise FormatError(f"FAT chain of {self._what} reaches a free cluster after {self.length} clusters")
        if c == t.bad:
            raise FormatError(f"FAT chain of {self._what} reaches a cluster marked bad after {self.length} clusters")
        if not 2 <= c <= t.bpb.clusters + 1:
            raise FormatError(
                f"FAT chain of {self._what} runs off the volume: cluster {c} after {self.length} clusters "
                f"(volume has clusters 2..{t.bpb.clusters + 1})"
            )

    def _extend(self) -> None:
        c = self._next
        assert c is not None
        self._valid(c)
        self._t.claim(c, self._what)
        if self._runs and self._runs[-1][0] + self._runs[-1][1] == c:
            first, count = self._runs[-1]
            self._runs[-1] = (first, count + 1)
        else:
            self._starts.append(self.length)
            self._runs.append((c, 1))
        self.length += 1
        nxt = self._t.get(c)
        if nxt >= self._t.eoc:
            self._next, self.ended = None, True
        else:
            self._next = nxt

    def run_at(self, index: int) -> tuple[int, int] | None:
        """(cluster, consecutive clusters from there) for chain index ``index``; None past the chain's end."""
        while self.length <= index and not self.ended:
            self._extend()
        if index >= self.length:
            return None
        i = bisect.bisect_right(self._starts, index) - 1
        first, count = self._runs[i]
        skip = index - self._starts[i]
        return first + skip, count - skip

    def clusters(self) -> Iterator[int]:
        """Every cluster of the chain in order, up to its end-of-chain mark."""
        i = 0
        while (run := self.run_at(i)) is not None:
            yield run[0]
            i += 1


class _FileReader(SeekableRaw):
    """Seekable stream over a file's clusters; reads whole runs of consecutive clusters at once."""

    def __init__(self, fh: BinaryIO, bpb: Bpb, chain: _Chain | None, size: int, what: str) -> None:
        super().__init__(size)
        self._fh, self._bpb, self._chain, self._size, self._what = fh, bpb, chain, size, what

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        remaining = self._size - self._pos
        if remaining <= 0 or not len(view):
            return 0
        cs = self._bpb.cluster_size
        index, off = divmod(self._pos, cs)
        run = self._chain.run_at(index) if self._chain is not None else None
        if run is None:
            have = (self._chain.length if self._chain else 0) * cs
            raise FormatError(f"FAT chain of {self._what} ends after {have} bytes but the file is {self._size} bytes")
        cluster, count = run
        n = min(len(view), remaining, count * cs - off)
        self._fh.seek(self._bpb.data_offset + (cluster - 2) * cs + off)
        got = self._fh.readinto(view[:n]) or 0  # type: ignore[attr-defined]
        if got == 0:
            raise FormatError(f"{self._what}: cluster {cluster} lies past the end of the volume image")
        self._pos += got
        return got


class FatHandler:
    """A FAT12/16/32 volume: every file and directory, with label, FAT type and used/free bytes in meta."""

    name = "fat"
    needs_seekable = True

    def match(self, info: SniffInfo) -> bool:
        """A FAT boot sector at offset 0 (also one whose BPB is damaged: ``members`` then says why)."""
        return looks_like_fat(info.head) or claims_fat(info.head)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the volume's directories and files, depth first, in directory order."""
        stream.seek(0)
        try:
            bpb = parse_bpb(stream.read(512))
        except FormatError as exc:
            raise FormatError(f"FAT volume unreadable: {str(exc).removeprefix('FAT: ')}") from None
        avail = stream.seek(0, io.SEEK_END)
        table = _FatTable(stream, bpb)
        meta = ctx.meta
        meta.update(
            fat_type=f"FAT{bpb.fat_type}",
            cluster_size=bpb.cluster_size,
            sector_size=bpb.sector_size,
            clusters=bpb.clusters,
            volume_bytes=bpb.volume_size,
        )
        for key, value in (("oem_name", bpb.oem_name), ("serial", bpb.serial), ("bpb_label", bpb.bpb_label)):
            if value and value != "NO NAME":
                meta[key] = value
        if avail < bpb.volume_size:
            ctx.problem(None, f"FAT{bpb.fat_type} volume is {bpb.volume_size} bytes but only {avail} are present "
                        "(truncated image or partition)", "error")
        free = table.free_clusters()
        meta["free_bytes"] = free * bpb.cluster_size
        meta["used_bytes"] = (bpb.clusters - free) * bpb.cluster_size
        if bpb.bpb_label and bpb.bpb_label != "NO NAME":
            meta["label"] = bpb.bpb_label
        walker = _Walk(stream, bpb, table, ctx)
        yield from walker.directory(walker.root(), "", 0)
        if walker.label is not None:
            meta["label"] = walker.label


class _Walk:
    """One traversal of a volume's directory tree."""

    def __init__(self, fh: BinaryIO, bpb: Bpb, table: _FatTable, ctx: UnpackContext) -> None:
        self.fh, self.bpb, self.table, self.ctx = fh, bpb, table, ctx
        self.label: str | None = None

    def root(self) -> Iterator[bytes]:
        """The root directory's raw bytes, a cluster (or 16 KiB of the fixed FAT12/16 root) at a time."""
        bpb = self.bpb
        if bpb.fat_type != 32:
            return self._fixed(bpb.root_offset, bpb.root_size)
        return self._clusters(_Chain(self.table, bpb.root_cluster, "the root directory"))

    def _fixed(self, offset: int, size: int) -> Iterator[bytes]:
        pos = 0
        while pos < size:
            self.fh.seek(offset + pos)
            data = self.fh.read(min(16384, size - pos))
            if len(data) < 32:
                raise FormatError("root directory lies past the end of the volume image")
            pos += len(data)
            yield data

    def _clusters(self, chain: _Chain) -> Iterator[bytes]:
        cs = self.bpb.cluster_size
        for c in chain.clusters():
            self.fh.seek(self.bpb.data_offset + (c - 2) * cs)
            data = self.fh.read(cs)
            if len(data) < cs:
                raise FormatError(f"directory cluster {c} lies past the end of the volume image")
            yield data

    def entries(self, blocks: Iterator[bytes], is_root: bool) -> Iterator[_DirEntry]:
        """Parse raw directory blocks into entries, joining VFAT long names to their short entries."""
        parts: dict[int, bytes] = {}
        expect = 0  # ordinal the next long-name entry must have (0: none pending)
        checksum = -1
        for block in blocks:
            for pos in range(0, len(block) - 31, 32):
                e = block[pos : pos + 32]
                first, attr = e[0], e[11]
                if first == 0:
                    return
                if first == 0xE5:
                    parts, expect = {}, 0
                    continue
                if attr & 0x3F == _ATTR_LFN:
                    seq = first & 0x1F
                    if first & 0x40:
                        parts, expect, checksum = {}, seq, e[13]
                    if seq == 0 or seq != expect or e[13] != checksum:
                        parts, expect = {}, 0
                        continue
                    parts[seq] = e[1:11] + e[14:26] + e[28:32]
                    expect = seq - 1
                    continue
                long_name, odd = None, False
                if parts and expect == 0 and lfn_checksum(e[:11]) == checksum:
                    units = b"".join(parts[i] for i in sorted(parts))
                    end = next((i for i in range(0, len(units) - 1, 2) if units[i : i + 2] == b"\0\0"), len(units))
                    long_name, odd = decode_long_name(units[:end])
                parts, expect = {}, 0
                if attr & _ATTR_VOLUME:
                    if is_root and self.label is None and not attr & _ATTR_DIR:
                        self.label = (e[:11].decode("cp437").rstrip(" ")) or None
                    continue
                short = short_name(e[:11], e[12])
                if short in (".", ".."):
                    continue
                hi = struct.unpack_from("<H", e, 20)[0] if self.bpb.fat_type == 32 else 0
                wtime, wdate, lo, size = struct.unpack_from("<HHHI", e, 22)
                yield _DirEntry(
                    name=long_name or short,
                    short=short,
                    attr=attr,
                    cluster=(hi << 16) | lo,
                    size=size,
                    mtime=dos_time(wdate, wtime),
                    odd_long_name=odd,
                )

    def directory(self, blocks: Iterator[bytes], prefix: str, depth: int) -> Iterator[Member]:
        """Members of one directory and, depth first, of its subdirectories."""
        where = prefix.rstrip("/") or None
        try:
            for entry in self.entries(blocks, depth == 0):
                yield from self._member(entry, prefix, depth)
        except FormatError as exc:
            self.ctx.problem(where, f"{exc}; rest of this directory not read", "error")

    def _member(self, entry: _DirEntry, prefix: str, depth: int) -> Iterator[Member]:
        name = display_name(entry.name).replace("/", "\\x2f") or "\\x00"
        path = prefix + name
        meta: dict[str, Any] = {}
        if entry.short.upper() != entry.name.upper():
            meta["short_name"] = entry.short
        if entry.odd_long_name:
            self.ctx.problem(path, "VFAT long name holds lone UTF-16 surrogates (not text); shown escaped as "
                             "\\uXXXX", ProblemKind.WARNING)
        flags = [f for bit, f in ((_ATTR_RO, "readonly"), (_ATTR_HIDDEN, "hidden"), (_ATTR_SYSTEM, "system"))
                 if entry.attr & bit]
        if flags:
            meta["attributes"] = flags
        if entry.attr & _ATTR_DIR:
            yield Member(path, EntryKind.DIR, mtime=entry.mtime, meta=meta)
            if depth + 1 >= MAX_DIR_DEPTH:
                self.ctx.problem(path, f"directories nested deeper than {MAX_DIR_DEPTH} levels; not read", "limit")
            elif entry.cluster == 0:
                self.ctx.problem(path, "directory entry has no first cluster; contents not read", "error")
            else:
                dir_chain = _Chain(self.table, entry.cluster, f"directory {path!r}")
                yield from self.directory(self._clusters(dir_chain), path + "/", depth + 1)
            return
        cs = self.bpb.cluster_size
        chain: _Chain | None = None
        if entry.size or entry.cluster:
            chain = _Chain(self.table, entry.cluster, repr(path))
        allocated = -(-entry.size // cs) * cs
        fh, bpb, size = self.fh, self.bpb, entry.size
        yield Member(
            path,
            EntryKind.FILE,
            size=size,
            stored_size=allocated,
            mtime=entry.mtime,
            meta=meta,
            open=lambda: _FileReader(fh, bpb, chain, size, repr(path)),
        )


__all__ = ["FatHandler", "Bpb", "parse_bpb", "looks_like_fat", "claims_fat", "dos_time", "lfn_checksum", "short_name"]
