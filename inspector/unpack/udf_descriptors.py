"""UDF (ECMA-167 / OSTA UDF 1.02-2.60) on-disc descriptors, parsed from bytes into plain records.

Only parsing lives here: no I/O, no volume logic. Every descriptor starts with a 16-byte tag whose
checksum, location and (when cheap) CRC are checked; a descriptor that fails is a ``UdfError`` naming
the descriptor and the reason, never a silently trusted value.
"""

from __future__ import annotations

import binascii
import calendar
import enum
import struct
from dataclasses import dataclass

from inspector.unpack.base import FormatError

# Tag identifiers (ECMA-167 3/7.2.1 and 4/7.2.1).
TAG_PVD = 1
TAG_AVDP = 2
TAG_VDP = 3
TAG_IUVD = 4
TAG_PD = 5
TAG_LVD = 6
TAG_USD = 7
TAG_TD = 8
TAG_LVID = 9
TAG_FSD = 256
TAG_FID = 257
TAG_AED = 258
TAG_IE = 259
TAG_TE = 260
TAG_FE = 261
TAG_EAHD = 262
TAG_EFE = 266

TAG_NAMES = {
    TAG_PVD: "primary volume descriptor", TAG_AVDP: "anchor volume descriptor pointer",
    TAG_VDP: "volume descriptor pointer", TAG_PD: "partition descriptor", TAG_LVD: "logical volume descriptor",
    TAG_TD: "terminating descriptor", TAG_FSD: "file set descriptor", TAG_FID: "file identifier descriptor",
    TAG_AED: "allocation extent descriptor", TAG_IE: "indirect entry", TAG_FE: "file entry",
    TAG_EFE: "extended file entry",
}


class UdfError(FormatError):
    """A UDF structure is damaged or inconsistent; the message names the structure and the field."""


class FileType(enum.IntEnum):
    """ICB file types (ECMA-167 4/14.6.6, UDF 2.3.5.2) that change how an entry is listed."""

    UNSPECIFIED = 0
    INDIRECT = 3
    DIRECTORY = 4
    FILE = 5
    BLOCK_DEVICE = 6
    CHAR_DEVICE = 7
    FIFO = 9
    SOCKET = 10
    TERMINAL = 11
    SYMLINK = 12
    STREAM_DIRECTORY = 13
    VAT = 248
    REALTIME = 249
    METADATA = 250
    METADATA_MIRROR = 251
    METADATA_BITMAP = 252


class ExtentType(enum.IntEnum):
    """The two top bits of an allocation descriptor's length (ECMA-167 4/14.14.1.1)."""

    RECORDED = 0
    ALLOCATED = 1  # allocated, not recorded: reads as zeros
    SPARSE = 2  # neither allocated nor recorded: reads as zeros
    CONTINUATION = 3  # the next extent of allocation descriptors


class AdKind(enum.IntEnum):
    """How a file entry stores its allocation descriptors (ICB tag flags, bits 0-2)."""

    SHORT = 0
    LONG = 1
    EXTENDED = 2
    EMBEDDED = 3


@dataclass(frozen=True)
class Tag:
    """A descriptor tag: what it is and where it says it is."""

    ident: int
    version: int
    serial: int
    crc: int
    crc_length: int
    location: int


@dataclass(frozen=True)
class Extent:
    """An ``extent_ad`` of the volume space (sectors)."""

    length: int
    location: int


@dataclass(frozen=True)
class AllocDesc:
    """One allocation descriptor: ``length`` bytes at block ``lbn`` of partition ``partition``."""

    kind: ExtentType
    length: int
    lbn: int
    partition: int


@dataclass(frozen=True)
class PartitionDesc:
    """A Partition Descriptor: partition ``number`` spans ``length`` sectors from sector ``start``."""

    vdsn: int
    number: int
    contents: str
    access_type: int
    start: int
    length: int


@dataclass(frozen=True)
class PartitionMap:
    """One logical volume partition map (type 1, or type 2: virtual, sparable or metadata)."""

    kind: str  # "physical", "virtual", "sparable", "metadata" or "unknown:<identifier>"
    partition_number: int
    packet_length: int = 0
    sparing_tables: tuple[int, ...] = ()
    sparing_table_size: int = 0
    metadata_file: int = 0
    metadata_mirror: int = 0
    metadata_bitmap: int = 0
    duplicated: bool = False


@dataclass(frozen=True)
class LogicalVolumeDesc:
    """A Logical Volume Descriptor: block size, UDF revision, where the file set is, the partitions."""

    vdsn: int
    identifier: str
    block_size: int
    domain: str
    udf_revision: int
    fsd: AllocDesc
    maps: tuple[PartitionMap, ...]


@dataclass(frozen=True)
class FileSetDesc:
    """A File Set Descriptor: the root directory's ICB (and the system stream directory's, if any)."""

    identifier: str
    root: AllocDesc
    stream_root: AllocDesc | None


@dataclass(frozen=True)
class FileEntry:
    """A File Entry or Extended File Entry, with its allocation descriptor area not yet decoded."""

    extended: bool
    file_type: int
    strategy: int
    ad_kind: AdKind
    icb_flags: int
    uid: int
    gid: int
    permissions: int
    link_count: int
    info_length: int
    blocks_recorded: int
    mtime: float | None
    unique_id: int
    ea: bytes
    ad_area: bytes
    stream_dir: AllocDesc | None

    @property
    def mode(self) -> int:
        """POSIX permission bits from UDF permissions and the setuid/setgid/sticky ICB flags."""
        p = self.permissions
        mode = (p & 7) | ((p >> 5) & 7) << 3 | ((p >> 10) & 7) << 6
        if self.icb_flags & 0x40:
            mode |= 0o4000
        if self.icb_flags & 0x80:
            mode |= 0o2000
        if self.icb_flags & 0x100:
            mode |= 0o1000
        return mode


@dataclass(frozen=True)
class FileIdent:
    """A File Identifier Descriptor: one name in a directory and the ICB it points at."""

    characteristics: int
    name: str
    icb: AllocDesc
    name_note: str | None = None

    @property
    def is_dir(self) -> bool:
        """The directory bit."""
        return bool(self.characteristics & 0x02)

    @property
    def is_deleted(self) -> bool:
        """The deleted bit: the name is no longer part of the directory."""
        return bool(self.characteristics & 0x04)

    @property
    def is_parent(self) -> bool:
        """The parent bit: the ``..`` entry."""
        return bool(self.characteristics & 0x08)


# -- tags -------------------------------------------------------------------------------------------
def parse_tag(buf: bytes | memoryview, what: str, location: int | None, check_crc: bool = True) -> Tag:
    """The tag at the start of ``buf``, checked: checksum, then location (when given), then CRC.

    ``what`` names the descriptor in the error. A descriptor whose CRC length runs past ``buf`` has
    its CRC checked over what is there only when ``check_crc`` is false (callers pass the full record).
    """
    if len(buf) < 16:
        raise UdfError(f"{what}: {len(buf)} bytes, shorter than a descriptor tag")
    raw = bytes(buf[:16])
    ident, version, checksum, _, serial, crc, crc_len, loc = struct.unpack("<HHBBHHHI", raw)
    total = (sum(raw[:4]) + sum(raw[5:16])) & 0xFF
    if total != checksum:
        if not any(raw):
            raise UdfError(f"{what}: no descriptor (blank sector)")
        raise UdfError(f"{what}: tag checksum {checksum:#04x} does not match its bytes ({total:#04x})")
    if location is not None and loc != location:
        raise UdfError(f"{what}: tag location {loc} but read at block {location}")
    if check_crc and crc_len and 16 + crc_len <= len(buf):
        got = binascii.crc_hqx(bytes(buf[16:16 + crc_len]), 0)
        if got != crc:
            raise UdfError(f"{what}: descriptor CRC {crc:#06x} does not match its {crc_len} bytes ({got:#06x})")
    return Tag(ident, version, serial, crc, crc_len, loc)


def expect_tag(buf: bytes | memoryview, ident: int, location: int | None, what: str | None = None) -> Tag:
    """``parse_tag`` that also requires the identifier ``ident``."""
    name = what or TAG_NAMES.get(ident, f"descriptor {ident}")
    tag = parse_tag(buf, name, location)
    if tag.ident != ident:
        got = TAG_NAMES.get(tag.ident, f"tag {tag.ident}")
        raise UdfError(f"{name}: found a {got} instead (tag identifier {tag.ident})")
    return tag


# -- strings and times ------------------------------------------------------------------------------
def cs0(raw: bytes) -> tuple[str, str | None]:
    """OSTA CS0 d-characters as text, and a note when the bytes are not a valid CS0 string.

    Compression 8 (and 254) is one byte per code point (U+0000-U+00FF), 16 (and 255) UTF-16BE. Odd
    bytes are escaped, never reinterpreted: a lone surrogate stays ``\\udXXX``, a dangling byte
    ``\\xNN``; the note says what was odd.
    """
    if not raw:
        return "", None
    comp, body = raw[0], raw[1:]
    if comp in (8, 254):
        return body.decode("latin-1"), None
    if comp in (16, 255):
        note = None
        tail = b""
        if len(body) % 2:
            body, tail = body[:-1], body[-1:]
            note = "odd number of bytes in a 16-bit name"
        text = body.decode("utf-16-be", "surrogatepass")
        # A valid surrogate pair decodes to one code point: any surrogate left is a lone one.
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            note = note or "unpaired UTF-16 surrogate in the name"
            text = "".join(f"\\u{ord(c):04x}" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        return text + "".join(f"\\x{b:02x}" for b in tail), note
    return "".join(f"\\x{b:02x}" for b in raw), f"unknown CS0 compression id {comp}"


def dstring(raw: bytes) -> str:
    """A fixed-size dstring field: CS0 bytes, the last byte their length."""
    if not raw:
        return ""
    n = raw[-1]
    if n == 0 or n > len(raw) - 1:
        return ""
    return cs0(raw[:n])[0].rstrip("\x00").strip()


def timestamp(raw: bytes) -> float | None:
    """An ECMA-167 timestamp as POSIX seconds (UTC), None when unset or invalid."""
    tz_type, year, month, day, hour, minute, second, cs, hus, us = struct.unpack("<HhBBBBBBBB", raw[:12])
    tz = tz_type & 0xFFF
    offset = tz - 0x1000 if tz & 0x800 else tz
    if offset == -2047 or (tz_type >> 12) != 1:
        offset = 0
    try:
        secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31) or year == 0:
        return None
    return float(secs - offset * 60) + cs / 100 + hus / 10000 + us / 1000000


def regid(raw: bytes) -> str:
    """The identifier of an ``EntityID`` (regid), without padding."""
    return raw[1:24].rstrip(b"\x00").decode("latin-1")


# -- allocation descriptors -------------------------------------------------------------------------
def _length_type(word: int) -> tuple[ExtentType, int]:
    return ExtentType(word >> 30), word & 0x3FFFFFFF


def short_ad(raw: bytes | memoryview, partition: int) -> AllocDesc:
    """An 8-byte short_ad, in the partition of the ICB that holds it."""
    word, pos = struct.unpack_from("<II", raw)
    kind, length = _length_type(word)
    return AllocDesc(kind, length, pos, partition)


def long_ad(raw: bytes | memoryview) -> AllocDesc:
    """A 16-byte long_ad (length, block, partition reference; the 6 implementation bytes ignored)."""
    word, lbn, part = struct.unpack_from("<IIH", raw)
    kind, length = _length_type(word)
    return AllocDesc(kind, length, lbn, part)


def ext_ad(raw: bytes | memoryview) -> AllocDesc:
    """A 20-byte ext_ad: the recorded part is what is read (the rest of the extent reads as zeros)."""
    word, _recorded, _info, lbn, part = struct.unpack_from("<IIIIH", raw)
    kind, length = _length_type(word)
    return AllocDesc(kind, length, lbn, part)


AD_SIZE = {AdKind.SHORT: 8, AdKind.LONG: 16, AdKind.EXTENDED: 20}


def parse_ads(area: bytes | memoryview, kind: AdKind, partition: int) -> list[AllocDesc]:
    """The allocation descriptors of an ICB's (or AED's) descriptor area, up to a zero-length one.

    A trailing partial descriptor is ignored (it cannot describe anything); a continuation
    (``ExtentType.CONTINUATION``) is returned as the last element for the caller to follow.
    """
    size = AD_SIZE[kind]
    out: list[AllocDesc] = []
    for off in range(0, len(area) - size + 1, size):
        chunk = area[off:off + size]
        ad = short_ad(chunk, partition) if kind is AdKind.SHORT else long_ad(chunk) if kind is AdKind.LONG \
            else ext_ad(chunk)
        if ad.length == 0:
            break
        out.append(ad)
        if ad.kind is ExtentType.CONTINUATION:
            break
    return out


# -- volume descriptors -----------------------------------------------------------------------------
def parse_avdp(buf: bytes, location: int) -> tuple[Extent, Extent]:
    """An Anchor Volume Descriptor Pointer: the main and reserve Volume Descriptor Sequence extents."""
    expect_tag(buf, TAG_AVDP, location)
    ml, mloc, rl, rloc = struct.unpack_from("<IIII", buf, 16)
    return Extent(ml, mloc), Extent(rl, rloc)


def parse_vdp(buf: bytes) -> Extent:
    """A Volume Descriptor Pointer: the next extent of the sequence."""
    length, loc = struct.unpack_from("<II", buf, 20)
    return Extent(length, loc)


def parse_pvd_ident(buf: bytes) -> str:
    """The Volume Identifier of a Primary Volume Descriptor."""
    return dstring(buf[24:56])


def parse_pd(buf: bytes) -> PartitionDesc:
    """A Partition Descriptor."""
    vdsn, _flags, number = struct.unpack_from("<IHH", buf, 16)
    access, start, length = struct.unpack_from("<III", buf, 184)
    return PartitionDesc(vdsn, number, regid(buf[24:56]), access, start, length)


def parse_lvd(buf: bytes) -> LogicalVolumeDesc:
    """A Logical Volume Descriptor with its partition maps."""
    (vdsn,) = struct.unpack_from("<I", buf, 16)
    ident = dstring(buf[84:212])
    (block_size,) = struct.unpack_from("<I", buf, 212)
    domain = regid(buf[216:248])
    (udf_rev,) = struct.unpack_from("<H", buf, 216 + 24)
    fsd = long_ad(buf[248:264])
    table_len, nmaps = struct.unpack_from("<II", buf, 264)
    if 440 + table_len > len(buf):
        raise UdfError(f"logical volume descriptor: partition map table of {table_len} bytes runs past it")
    maps: list[PartitionMap] = []
    off = 440
    end = 440 + table_len
    for n in range(nmaps):
        if off + 2 > end:
            raise UdfError(f"logical volume descriptor: partition map {n} runs past the map table")
        mtype, mlen = buf[off], buf[off + 1]
        if mlen < 2 or off + mlen > end:
            raise UdfError(f"logical volume descriptor: partition map {n} has length {mlen}")
        body = buf[off:off + mlen]
        maps.append(_partition_map(mtype, body, n))
        off += mlen
    return LogicalVolumeDesc(vdsn, ident, block_size, domain, udf_rev, fsd, tuple(maps))


def _partition_map(mtype: int, body: bytes, n: int) -> PartitionMap:
    if mtype == 1:
        if len(body) < 6:
            raise UdfError(f"logical volume descriptor: type 1 partition map {n} is {len(body)} bytes")
        (number,) = struct.unpack_from("<H", body, 4)
        return PartitionMap("physical", number)
    if mtype != 2 or len(body) < 64:
        raise UdfError(f"logical volume descriptor: partition map {n} of type {mtype} ({len(body)} bytes)")
    ident = regid(body[4:36])
    (number,) = struct.unpack_from("<H", body, 38)
    if ident == "*UDF Virtual Partition":
        return PartitionMap("virtual", number)
    if ident == "*UDF Sparable Partition":
        packet, ntables, _, table_size = struct.unpack_from("<HBBI", body, 40)
        locs = struct.unpack_from("<4I", body, 48)[: min(ntables, 4)]
        return PartitionMap("sparable", number, packet_length=packet, sparing_tables=tuple(locs),
                            sparing_table_size=table_size)
    if ident == "*UDF Metadata Partition":
        mfile, mirror, bitmap = struct.unpack_from("<III", body, 40)
        flags = body[58]
        return PartitionMap("metadata", number, metadata_file=mfile, metadata_mirror=mirror,
                            metadata_bitmap=bitmap, duplicated=bool(flags & 1))
    return PartitionMap(f"unknown:{ident}", number)


def parse_sparing_table(buf: bytes, location: int) -> dict[int, int]:
    """A Sparing Table: original packet block -> replacement sector, unused entries left out."""
    parse_tag(buf, "sparing table", location)
    if regid(buf[16:48]) != "*UDF Sparing Table":
        raise UdfError("sparing table: identifier is not '*UDF Sparing Table'")
    (count,) = struct.unpack_from("<H", buf, 48)
    out: dict[int, int] = {}
    for i in range(count):
        off = 56 + 8 * i
        if off + 8 > len(buf):
            raise UdfError(f"sparing table: {count} entries run past its {len(buf)} bytes")
        orig, mapped = struct.unpack_from("<II", buf, off)
        if orig < 0xFFFFFFF0:
            out[orig] = mapped
    return out


def parse_fsd(buf: bytes, location: int) -> FileSetDesc:
    """A File Set Descriptor."""
    expect_tag(buf, TAG_FSD, location)
    root = long_ad(buf[400:416])
    stream = long_ad(buf[464:480])
    return FileSetDesc(dstring(buf[304:336]), root, stream if stream.length else None)


# -- file entries -----------------------------------------------------------------------------------
def parse_file_entry(buf: bytes, location: int, block_size: int) -> FileEntry:
    """A File Entry (tag 261) or Extended File Entry (tag 266) read at ``location`` of its partition."""
    tag = parse_tag(buf, "file entry", location)
    if tag.ident not in (TAG_FE, TAG_EFE):
        got = TAG_NAMES.get(tag.ident, f"tag {tag.ident}")
        raise UdfError(f"file entry: found a {got} instead (tag identifier {tag.ident})")
    extended = tag.ident == TAG_EFE
    strategy, = struct.unpack_from("<H", buf, 20)
    file_type = buf[27]
    (flags,) = struct.unpack_from("<H", buf, 34)
    uid, gid, perms, links = struct.unpack_from("<IIIH", buf, 36)
    (info_len,) = struct.unpack_from("<Q", buf, 56)
    stream_dir = None
    if extended:
        (recorded,) = struct.unpack_from("<Q", buf, 72)
        mtime = timestamp(buf[92:104])
        sd = long_ad(buf[152:168])
        stream_dir = sd if sd.length else None
        (unique,) = struct.unpack_from("<Q", buf, 200)
        l_ea, l_ad = struct.unpack_from("<II", buf, 208)
        head = 216
    else:
        (recorded,) = struct.unpack_from("<Q", buf, 64)
        mtime = timestamp(buf[84:96])
        (unique,) = struct.unpack_from("<Q", buf, 160)
        l_ea, l_ad = struct.unpack_from("<II", buf, 168)
        head = 176
    if head + l_ea + l_ad > block_size or head + l_ea + l_ad > len(buf):
        raise UdfError(f"file entry: extended attributes ({l_ea}) and allocation descriptors ({l_ad}) "
                       f"run past its block ({block_size} bytes)")
    if tag.crc_length and 16 + tag.crc_length > len(buf):
        raise UdfError(f"file entry: CRC length {tag.crc_length} runs past its block")
    ea = bytes(buf[head:head + l_ea])
    area = bytes(buf[head + l_ea:head + l_ea + l_ad])
    return FileEntry(extended, file_type, strategy, AdKind(flags & 7) if flags & 7 <= 3 else AdKind.SHORT,
                     flags, uid, gid, perms, links, info_len, recorded, mtime, unique, ea, area, stream_dir)


def ad_kind_valid(flags: int) -> bool:
    """Whether the ICB flags name one of the four allocation descriptor kinds."""
    return flags & 7 <= 3


def device_numbers(ea: bytes) -> tuple[int, int] | None:
    """Major and minor numbers from a Device Specification extended attribute (type 12), if present."""
    if len(ea) < 24:
        return None
    try:
        tag = parse_tag(ea, "extended attribute header", None)
    except UdfError:
        return None
    if tag.ident != TAG_EAHD:
        return None
    off = 24
    for _ in range(64):
        if off + 12 > len(ea):
            return None
        atype, _sub, alen = struct.unpack_from("<IB3xI", ea, off)
        if alen < 12 or off + alen > len(ea):
            return None
        if atype == 12 and alen >= 24:
            major, minor = struct.unpack_from("<II", ea, off + 16)
            return major, minor
        off += alen
    return None


# -- directories ------------------------------------------------------------------------------------
def parse_fids(data: bytes, block_of: object = None) -> tuple[list[FileIdent], str | None]:
    """Every File Identifier Descriptor of a directory's content, and the reason parsing stopped early.

    ``block_of(offset)`` gives the logical block holding byte ``offset`` (to check tag locations), or
    None to skip that check. Descriptors are 4-byte aligned and may straddle blocks.
    """
    out: list[FileIdent] = []
    off = 0
    n = len(data)
    while off + 38 <= n:
        if not any(data[off:off + 16]):
            return out, None if not any(data[off:]) else f"blank descriptor at byte {off} of the directory"
        loc = block_of(off) if callable(block_of) else None
        try:
            tag = expect_tag(data[off:off + 38], TAG_FID, loc)
        except UdfError as exc:
            return out, f"{exc} (byte {off} of the directory)"
        chars = data[off + 18]
        l_fi = data[off + 19]
        icb = long_ad(data[off + 20:off + 36])
        (l_iu,) = struct.unpack_from("<H", data, off + 36)
        end = off + 38 + l_iu + l_fi
        if end > n:
            return out, f"file identifier at byte {off} runs past the end of the directory"
        if tag.crc_length and off + 16 + tag.crc_length <= n:
            got = binascii.crc_hqx(data[off + 16:off + 16 + tag.crc_length], 0)
            if got != tag.crc and tag.crc_length <= 38 + l_iu + l_fi - 16:
                return out, f"file identifier descriptor: CRC mismatch (byte {off} of the directory)"
        raw_name = data[off + 38 + l_iu:end]
        name, note = cs0(raw_name)
        out.append(FileIdent(chars, name, icb, note))
        off = (end + 3) & ~3
    return out, None
