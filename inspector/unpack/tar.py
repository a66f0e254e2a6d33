"""tar read by our own header parser, with libarchive taking over for anything unusual.

libarchive costs about 10 us a member through ctypes (a dozen calls per header); a tar of 300,000 tiny
files spent most of its walk there. This reader parses the 512-byte headers itself for the forms almost
every tar uses: v7, ustar (prefix), GNU (``L``/``K`` long names), pax ``x`` headers (path, linkpath,
mtime, size), base-256 numbers, regular files, hard and symbolic links, directories, devices and FIFOs,
ASCII names. It reads the same bytes libarchive would read, in the same ``CHUNK`` reads, and makes the
same members: libarchive's rules are followed field by field (``archive_read_support_format_tar.c``).

Anything else (a bad checksum, a sparse file, a pax global header, a non-ASCII name, a field that is not
a plain number, a member cut short by the end of the archive, a hard link carrying data ...) is handed to
libarchive from the first header of that member (``archive.TAR.resume``), with the bytes already read
in front of the rest of the stream: libarchive then reads the rest of the archive, and its findings and
messages are the ones it always gave. Nothing is decided twice: names go through
``names.checked_member_path``, hard links through ``archive.HardLinkCheck``.

When the optional compiled module is built (``inspector.native``), runs of the plainest members (one ASCII
header, a small regular file, directory, symbolic link, device or FIFO) are parsed in C by
``native.tar_plain_run``, which gives exactly what ``_member`` gives for them and stops at anything else;
this module's code stays the reference and reads everything the C code does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from typing import BinaryIO

from inspector import native
from inspector.model import EMPTY_META, EntryKind
from inspector.names import checked_member_path, member_path
from inspector.seennames import bounded
from inspector.streams import Stream
from inspector.unpack import archive
from inspector.unpack.base import Member, SniffInfo, UnpackContext
from inspector.unpack.blocks import Blocks, HandOver, MemberStream, bytes_opener, failing, small_content

#: Members up to this size are read with their header and handed over as bytes (``Member.data``).
SMALL = archive.SCRATCH
#: libarchive refuses a long-name or pax body larger than this ("Special header too large").
_SPECIAL_MAX = 1 << 20
_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
#: An octal field as libarchive's ``tar_atol8`` reads it and as every writer writes it: leading spaces,
#: octal digits, then spaces or NULs. Anything else (tabs, signs, junk after the digits) goes to libarchive.
_OCTAL = re.compile(rb" *([0-7]*)[ \x00]*")
_OCTAL_CHARS = b"01234567 \x00"
#: mode, uid, gid, size, mtime and checksum as tarfile and GNU tar write them (digits, then a NUL or space).
_PLAIN_NUMBERS = re.compile(rb"([0-7]{7})[ \x00][0-7]{7}[ \x00][0-7]{7}[ \x00]([0-7]{11})[ \x00]([0-7]{11})[ \x00]"
                            rb"([0-7]{6})\x00 ")
_GNU_MAGIC = b"ustar  \x00"
_PAX_RECORD = re.compile(rb"([1-9][0-9]{0,5}) ")
_PAX_TIME = re.compile(rb"([0-9]{1,18})(?:\.([0-9]*))?")
#: pax keys that change what libarchive makes of a member in ways this reader does not follow
#: (sparse maps, sizes, character sets, ACLs that can fail to parse): libarchive reads such members.
_PAX_HANDED_OVER = (b"GNU.", b"SCHILY.realsize", b"SUN.holesdata", b"SCHILY.acl", b"hdrcharset")
#: File types by typeflag for the entries that carry no data (libarchive sets their size to 0).
_NO_DATA_KINDS = {0x32: EntryKind.SYMLINK, 0x33: EntryKind.DEVICE, 0x34: EntryKind.DEVICE, 0x35: EntryKind.DIR,
                  0x36: EntryKind.OTHER}
#: Typeflags of regular files: '0', NUL (v7) and '7' (contiguous file).
_FILE_TYPES = frozenset(b"0\x007")



def _number(h: bytes, start: int, end: int) -> int:
    """A numeric header field as libarchive reads it (octal, or base-256 when the first byte has bit 7)."""
    first = h[start]
    if first & 0x80:
        width = end - start
        value = int.from_bytes(h[start:end], "big") & ((1 << (8 * width - 1)) - 1)
        if first & 0x40:
            value -= 1 << (8 * width - 1)
        if not -(1 << 63) <= value < (1 << 63):
            raise HandOver  # libarchive clamps; rare enough to leave to it
        return value
    m = _OCTAL.fullmatch(h, start, end)
    if m is None:
        raise HandOver
    digits = m.group(1)
    return int(digits, 8) if digits else 0


def _octal(field: bytes) -> int:
    """An octal field as libarchive's ``tar_atol8`` reads it, when it is written the plain way.

    Leading spaces, octal digits, then spaces or NULs; anything else (a NUL before the digits, a space
    between them) is ``HandOver``: libarchive stops at the first non-digit, which we do not imitate.
    """
    m = _OCTAL.fullmatch(field)
    if m is None:
        raise HandOver
    return int(m[1], 8) if m[1] else 0


def _header_numbers(h: bytes) -> tuple[int, int, int]:
    """The mode, size and mtime of a header block whose checksum is right (else ``HandOver``).

    The fields as Python's tarfile and GNU tar write them are read with one regular expression; anything
    else (bsdtar's spacing, base-256 numbers) field by field.
    """
    m = _PLAIN_NUMBERS.match(h, 100)
    if m is not None:
        mode, size, mtime, stored = int(m[1], 8), int(m[2], 8), int(m[3], 8), int(m[4], 8)
    else:
        field = h[148:156]
        if field.translate(None, _OCTAL_CHARS):
            raise HandOver  # libarchive: "Damaged tar archive"
        stored = _octal(field)
        if not h[100:148].translate(None, _OCTAL_CHARS):
            mode, size, mtime = _octal(h[100:108]), _octal(h[124:136]), _octal(h[136:148])
        else:
            mode, size, mtime = _number(h, 100, 108), _number(h, 124, 136), _number(h, 136, 148)
    if not archive.tar_sum_matches(h, stored):
        raise HandOver
    return mode, size, mtime


#: The numeric fields libarchive's tar bid checks: mode, uid, gid, size, mtime, device major and minor.
_BID_FIELDS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337), (337, 345))


def _bid(h: bytes) -> bool:
    """Whether libarchive's tar format bid accepts the archive's first header (checksum already checked).

    The type flag must be NUL, a digit or a letter, the mode's first byte octal, a space or a base-256
    marker, and every numeric field base-256 or spaces, octal digits, then spaces or NULs.
    """
    flag = h[156]
    if flag and not (0x30 <= flag <= 0x39 or 0x41 <= flag <= 0x5A or 0x61 <= flag <= 0x7A):
        return False
    if h[100] not in b"\x00\xff 01234567":
        return False
    for start, end in _BID_FIELDS:
        if h[start] in (0x00, 0x80, 0xFF):
            continue
        if _OCTAL.fullmatch(h, start, end) is None:
            return False
    return True


def _cstring(h: bytes, start: int, end: int) -> bytes:
    """A NUL-terminated field (the whole field when it has no NUL)."""
    z = h.find(0, start, end)
    return h[start : z if z >= 0 else end]


def _text(raw: bytes) -> str:
    """An ASCII name as libarchive gives it; anything else (another character set) is libarchive's."""
    if not raw.isascii():
        raise HandOver
    return raw.decode("ascii")


def _pax(body: bytes, header_size: int) -> tuple[bytes | None, bytes | None, float | int | None]:
    """path, linkpath and mtime of a pax ``x`` body, parsed the way libarchive's ``pax_header`` does.

    Only a well-formed ASCII body is read here; a malformed one (libarchive warns), a ``size`` that differs
    from the header's, or a key in ``_PAX_HANDED_OVER`` goes to libarchive.
    """
    if not body.isascii() or 0 in body:
        raise HandOver
    path = link = None
    mtime: float | int | None = None
    at = 0
    while at < len(body):
        m = _PAX_RECORD.match(body, at)
        if m is None:
            raise HandOver
        end = at + int(m.group(1))
        if end > len(body) or body[end - 1] != 0x0A:
            raise HandOver
        eq = body.find(b"=", m.end(), end - 1)
        if eq <= m.end():
            raise HandOver
        key, value = body[m.end() : eq], body[eq + 1 : end - 1]
        if key.startswith(_PAX_HANDED_OVER):
            raise HandOver
        if key == b"path":
            path = value
        elif key == b"linkpath":
            link = value
        elif key == b"mtime":
            t = _PAX_TIME.fullmatch(value)
            if t is None:
                raise HandOver
            nanos = int((t.group(2) or b"")[:9].ljust(9, b"0"))
            mtime = archive.mtime_value(int(t.group(1)), nanos)
        elif key == b"size" and value != b"%d" % header_size:
            raise HandOver
        at = end
    return path, link, mtime


class TarHandler:
    """tar (v7, ustar, GNU, pax) read by our own header parser; libarchive reads what this one does not."""

    name = "tar"
    needs_seekable = False
    #: No content shorter than one header is a tar (``archive.TAR.match``, as libarchive's bid).
    min_head = 512

    def match(self, info: SniffInfo) -> bool:
        """A tar header at the start (ustar/GNU magic, or a valid v7 checksum), as libarchive's tar reader."""
        return archive.TAR.match(info)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the archive's members in storage order, each readable until the next one is asked for."""
        blocks = Blocks(stream)
        links = archive.HardLinkCheck(ctx)
        offset = yield from _read(blocks, ctx, links)
        if offset is not None:
            yield from archive.TAR.resume(blocks.rest(), ctx, offset=offset, links=links,
                                          preamble=_preamble(blocks.format) if offset else b"")


def _header(name: bytes, flag: bytes, magic: bytes) -> bytes:
    """A 512-byte header of an empty member (for ``_preamble``)."""
    h = bytearray(_BLOCK)
    h[0 : len(name)] = name
    h[100:108] = b"0000755\x00"
    h[108:116] = h[116:124] = b"0000000\x00"
    h[124:136] = h[136:148] = b"00000000000\x00"
    h[156:157] = flag
    h[257 : 257 + len(magic)] = magic
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def _preamble(fmt: str) -> bytes:
    """An empty directory's headers that leave libarchive as the archive's headers so far left it (``resume``)."""
    magic = {"old": b"", "gnu": _GNU_MAGIC}.get(fmt, b"ustar\x0000")
    pax = _header(b"resume.pax", b"x", magic) if fmt == "pax" else b""
    return pax + _header(b"resume", b"5", magic)


def _read(blocks: Blocks, ctx: UnpackContext, links: archive.HardLinkCheck) -> Generator[Member, None, int | None]:
    """Members while they are ones this reader reads; the archive offset where libarchive must go on, or None."""
    while True:
        if blocks.error is not None:
            raise blocks.error
        plain_run = native.tar_plain_run
        if plain_run is not None and blocks.offset + blocks.pos:  # not the first header: _bid stays here
            # The compiled run adds names to a set; past seennames.EXACT_NAMES the names are a SeenNames
            # (``HardLinkCheck.member``), and the run leaves the members to be made here.
            seen = links.seen
            make = (Member, _MEMBER_FIELDS, EMPTY_META, bytes_opener, seen) if _MEMBER_FIELDS and type(
                seen) is set else None
            run, fmt, end = plain_run(blocks.buf, blocks.pos, _RUN_MOST, SMALL, _FORMATS.index(blocks.format),
                                      _RUN_KINDS, make)
            if run:
                # Nothing reads the blocks while a member is out: they can be where the run ends already.
                blocks.format = _FORMATS[fmt]
                blocks.pos = end
                for item in run:
                    yield item if type(item) is Member else _plain_member(ctx, links, item)
                links.seen = bounded(links.seen)
                continue
        try:  # ``_member`` leaves ``blocks.pos`` at the member's first header (reading may move the buffer)
            member, used, padding = _member(blocks, ctx, links)
        except HandOver:
            return blocks.offset + blocks.pos
        if member is None:
            return None
        if type(member.open) is not MemberStream:
            blocks.pos += used + padding
            yield member
            continue
        stream = member.open
        blocks.pos += used
        yield _with_open(member, stream)
        stream.skip()


#: ``Blocks.format`` by the codes ``native.tar_plain_run`` takes and gives, and the kinds it makes by index.
_FORMATS = ("old", "ustar", "gnu", "pax")
_RUN_KINDS = (EntryKind.FILE, EntryKind.SYMLINK, EntryKind.DEVICE, EntryKind.DIR, EntryKind.OTHER)
#: Members made by one ``tar_plain_run`` call. A run of 1,000 (a 1 MiB block of tiny members) keeps some
#: 5,000 new objects alive at once, which sets off Python's cyclic GC every run (0.7 s of a 4 s walk of
#: 300,000 members); a few dozen at a time leave it as the Python reader left it (one member at a time).
_RUN_MOST = 32
#: ``Member``'s fields, in order, while it is the plain frozen dataclass ``tar_plain_run`` can fill itself
#: (``model.direct_init``'s ``__init__`` fills the instance's dict with them, in this order); else ().
_MEMBER_FIELDS: tuple[str, ...] = tuple(Member.__dataclass_fields__)
if _MEMBER_FIELDS != ("name", "kind", "size", "stored_size", "mode", "mtime", "link_target", "meta", "open",
                      "compressed_progress", "payload", "data", "content_key") or hasattr(Member, "__post_init__") or hasattr(
        Member, "__slots__"):  # pragma: no cover - only if Member changes shape
    _MEMBER_FIELDS = ()


def _plain_member(ctx: UnpackContext, links: archive.HardLinkCheck,
                  item: tuple[str, EntryKind, int | None, int, int, str | None, bytes | None, int]) -> Member:
    """The member of a plain header the compiled reader parsed but left to us (a name to check), as ``_entry``
    makes it."""
    name_text, kind, size, mode, mtime, link, data, _step = item
    name = checked_member_path(name_text, ctx)
    links.member(name)
    return Member(name, kind, size, None, mode, mtime, link, EMPTY_META,
                  None if data is None else bytes_opener(data), None, False, data)


def _with_open(member: Member, stream: MemberStream) -> Member:
    """``member`` with ``open`` returning its content stream (``_member`` leaves the stream itself there)."""
    return Member(name=member.name, kind=member.kind, size=member.size, mode=member.mode, mtime=member.mtime,
                  link_target=member.link_target, meta=EMPTY_META, open=lambda: stream)


def _member(blocks: Blocks, ctx: UnpackContext, links: archive.HardLinkCheck
            ) -> tuple[Member | None, int, int]:
    """The member whose headers start at ``blocks.pos``: (member, header and small-data bytes used, padding).

    (None, 0, 0) at the end of the archive. Raises ``HandOver`` for anything libarchive must read.
    """
    long_name = long_link = pax = None
    used = 0
    while True:
        if not blocks.fill(used + _BLOCK):
            if len(blocks.buf) - blocks.pos == used:
                if used:
                    raise HandOver  # the archive ends inside a member's headers
                return None, 0, 0  # the end of the stream at a header: libarchive's end too
            raise HandOver  # a short block at the end
        at = blocks.pos + used
        h = blocks.buf[at : at + _BLOCK]
        used += _BLOCK
        if h[0] == 0:
            if h != _ZERO_BLOCK or used > _BLOCK:
                raise HandOver
            blocks.pos += _BLOCK
            if blocks.fill(_BLOCK):  # libarchive consumes a second block of zeros, if there is one
                blocks.pos += _BLOCK
            return None, 0, 0
        numbers = _header_numbers(h)
        if used == _BLOCK and not blocks.offset + blocks.pos and not _bid(h):
            raise HandOver  # libarchive refuses an archive whose first header it would not bid on
        flag = h[156]
        if flag in (0x4C, 0x4B, 0x78):  # 'L', 'K', 'x': a body for the next header
            body_size = numbers[1]
            if not 0 <= body_size <= _SPECIAL_MAX:
                raise HandOver
            span = (body_size + 511) & ~511
            if not blocks.fill(used + span):
                raise HandOver
            body = blocks.buf[blocks.pos + used : blocks.pos + used + body_size]
            used += span
            if flag == 0x4C and long_name is None and pax is None:
                long_name = body[: body.find(0)] if 0 in body else body
            elif flag == 0x4B and long_link is None and pax is None:
                long_link = body[: body.find(0)] if 0 in body else body
            elif flag == 0x78 and pax is None and long_name is None and long_link is None:
                pax = body
            else:
                raise HandOver
            continue
        return _entry(blocks, ctx, links, h, numbers, used, long_name, long_link, pax)


def _entry(blocks: Blocks, ctx: UnpackContext, links: archive.HardLinkCheck, h: bytes,
           numbers: tuple[int, int, int], used: int, long_name: bytes | None, long_link: bytes | None,
           pax: bytes | None) -> tuple[Member, int, int]:
    """The member of a header block ``h`` (after ``used`` bytes of headers), as libarchive would make it."""
    flag = h[156]
    gnu = h.startswith(_GNU_MAGIC, 257)
    ustar = not gnu and h.startswith(b"ustar", 257)
    if gnu and (h[386] or h[483]):
        raise HandOver  # GNU sparse map or real size
    plain = h.isascii()
    if not plain:  # names, user and group names as another character set, or base-256 numbers
        for start, end in ((0, 100), (157, 257), *(((265, 329), (345, 500)) if gnu or ustar else ())):
            if not _cstring(h, start, end).isascii():
                raise HandOver
    mode, size, seconds = numbers
    mtime: float | int = seconds
    if size < 0 or not 0 <= mode < (1 << 32):
        raise HandOver
    end = h.find(0, 0, 100)  # _cstring(h, 0, 100), inline: once per member
    raw_name = h[:end] if end >= 0 else h[:100]
    if ustar and h[345]:
        prefix = _cstring(h, 345, 500)
        raw_name = prefix + raw_name if prefix.endswith(b"/") else prefix + b"/" + raw_name
    raw_link = long_link
    if long_name is not None:
        raw_name = long_name
        plain = False
    link_set = long_link is not None  # libarchive makes a member with a K or pax link name a link
    if pax is not None:
        path, pax_link, pax_mtime = _pax(pax, size)
        if path:
            raw_name = path
        if pax_link:
            raw_link = pax_link
            link_set = True
        if pax_mtime is not None:
            mtime = pax_mtime
    if not raw_name:
        raise HandOver
    name_text = raw_name.decode("ascii") if plain else _text(raw_name)
    link: str | None = None
    data_size = size
    if flag in _FILE_TYPES:
        kind = EntryKind.FILE
        if link_set:
            raise HandOver  # a link name on a regular file makes it a hard link in libarchive
        if name_text[-1] == "/":  # a regular file named like a directory is one, without data (libarchive)
            kind = EntryKind.DIR
            data_size = 0
    elif flag == 0x31:  # '1' hard link
        raw_link = raw_link or _cstring(h, 157, 257)
        if size or not raw_link:
            raise HandOver  # a hard link with data: libarchive's heuristics decide
        kind = EntryKind.HARDLINK
    elif flag in _NO_DATA_KINDS:
        kind = _NO_DATA_KINDS[flag]
        data_size = 0
        if kind is EntryKind.SYMLINK:
            raw_link = raw_link or _cstring(h, 157, 257)
            if not raw_link:
                raise HandOver
            link = _text(raw_link)
        elif link_set:
            raise HandOver
    else:
        raise HandOver  # 'D', 'M', 'N', 'S', 'V', 'A', 'g', 'X', vendor types
    padding = -data_size % _BLOCK
    data = None
    opener: Callable[[], Stream] | MemberStream | None = None
    if kind is not EntryKind.FILE:
        if data_size > SMALL or not blocks.fill(used + data_size + padding):
            raise HandOver
        used += data_size
    elif data_size > SMALL:
        opener = MemberStream(blocks, data_size, padding)
    elif len(blocks.buf) - blocks.pos >= used + data_size + padding:  # all there (most members)
        at = blocks.pos + used
        data = blocks.buf[at : at + data_size]
        used += data_size
    else:
        data, used = small_content(blocks, used, data_size, padding)
        if data is None:
            opener = failing(blocks.error)  # type: ignore[arg-type]
    if data is not None:
        opener = bytes_opener(data)
    name = checked_member_path(name_text, ctx)
    if gnu:
        blocks.format = "gnu"
    elif ustar:
        blocks.format = "pax" if pax is not None or blocks.format == "pax" else "ustar"
    else:
        blocks.format = "old"
    if kind is EntryKind.HARDLINK:
        link_raw = _text(raw_link)  # type: ignore[arg-type]
        link = member_path(link_raw)
        links.link(name, link_raw, link)
    links.member(name)
    is_file = kind is EntryKind.FILE
    # By position (made per member; keywords cost half as much again): name, kind, size, stored_size, mode,
    # mtime, link_target, meta, open, compressed_progress, payload, data.
    member = Member(name, kind, size if is_file else None, None,
                    (mode & 0o7777) if mode or kind is not EntryKind.HARDLINK else None, mtime, link, EMPTY_META,
                    opener, None, False, data)  # type: ignore[arg-type]
    return member, used, padding



__all__ = ["TarHandler", "SMALL"]
