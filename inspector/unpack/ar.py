"""ar (.deb packages, static libraries) read by our own header parser, with libarchive taking over for anything
unusual.

An ar is the magic ``!<arch>\\n`` and, for each member, a 60-byte text header (name, mtime, uid, gid, octal
mode, size, the signature ``\\x60\\n``) and the content padded to an even size. Going through libarchive
costs its import (about 9 ms of a cold ``diff`` of two .debs, which meet no other format read through
libarchive) and about 10 us a member in ctypes calls (a tar.gz of libraries holds 8,600 object files in .a
archives). This reader parses the headers itself for what ar programs write, field by field as
libarchive's ``archive_read_support_format_ar.c`` does:

- GNU/SVR4 names end in ``/`` (taken off); the long-name table ``//`` holds ``name/\\n`` records that
  members name as ``/<offset>``; the symbol tables ``/`` and ``/SYM64/`` are skipped (libarchive lists
  them, ``ar t`` and our libarchive path do not);
- BSD long names are ``#1/<length>``, the name stored in front of the content; ``__.SYMDEF`` is a member;
- numbers as libarchive reads them: leading spaces, then digits up to the first other byte.

Anything else is handed to libarchive from that member's header (``archive.AR.resume``), with the magic and
the long-name table put in front: a signature or a size field that is off, a name that is empty, holds a
NUL or is not ASCII, a long-name reference the table does not hold, a mode that is not a regular file's,
a table libarchive would refuse, a member cut short by the end of the archive before its content could
be read whole. libarchive's findings and messages are then the ones it always gave; large members cut
short while streaming fail with its words (``blocks.MemberStream``).
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import BinaryIO

from inspector.model import EMPTY_META, EntryKind
from inspector.names import checked_member_path
from inspector.unpack import archive
from inspector.unpack.base import Member, SniffInfo, UnpackContext
from inspector.unpack.blocks import Blocks, HandOver, MemberStream, bytes_opener, failing, small_content

MAGIC = b"!<arch>\n"
_HEADER = 60
#: Members up to this size are read with their header and handed over as bytes (``Member.data``).
SMALL = archive.SCRATCH
#: The largest GNU long-name table read here (libarchive takes up to 1 GiB; larger ones are its to read).
_TABLE_MOST = 16 * 1024 * 1024
#: libarchive's bound on a BSD long name ("Bad input file size" past it).
_BSD_NAME_MOST = 1024 * 1024
#: A decimal (octal) field as libarchive's ``ar_atol10`` (``ar_atol8``) reads it: spaces or tabs, digits,
#: and nothing after the first byte that is not one.
_DECIMAL = re.compile(rb"[ \t]*([0-9]*)")
_OCTAL = re.compile(rb"[ \t]*([0-7]*)")
_S_IFMT, _S_IFREG = 0o170000, 0o100000
_SYMBOL_TABLES = (b"/", b"/SYM64/")


class _Tables:
    """What the archive's headers so far leave libarchive knowing: its GNU long-name table."""

    def __init__(self) -> None:
        #: The table as libarchive keeps it (each ``/\\n`` made two NULs), or None before one is seen.
        self.names: bytes | None = None
        #: The table's member as stored (header, table, padding), put in front of a hand-over.
        self.member = b""

    def preamble(self) -> bytes:
        """The bytes libarchive must read first to go on from a member header as it would have."""
        return MAGIC + self.member


class ArHandler:
    """ar (GNU/SVR4, BSD; .deb, .a) read by our own header parser; libarchive reads what this one does not."""

    name = "ar"
    needs_seekable = False

    def match(self, info: SniffInfo) -> bool:
        """The ar magic at the start, as libarchive's ar bid."""
        return info.head.startswith(MAGIC)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the archive's members in storage order, each readable until the next one is asked for."""
        blocks = Blocks(stream)
        tables = _Tables()
        offset = yield from _read(blocks, ctx, tables)
        if offset is not None:
            yield from archive.AR.resume(blocks.rest(), ctx, offset=offset,
                                         preamble=tables.preamble() if offset else b"", skip=False)


def _read(blocks: Blocks, ctx: UnpackContext, tables: _Tables) -> Generator[Member, None, int | None]:
    """Members while they are ones this reader reads; the archive offset where libarchive must go on, or None."""
    if not blocks.fill(len(MAGIC)) or not blocks.buf.startswith(MAGIC):
        return 0
    blocks.pos = len(MAGIC)
    while True:
        if blocks.error is not None:
            raise blocks.error
        if not blocks.fill(_HEADER):
            if len(blocks.buf) == blocks.pos:
                return None  # the end of the stream at a header: libarchive's end too
            return blocks.offset + blocks.pos  # a short header at the end: libarchive's to judge
        try:
            member, used, after, stream = _member(blocks, ctx, tables)
        except HandOver:
            return blocks.offset + blocks.pos
        blocks.pos += used
        if member is not None:
            yield member
        if stream is not None:
            stream.skip()  # what the walker left of a large member, and its padding
        elif after:
            MemberStream(blocks, after, 0, "ar").skip()  # a table's content and padding, as libarchive skips


def _member(blocks: Blocks, ctx: UnpackContext, tables: _Tables
            ) -> tuple[Member | None, int, int, MemberStream | None]:
    """The member whose header is at ``blocks.pos`` (None for a table): (member, bytes used, bytes to skip
    after them, the stream of a large member's content, which the walker reads between).

    Raises ``HandOver`` for anything libarchive must read.
    """
    at = blocks.pos
    h = blocks.buf[at : at + _HEADER]
    if h[58:60] != b"`\n":
        raise HandOver  # "Incorrect file header signature"
    field = h[0:16]
    if 0 in field or not field.isascii():
        raise HandOver  # libarchive copies the name up to a NUL; another character set is its to decode
    size = archive.ar_size(h)
    if size is None:
        raise HandOver  # what libarchive makes of it, with the sentence ``archive._ArHeaderWatch`` adds
    padding = size % 2
    name = field.rstrip(b" ")
    if not name:
        raise HandOver  # "Found entry with empty filename"
    if name[0] != 0x2F and len(name) > 1 and name[-1] == 0x2F:
        name = name[:-1]
    used = _HEADER
    if name[0] == 0x2F:  # '/': GNU's tables and long names
        if name == b"//":
            _read_table(blocks, tables, size, padding)
            return None, _HEADER + size + padding, 0, None
        if name in _SYMBOL_TABLES:
            return None, _HEADER, size + padding, None
        digits = name[1:]
        if not digits.isdigit() or tables.names is None or int(digits) >= len(tables.names):
            raise HandOver  # "Can't find long filename", or a name libarchive takes as it stands
        start = int(digits)
        name = tables.names[start : tables.names.index(0, start)]
    elif name.startswith(b"#1/"):  # BSD: the name's length; the name opens the content
        digits = name[3:]
        if not digits.isdigit() or int(digits) > min(size, _BSD_NAME_MOST):
            raise HandOver  # "Bad input file size"
        length = int(digits)
        if not blocks.fill(_HEADER + length):
            raise HandOver  # "Truncated input file"
        stored = blocks.buf[at + _HEADER : at + _HEADER + length]
        name = stored[: stored.find(0)] if 0 in stored else stored
        used += length
        size -= length
    if not name or not name.isascii():
        raise HandOver
    mode = int(_OCTAL.match(h, 40, 48).group(1) or b"0", 8)  # type: ignore[union-attr]
    if mode & _S_IFMT not in (0, _S_IFREG):
        raise HandOver  # a mode of another file type makes another kind of entry in libarchive
    mtime = int(_DECIMAL.match(h, 16, 28).group(1) or b"0")  # type: ignore[union-attr]
    file_mode = (mode & 0o7777) if mode else None
    if size > SMALL:
        stream = MemberStream(blocks, size, padding, "ar")
        return (Member(checked_member_path(name.decode("ascii"), ctx), EntryKind.FILE, size, None, file_mode, mtime,
                       None, EMPTY_META, lambda: stream, None, False, None), used, 0, stream)
    if len(blocks.buf) - at >= used + size + padding:  # all there (most members)
        data: bytes | None = blocks.buf[at + used : at + used + size]
        used += size
    else:
        data, used = small_content(blocks, used, size, padding)  # may hand over: the name is checked after
    opener = failing(blocks.error) if data is None else bytes_opener(data)  # type: ignore[arg-type]
    return (Member(checked_member_path(name.decode("ascii"), ctx), EntryKind.FILE, size, None, file_mode, mtime,
                   None, EMPTY_META, opener, None, False, data), used + padding, 0, None)


def _read_table(blocks: Blocks, tables: _Tables, size: int, padding: int) -> None:
    """Read the GNU long-name table ``//`` whose header is at ``blocks.pos`` into ``tables``.

    libarchive refuses a second table, an empty one, and one where a ``/`` is not followed by a newline or
    whose last byte is not a newline or a backquote ("Invalid string table"); those it reads itself.
    """
    if tables.names is not None or not 0 < size <= _TABLE_MOST or not blocks.fill(_HEADER + size + padding):
        raise HandOver
    at = blocks.pos
    raw = blocks.buf[at + _HEADER : at + _HEADER + size]
    names = bytearray(raw)
    p = 0
    while (slash := names.find(b"/", p, size - 1)) >= 0:
        if names[slash + 1] != 0x0A:
            raise HandOver
        names[slash] = names[slash + 1] = 0
        p = slash + 2
    p = max(p, size - 1)
    if p != size and names[p] not in b"\n`":
        raise HandOver
    names[size - 1] = 0
    tables.names = bytes(names)
    tables.member = blocks.buf[at : at + _HEADER + size + padding]


AR = ArHandler()

__all__ = ["AR", "ArHandler", "MAGIC"]
