"""Archive formats read through libarchive: cpio, RPM, 7z, CAB, RAR, XAR, and tar and ar (incl. .deb) from
wherever our own readers (``unpack.tar``, ``unpack.ar``) hand them over (``LibarchiveHandler.resume``).

libarchive reads each of these front to back from a stream, so members are produced in storage order
and their data is streamed block by block, never extracted. The format is fixed from our own sniffing
(libarchive's own bidding would also accept a vmtar as tar, which it misreads).
"""

from __future__ import annotations

import ctypes
import functools
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from inspector.limits import Unsupported, WalkError
from inspector.model import EntryKind, ProblemKind
from inspector.names import checked_member_path, display_name, member_path, unsafe_reason
from inspector.seennames import SeenNames, bounded
from inspector.streams import CHUNK, HEAD_SIZE, Stream
from inspector.unpack.base import FormatError, Member, SniffInfo, UnpackContext

if TYPE_CHECKING:
    from libarchive.exception import ArchiveError

TAR_MAGICS = (b"ustar\x0000", b"ustar  \x00", b"ustar\x00")
VMTAR_MAGIC = b"visor  \x00"


class _EntryReader(io.RawIOBase):
    """The current entry's data, read by libarchive straight into the caller's buffer (no copies).

    libarchive-c's ``get_blocks`` copies every 4 KiB page into a new bytes object; reading into our
    1 MiB buffers instead cuts the per-byte Python overhead by two orders of magnitude. Small reads (the
    head of a member, all of a tiny one) go through one scratch buffer per archive.
    """

    def __init__(self, archive_p: int, scratch: ctypes.Array[ctypes.c_char],
                 guard: _GuardedReader | None = None, offset: int = 0) -> None:
        super().__init__()
        self._archive_p = archive_p
        self._scratch = scratch
        self._guard = guard
        self._offset = offset

    def readable(self) -> bool:
        return True

    def _failed(self, retcode: int) -> BaseException:
        if self._guard is not None and self._guard.error is not None:
            return self._guard.error  # the stream under the archive failed: its reason
        return FormatError(f"corrupt member data: {_libarchive().reason(self._archive_p, retcode, self._offset)}")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > len(self._scratch):
            return super().read(size) if size is not None and size >= 0 else self.readall()
        got = _libarchive().read_data(self._archive_p, self._scratch, size)
        if got < 0:
            raise self._failed(got) from None
        return ctypes.string_at(self._scratch, got)

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        n = len(view)
        if n == 0:
            return 0
        got = _libarchive().read_data(self._archive_p, (ctypes.c_char * n).from_buffer(view), n)
        if got < 0:
            raise self._failed(got) from None
        return int(got)


class _Libarchive:
    """The few libarchive calls made per member, bound once without libarchive-c's per-call wrappers.

    A private handle on the same shared library, so our prototypes do not change libarchive-c's.
    Errors come back as return codes and are turned into sentences by ``reason``.
    """

    def __init__(self) -> None:
        import libarchive.ffi

        lib = ctypes.CDLL(libarchive.ffi.libarchive._name)
        vp, c_int, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64

        def fn(name: str, argtypes: list[Any], restype: Any) -> Any:
            f = getattr(lib, "archive_" + name)
            f.argtypes, f.restype = argtypes, restype
            return f

        self.next_header2 = fn("read_next_header2", [vp, vp], c_int)
        self.read_data = fn("read_data", [vp, vp, ctypes.c_size_t], ctypes.c_ssize_t)
        self.entry_new = fn("entry_new", [], vp)
        self.entry_free = fn("entry_free", [vp], None)
        self.filetype = fn("entry_filetype", [vp], ctypes.c_uint)
        self.mode = fn("entry_mode", [vp], ctypes.c_uint)
        self.pathname_w = fn("entry_pathname_w", [vp], ctypes.c_wchar_p)
        self.pathname = fn("entry_pathname", [vp], ctypes.c_char_p)
        self.hardlink_w = fn("entry_hardlink_w", [vp], ctypes.c_wchar_p)
        self.hardlink = fn("entry_hardlink", [vp], ctypes.c_char_p)
        self.symlink_w = fn("entry_symlink_w", [vp], ctypes.c_wchar_p)
        self.symlink = fn("entry_symlink", [vp], ctypes.c_char_p)
        self.size_is_set = fn("entry_size_is_set", [vp], c_int)
        self.size = fn("entry_size", [vp], i64)
        self.mtime_is_set = fn("entry_mtime_is_set", [vp], c_int)
        self.mtime = fn("entry_mtime", [vp], i64)
        self.mtime_nsec = fn("entry_mtime_nsec", [vp], ctypes.c_long)
        self.error_string = fn("error_string", [vp], ctypes.c_char_p)
        self.filter_bytes = fn("filter_bytes", [vp, c_int], i64)

    def reason(self, archive_p: int, retcode: int, offset: int = 0) -> str:
        """libarchive's error for ``archive_p`` in words, with where it happened; never a pointer or a repr.

        ``offset`` is where libarchive's stream starts in the archive (a reader that took over part way).
        """
        raw = self.error_string(archive_p)
        text = raw.decode("utf-8", "replace").strip() if raw else ""
        where = self.filter_bytes(archive_p, -1) + offset
        if not text:
            text = {ARCHIVE_WARN: "libarchive warned without a reason",
                    ARCHIVE_FAILED: "libarchive could not read this part and gave no reason"}.get(
                        retcode, "libarchive cannot go on and gave no reason (damaged, or not this format)")
        return f"{text} (after {where} bytes of the archive)" if where > 0 else text


@functools.cache
def _libarchive() -> _Libarchive:
    """libarchive's calls, bound on first use: importing libarchive-c (ctypes prototypes, the library) costs
    about 9 ms at start-up, which the walks that meet no format read through it (ZIP, ISO 9660, UDF, the tar
    our own reader reads) no longer pay."""
    return _Libarchive()
#: libarchive return codes (archive.h).
ARCHIVE_EOF, ARCHIVE_OK, ARCHIVE_WARN, ARCHIVE_FAILED = 1, 0, -20, -25
#: Size of the per-archive scratch buffer for small reads (a member's head, a whole tiny member).
SCRATCH = HEAD_SIZE
_S_IFMT = 0o170000
_FILETYPES = {0o040000: EntryKind.DIR, 0o120000: EntryKind.SYMLINK, 0o020000: EntryKind.DEVICE,
              0o060000: EntryKind.DEVICE, 0o010000: EntryKind.OTHER, 0o140000: EntryKind.OTHER}


def _content(archive_p: int, scratch: ctypes.Array[ctypes.c_char], guard: _GuardedReader,
             size: int | None, offset: int) -> tuple[bytes | None, Callable[[], Stream]]:
    """A member's content: read at once when its header says it fits the scratch buffer, else a stream.

    libarchive's ``archive_read_data`` fills the request across blocks and stops at the member's end, so
    a small member is one call: its bytes go to the walker with the header (``Member.data``). A short or
    failed read falls back to what the stream would have given: the bytes read, then the rest, or the error.
    """
    if size is None or size > len(scratch):
        return None, lambda: _EntryReader(archive_p, scratch, guard, offset)
    got = _libarchive().read_data(archive_p, scratch, size) if size else 0
    if got == size:
        data = ctypes.string_at(scratch, size) if size else b""
        return data, lambda: io.BytesIO(data)
    if got < 0:
        reader = _EntryReader(archive_p, scratch, guard, offset)
        failure = reader._failed(got)

        def fail() -> Stream:
            raise failure

        return None, fail
    first = ctypes.string_at(scratch, got)
    return None, lambda: Prefixed(first, _EntryReader(archive_p, scratch, guard, offset))


class Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream."""

    def __init__(self, first: bytes, rest: io.RawIOBase | BinaryIO) -> None:
        super().__init__()
        self._first = memoryview(first)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._first:
            n = min(len(b), len(self._first))
            memoryview(b).cast("B")[:n] = self._first[:n]
            self._first = self._first[n:]
            return n
        return self._rest.readinto(b) or 0  # type: ignore[union-attr]


def _text(wide: str | None, raw: bytes | None) -> str | bytes | None:
    """A name from libarchive as libarchive-c gives it: wide form, else UTF-8, else the raw bytes."""
    if wide:
        return wide
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeError:
        return raw


class _GuardedReader(io.RawIOBase):
    """Keeps exceptions out of libarchive's C read callback (ctypes would print a traceback and carry on).

    The exception is stored, libarchive sees a read error, and the handler re-raises the original.
    """

    def __init__(self, src: BinaryIO, watch: _ArHeaderWatch | None = None) -> None:
        super().__init__()
        self._src = src
        self._watch = watch
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.error is not None:
            return -1
        try:
            n = self._src.readinto(b) or 0  # type: ignore[attr-defined]
        except BaseException as exc:  # noqa: BLE001 - re-raised by the handler
            self.error = exc
            return -1
        if self._watch is not None and n > 0:
            self._watch.feed(memoryview(b)[:n])
        return n


def ar_size(header: bytes) -> int | None:
    """The size field of a 60-byte ar member header, or None when it is not a non-negative decimal number
    (libarchive then reads it as far as it is digits and goes on reading content as headers)."""
    field = header[48:58].strip(b" ")
    return int(field) if field.isdigit() else None


class _ArHeaderWatch:
    """Follows the ar member headers in the bytes libarchive reads, to say in words what it would not.

    libarchive takes an ar size field of ``-5`` for 0 and goes on reading content as headers, in silence
    or with "Incorrect file header signature". This reads each 60-byte header as it streams past (no
    extra I/O) and records a sentence for a size field that is not a non-negative decimal number.
    """

    def __init__(self, base: int = 0) -> None:
        #: The archive position of the first byte this watch sees (a resumed reading starts further on).
        self._base = base
        self._pos = 0
        self._next: int | None = 8  # after the "!<arch>\n" magic
        self._partial = bytearray()
        self.problems: list[str] = []

    def feed(self, data: memoryview) -> None:
        """Take the next bytes of the archive."""
        start = self._pos
        self._pos += len(data)
        while self._next is not None:
            at = self._next + len(self._partial) - start
            if at >= len(data):
                return
            self._partial += data[at : at + 60 - len(self._partial)]
            if len(self._partial) < 60:
                return
            self._header(bytes(self._partial))
            self._partial.clear()

    def _header(self, block: bytes) -> None:
        offset = self._next
        assert offset is not None
        if block[58:60] != b"`\n":
            self._next = None  # not a header (padding, or damage libarchive reports itself)
            return
        size = ar_size(block)
        if size is None:
            name = display_name(block[0:16].rstrip(b" "))
            self.problems.append(f"ar member '{name}' at byte {offset + self._base}: size field "
                                 f"'{display_name(block[48:58].strip(b' '))}' is not a non-negative number; its "
                                 "content and everything after it cannot be located")
            self._next = None
            return
        self._next = offset + 60 + size + size % 2

    def take(self) -> list[str]:
        """The sentences recorded since the last call."""
        out, self.problems = self.problems, []
        return out


#: What a tar header's checksum field may hold: octal digits, spaces and NULs.
_CHECKSUM_CHARS = b"01234567 \x00"


def tar_checksum_ok(head: bytes) -> bool:
    """True when the first 512 bytes are a tar header with a valid checksum (v7, ustar or GNU)."""
    if len(head) < 512 or head[:1] == b"\x00":
        return False
    raw = head[148:156]
    if raw.translate(None, _CHECKSUM_CHARS):  # cheap refusal of most non-tar content before summing
        return False
    field = raw.replace(b"\x00", b" ").strip()
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    return tar_sum_matches(head[:512], stored)


#: Bytes 128-255, which a signed checksum counts negative.
_HIGH_BYTES = bytes(range(128, 256))


def tar_sum_matches(block: bytes, stored: int) -> bool:
    """Whether ``stored`` is the checksum of the 512-byte header ``block``: the sum of its bytes with the
    checksum field counted as eight spaces, unsigned or (as old BSD/Solaris/HP-UX writers made it) signed.

    Sums of at most 256 bytes fit Adler-32's low half exactly (at most 65,280 < 65,521): three C calls
    instead of a Python loop over 512 bytes, once per member in a walk.
    """
    unsigned = ((zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:512]) & 0xFFFF)
                - (zlib.adler32(block[148:156]) & 0xFFFF) - 1 + 256)
    if stored == unsigned:
        return True
    outside_field = block[:148] + block[156:512]
    high = len(outside_field) - len(outside_field.translate(None, _HIGH_BYTES))
    return high > 0 and stored == unsigned - 256 * high


#: The file types a cpio header's mode may carry (socket, link, file, block, directory, character, FIFO).
_CPIO_FILE_TYPES = frozenset({0o140000, 0o120000, 0o100000, 0o060000, 0o040000, 0o020000, 0o010000})
#: Longest member name (with its NUL) a cpio header is believed to announce.
_CPIO_NAME_MAX = 4096
_CONTROL_BYTES = bytes(range(32))
#: ASCII cpio headers: magic, the length of the number fields after it, and their digits.
_CPIO_ASCII = ((b"070701", 104, b"0123456789abcdefABCDEF"), (b"070702", 104, b"0123456789abcdefABCDEF"),
               (b"070707", 70, b"01234567"))


def cpio_header_plausible(head: bytes) -> bool:
    """True when ``head`` starts with a cpio header whose fields make sense, not just its magic.

    Binary cpio's magic is two bytes, so about one random file in 30,000 starts with it; taking such a
    file for a damaged archive would mark a sound image incomplete. A binary header must also carry a
    known file type and a NUL-terminated name of the length it announces; an ASCII header, digits only.
    """
    for magic, digits, alphabet in _CPIO_ASCII:
        if head.startswith(magic):
            fields = head[6:6 + digits]
            return len(fields) == digits and not fields.translate(None, alphabet)
    if len(head) < 26 or head[:2] not in (b"\xc7\x71", b"\x71\xc7"):
        return False
    order = "<" if head[:2] == b"\xc7\x71" else ">"
    mode, = struct.unpack_from(order + "H", head, 6)
    namesize, = struct.unpack_from(order + "H", head, 20)
    if mode & 0o170000 not in _CPIO_FILE_TYPES or not 2 <= namesize <= _CPIO_NAME_MAX:
        return False
    name = head[26:26 + namesize]
    if len(name) < namesize:  # a truncated archive: what there is of the name must read as one
        return bool(name) and name.translate(None, _CONTROL_BYTES) == name
    return name[-1] == 0 and b"\x00" not in name[:-1]


def mtime_value(seconds: int, nanos: int) -> float:
    """Seconds since the epoch as libarchive-c gives them (an int unless there are nanoseconds)."""
    return float(seconds) + float(nanos) / 1e9 if nanos else seconds


@dataclass
class HardLinkCheck:
    """Hard links in a tar must name an earlier member; a link to itself or out of the archive is a lie."""

    ctx: UnpackContext
    seen: set[str] | SeenNames = field(default_factory=set)

    def member(self, name: str) -> None:
        """Remember a member that a later hard link may name (past ``EXACT_NAMES``, compactly)."""
        self.seen.add(name)
        self.seen = bounded(self.seen)

    def link(self, name: str, raw_target: str | bytes, target: str) -> None:
        """Report a hard link whose target (the header's linkname field) cannot be right."""
        why = unsafe_reason(raw_target)
        if target == name:
            self.ctx.problem(name, f"hard link to itself (linkname '{target}'): links to no content",
                             ProblemKind.MISMATCH)
        elif why is not None:
            self.ctx.problem(name, f"hard link target '{display_name(raw_target)}' ({why}): listed, "
                             "never followed", ProblemKind.WARNING)
        elif target not in self.seen:
            self.ctx.problem(name, f"hard link target '{target}' (linkname) is not an earlier member of the "
                             "archive", ProblemKind.MISMATCH)


@dataclass
class LibarchiveHandler:
    """One libarchive format, selected by our own magic test."""

    name: str
    format_name: str
    filter_name: str = "none"

    needs_seekable: bool = False

    def match(self, info: SniffInfo) -> bool:
        h = info.head
        if self.name == "tar":
            if len(h) < 512:  # no whole header: libarchive's tar reader does not bid either
                return False
            magic = h[257:265]
            if magic == VMTAR_MAGIC:
                return False
            return magic.startswith(TAR_MAGICS) or tar_checksum_ok(h)
        if self.name == "ar":
            return h.startswith(b"!<arch>\n")
        if self.name == "cpio":
            return cpio_header_plausible(h)
        if self.name == "rpm":
            return h.startswith(b"\xed\xab\xee\xdb")
        if self.name == "7z":
            return h.startswith(b"7z\xbc\xaf\x27\x1c")
        if self.name == "cab":
            return h.startswith(b"MSCF\x00\x00\x00\x00")
        if self.name == "rar":
            return h.startswith(b"Rar!\x1a\x07")
        if self.name == "xar":
            return h.startswith(b"xar!")
        return False

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the archive's members in storage order, each readable until the next one is asked for."""
        return self.resume(stream, ctx)

    def resume(self, stream: BinaryIO, ctx: UnpackContext, *, offset: int = 0, links: HardLinkCheck | None = None,
               preamble: bytes = b"", skip: bool | None = None) -> Iterator[Member]:
        """``members`` of an archive that another reader began: ``stream`` starts ``offset`` bytes into it.

        Our own tar and ar readers (``unpack.tar``, ``unpack.ar``) hand anything they do not read themselves
        (sparse files, damage, pax keys they do not know) to libarchive from the header where they stopped.
        ``preamble`` is put in front of the stream: for tar one member's headers, dropped (``skip``, the
        default with a preamble), that leave libarchive in the state the archive's earlier headers left it
        in; for ar the archive's magic and its long-name table. libarchive only starts on a stream whose
        first header it accepts. ``offset`` keeps positions in libarchive's messages those of the whole
        archive, ``links`` the members seen so far.
        """
        import libarchive  # here, not at import: see _libarchive
        import libarchive.exception

        if preamble:
            stream = cast(BinaryIO, Prefixed(preamble, stream))  # libarchive-c reads with readinto
        watch = _ArHeaderWatch(offset - len(preamble)) if self.name == "ar" else None
        guard = _GuardedReader(stream, watch)
        src: BinaryIO = stream if self.needs_seekable else guard  # type: ignore[assignment]
        try:
            with libarchive.stream_reader(
                src, format_name=self.format_name, filter_name=self.filter_name, block_size=CHUNK
            ) as archive:
                yield from self._members(archive._pointer, guard, ctx, offset - len(preamble), links,
                                         skip=bool(preamble) if skip is None else skip)
        except libarchive.exception.ArchiveError as exc:  # raised while opening, by libarchive-c
            if guard.error is not None:
                raise guard.error from None
            raise self._failure(_archive_error_text(exc)) from None
        finally:
            if watch is not None:
                for reason in watch.take():
                    ctx.problem(None, reason, ProblemKind.ERROR)
        if guard.error is not None:
            raise guard.error

    def _members(self, archive_p: int, guard: _GuardedReader, ctx: UnpackContext, offset: int,
                 links: HardLinkCheck | None, skip: bool = False) -> Iterator[Member]:
        lib = _libarchive()
        entry = lib.entry_new()
        scratch = ctypes.create_string_buffer(SCRATCH)
        if links is None and self.name == "tar":
            links = HardLinkCheck(ctx)
        try:
            while True:
                r = lib.next_header2(archive_p, entry)
                if r == ARCHIVE_EOF:
                    return
                warning = None
                if r != ARCHIVE_OK:
                    if guard.error is not None:
                        raise guard.error
                    if r != ARCHIVE_WARN:
                        raise self._failure(lib.reason(archive_p, r, offset))
                    warning = lib.reason(archive_p, r, offset)
                if skip:  # the preamble's member (see ``resume``)
                    skip = False
                    continue
                raw_name = lib.pathname_w(entry) or _text(None, lib.pathname(entry))
                if raw_name is None:
                    raise FormatError(f"{self.name}: member without a name")
                if self.name == "ar" and raw_name in ("/", "//", "/SYM64/"):
                    continue  # the symbol index and the GNU long-name table: format-internal, as `ar t` shows
                name = checked_member_path(raw_name, ctx)
                if warning is not None:
                    ctx.problem(name, f"{self.name} header: {warning}", ProblemKind.WARNING)
                size = lib.size(entry) if lib.size_is_set(entry) else None
                raw_hardlink = lib.hardlink_w(entry) or _text(None, lib.hardlink(entry))
                link: str | bytes | None = None
                if raw_hardlink:
                    kind = EntryKind.HARDLINK
                    link = member_path(raw_hardlink)  # a hard link names another member
                    if size:
                        # cpio stores a hard-linked file's data with its last link (the earlier links
                        # are empty): this entry carries the content, so it is a file.
                        kind = EntryKind.FILE
                    elif links is not None:
                        links.link(name, raw_hardlink, link)
                else:
                    kind = _FILETYPES.get(lib.filetype(entry) & _S_IFMT, EntryKind.FILE)
                    if kind is EntryKind.SYMLINK:
                        link = lib.symlink_w(entry) or _text(None, lib.symlink(entry))
                if links is not None:
                    links.member(name)
                mode = lib.mode(entry)
                is_file = kind is EntryKind.FILE
                data = None
                opener = None
                if is_file:
                    data, opener = _content(archive_p, scratch, guard, size, offset)
                yield Member(
                    name=name,
                    kind=kind,
                    size=size if is_file else None,
                    mode=(mode & 0o7777) if mode else None,
                    mtime=mtime_value(lib.mtime(entry), lib.mtime_nsec(entry)) if lib.mtime_is_set(entry) else None,
                    link_target=link,  # type: ignore[arg-type]
                    open=opener,
                    data=data,
                )
        finally:
            lib.entry_free(entry)

    def _failure(self, reason: str) -> WalkError:
        """The error for a libarchive failure: unsupported features said so, the rest a format error."""
        low = reason.lower()
        if "passphrase" in low or "encrypt" in low:
            return Unsupported(f"encrypted {self.name} member: {reason}")
        if "unsupported" in low or "not supported" in low:
            return Unsupported(f"{self.name}: {reason}")
        return FormatError(f"{self.name}: {reason}")


def _archive_error_text(exc: ArchiveError) -> str:
    """A libarchive-c exception in words: its message, never its errno/retcode/pointer repr."""
    msg = getattr(exc, "msg", None)
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return str(msg).strip() if msg else "libarchive could not open it and gave no reason (damaged, or not this format)"


TAR = LibarchiveHandler("tar", "tar")
AR = LibarchiveHandler("ar", "ar")
CPIO = LibarchiveHandler("cpio", "cpio")
# libarchive reads RPM as a filter (lead + header stripped) in front of a compressed cpio payload.
RPM = LibarchiveHandler("rpm", "cpio", "all")
# 7z keeps its headers at the end of the file: libarchive needs to seek.
SEVENZIP = LibarchiveHandler("7z", "7zip", needs_seekable=True)
CAB = LibarchiveHandler("cab", "cab")
RAR = LibarchiveHandler("rar", "rar")
XAR = LibarchiveHandler("xar", "xar", "all")
