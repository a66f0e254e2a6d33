"""An archive's bytes read the way libarchive reads them, for our own readers of libarchive's formats.

``Blocks`` reads the stream ``CHUNK`` bytes at a time, as libarchive-c's read callback does, and keeps what
is not consumed; ``MemberStream`` reads one large member's content from it with libarchive's failures:
a read that the end of the archive cuts is "Truncated <format> archive", a skip that runs out is
"Truncated input file (needed N bytes, only M available)". The tar and ar readers (``unpack.tar``,
``unpack.ar``) share them, so a damaged archive reads the same whichever of the two readers met it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO, cast

from inspector.streams import CHUNK, Stream
from inspector.unpack import archive
from inspector.unpack.base import FormatError


class HandOver(Exception):
    """This member is not one our reader reads; libarchive reads the archive from its first header on."""


class Blocks:
    """The archive's bytes as the stream gives them, read ``CHUNK`` at a time the way libarchive-c reads.

    ``buf[pos:]`` is what is not yet consumed; ``offset`` is the archive position of ``buf[0]``. A read
    failure while a member's data is being read is kept in ``error`` and raised again at the next
    header, as libarchive does with a failing read callback.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.offset = 0
        self.eof = False
        self.error: BaseException | None = None
        #: tar only: which kind of header libarchive last read ("old", "ustar", "gnu", "pax": a pax header was
        #: seen and ustar headers followed), which decides how it reads a hard link that declares a size.
        self.format = "old"
        #: The stream gives its own chunks (``read``), not copies of them: no buffer of ours is read into.
        self._hands_out_chunks = bool(getattr(stream, "hands_out_chunks", False))
        self._block: bytearray | None = None  # the buffer other streams are read into, made when first needed

    def _read_block(self) -> bytes:
        """The stream's next piece, up to ``CHUNK`` bytes, as bytes (empty at the end).

        A stream that hands out its chunks (a decompressor, read ahead or not, and a member tracked over one)
        gives them without a copy; any other stream is read into one buffer and copied out once.
        """
        if self._hands_out_chunks:
            return self.stream.read(CHUNK)
        if self._block is None:
            self._block = bytearray(CHUNK)
        got = self.stream.readinto(self._block) or 0  # type: ignore[attr-defined]
        return memoryview(self._block)[:got].tobytes() if got > 0 else b""  # one copy (a slice would be two)

    @property
    def total(self) -> int:
        """Bytes read from the stream so far."""
        return self.offset + len(self.buf)

    def fill(self, n: int) -> bool:
        """Make ``n`` bytes from ``pos`` available in ``buf``; False when the stream ends first."""
        while len(self.buf) - self.pos < n:
            if self.eof:
                return False
            block = self._read_block()
            if not block:
                self.eof = True
                return False
            self.offset += self.pos
            self.buf = self.buf[self.pos:] + block if self.pos < len(self.buf) else block
            self.pos = 0
        return True

    def copy_into(self, view: memoryview, n: int, need: int) -> bool:
        """Copy the next ``n`` bytes into ``view`` and consume ``need`` (at least ``n``): a large member's read.

        Blocks are read as ``fill`` reads them but not joined (one copy of the content, not three). False,
        with nothing copied and everything the stream had joined in ``buf``, when it ends first.
        """
        start = self.pos
        there = len(self.buf) - start
        if there >= need:
            view[:n] = memoryview(self.buf)[start : start + n]
            self.pos += need
            return True
        parts = [self.buf]
        try:
            while there < need and not self.eof:
                block = self._read_block()
                if not block:
                    self.eof = True
                    break
                parts.append(block)
                there += len(block)
        except BaseException:
            self._join(parts)
            raise
        if there < need:
            self._join(parts)
            return False
        at = 0  # position of the current part in the parts joined
        out = 0
        for part in parts:
            lo, hi = max(start, at), min(start + n, at + len(part))
            if hi > lo:
                view[out : out + hi - lo] = memoryview(part)[lo - at : hi - at]
                out += hi - lo
            at += len(part)
        last = parts[-1]
        self.offset += at - len(last)
        self.buf = last
        self.pos = start + need - (at - len(last))
        return True

    def _join(self, parts: list[bytes]) -> None:
        """Keep every block read in ``buf`` (what ``fill`` would have made of them)."""
        self.offset += self.pos
        self.buf = b"".join([parts[0][self.pos:], *parts[1:]])
        self.pos = 0

    def rest(self) -> BinaryIO:
        """What is not consumed, then the rest of the stream (for libarchive to take over)."""
        return cast(BinaryIO, archive.Prefixed(self.buf[self.pos:], self.stream))


class MemberStream(io.RawIOBase):
    """A large member's content, read from the archive's blocks as libarchive's ``archive_read_data`` reads it.

    A read that cannot be filled whole fails whole: the end of the archive inside the content is
    libarchive's "Truncated <format> archive", inside the padding after it "Truncated input file". A read
    failure of the stream below is raised here and again at the next header (``Blocks.error``).
    """

    def __init__(self, blocks: Blocks, size: int, padding: int, fmt: str = "tar") -> None:
        super().__init__()
        #: The format's name as libarchive words its failures ("tar", "ar").
        self.fmt = fmt
        self._blocks = blocks
        self.remaining = size
        self.padding = padding
        #: Bytes handed out by the last read that did not reach the end: libarchive counts them as not yet
        #: consumed when it skips the rest of the member.
        self._last = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        blocks = self._blocks
        if blocks.error is not None:
            raise blocks.error
        if self.remaining <= 0:
            return 0
        view = memoryview(b).cast("B")
        n = min(len(view), self.remaining)
        ends = n == self.remaining
        try:
            whole = blocks.copy_into(view, n, n + self.padding if ends else n)
        except BaseException as exc:  # noqa: BLE001 - raised here and at the next header
            blocks.error = exc
            raise
        if not whole:
            raise self._truncated()
        self.remaining -= n
        self._last = n
        if ends:
            self.padding = self._last = 0
        return n

    def _truncated(self) -> FormatError:
        """The archive ended inside this read: libarchive consumed what there was and says where."""
        blocks = self._blocks
        there = len(blocks.buf) - blocks.pos
        blocks.pos += there
        self._last = 0
        if there < self.remaining:
            self.remaining -= there
            return FormatError(f"corrupt member data: Truncated {self.fmt} archive{after(blocks.total)}")
        pad = there - self.remaining
        self.remaining = 0
        return FormatError(f"corrupt member data: Truncated input file (needed {self.padding} bytes, only {pad} "
                           f"available){after(blocks.total)}")

    def skip(self) -> None:
        """Step over what was not read of the member and its padding, as libarchive's skip does."""
        blocks = self._blocks
        if blocks.error is not None:
            raise blocks.error
        needed = self.remaining + self._last + self.padding
        if not needed:
            return
        there = self._last
        wanted = needed - self._last
        while len(blocks.buf) - blocks.pos < wanted:
            there += len(blocks.buf) - blocks.pos
            wanted -= len(blocks.buf) - blocks.pos
            blocks.pos = len(blocks.buf)
            if not blocks.fill(1):
                raise FormatError(f"{self.fmt}: Truncated input file (needed {needed} bytes, only {there} available)"
                                  f"{after(blocks.total)}")
        blocks.pos += wanted
        self.remaining = self.padding = self._last = 0


def after(where: int) -> str:
    """Where in the archive something happened, worded as ``archive._Libarchive.reason`` words it."""
    return f" (after {where} bytes of the archive)" if where > 0 else ""


def small_content(blocks: Blocks, used: int, size: int, padding: int) -> tuple[bytes | None, int]:
    """A small member's content when more must be read for it: (its bytes or None on a read failure, used).

    A failure reading the content is the member's (``blocks.error``, raised again at the next header); one
    reading only its padding is met by libarchive at the next header. The end of the archive in either is
    libarchive's to report (``HandOver``).
    """
    try:
        whole = blocks.fill(used + size)
    except Exception as exc:  # noqa: BLE001 - the member's content failed; raised again at the next header
        blocks.error = exc
        return None, used
    if not whole:
        raise HandOver
    at = blocks.pos + used
    data = blocks.buf[at : at + size]
    try:
        whole = blocks.fill(used + size + padding)
    except Exception as exc:  # noqa: BLE001 - libarchive meets it at the next header
        blocks.error = exc
        whole = True
    if not whole:
        raise HandOver
    return data, used + size


def failing(exc: BaseException) -> Callable[[], Stream]:
    """An opener that raises ``exc``: a member whose content could not be read."""

    def fail() -> Stream:
        raise exc

    return fail


def bytes_opener(data: bytes) -> Callable[[], Stream]:
    """An opener of content read whole with its header."""
    return lambda: io.BytesIO(data)
