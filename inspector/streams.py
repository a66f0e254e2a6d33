"""Stream plumbing shared by the walker and the unpackers.

``TrackedStream`` is the one wrapper every member's content goes through: it keeps the first bytes for
sniffing, hashes and counts everything that passes, and enforces the per-member and per-image limits,
so a member is read exactly once whether it is a leaf or a container being unpacked.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

from inspector.limits import BudgetExhausted, LimitExceeded, Limits, TimeoutExceeded

#: A readable binary stream: a file object, or any raw or buffered reader (what ``Member.open`` returns).
Stream = Union[BinaryIO, io.RawIOBase, io.BufferedIOBase]  # noqa: UP007 - a runtime alias

#: Bytes kept from the start of each member for content sniffing (ISO 9660 needs 32 KiB + a sector).
HEAD_SIZE = 64 * 1024
#: Members stopped by the expansion-ratio limit before the whole image is treated as a bomb.
BOMBS_PER_IMAGE = 3
#: Read size used when draining or copying streams.
CHUNK = 1024 * 1024
#: A member drained past this many bytes has the rest hashed in a thread of its own, one chunk behind the
#: reading (a thread per member costs more than it saves on smaller ones).
OVERLAP_FROM = 4 * CHUNK


@dataclass
class Budget:
    """Shared counters for one image walk: total bytes produced, members seen, time left."""

    limits: Limits
    image_size: int = 0
    total_bytes: int = 0
    members: int = 0
    deadline: float | None = field(default=None)
    bombs: int = 0  # members stopped by the per-member expansion ratio

    def add_bomb(self, reason: str) -> None:
        """Count one more member stopped by the ratio limit; the third one stops the whole image."""
        self.bombs += 1
        if self.bombs >= BOMBS_PER_IMAGE:
            raise BudgetExhausted(f"{reason}; {self.bombs} members expanded like this: walk stopped", "max_ratio")

    def start(self) -> None:
        """Start the clock for the per-image timeout."""
        if self.limits.timeout is not None:
            self.deadline = time.monotonic() + self.limits.timeout

    def check_time(self) -> None:
        """Raise once the per-image time budget is spent."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutExceeded(f"timed out after {self.limits.timeout:g} s (--timeout)", "timeout")

    def add_bytes(self, n: int) -> None:
        """Account for ``n`` more decompressed bytes and enforce the image-wide bounds."""
        self.total_bytes += n
        lim = self.limits
        if self.total_bytes > lim.max_total_bytes:
            raise BudgetExhausted(f"total unpacked bytes exceed {lim.max_total_bytes} (--max-total-gib)",
                                  "max_total_bytes")
        if (
            self.image_size
            and self.total_bytes > lim.ratio_floor_bytes
            and self.total_bytes > lim.max_ratio * 4 * self.image_size
        ):
            raise BudgetExhausted(
                f"image expands more than {lim.max_ratio * 4:g}x its size across all layers "
                "(decompression bomb?); walk stopped (--max-ratio)",
                "max_ratio",
            )

    def add_member(self) -> None:
        """Account for one more member and enforce the member-count bound."""
        self.members += 1
        if self.members > self.limits.max_members:
            raise BudgetExhausted(f"more than {self.limits.max_members} members (--max-members)", "max_members")
        if self.members & 0xFF == 0:
            self.check_time()


class TrackedStream(io.RawIOBase):
    """Read-once view of a member's content that sniffs, hashes, counts and limits as it goes.

    ``ratio_base`` returns the number of compressed bytes consumed so far to produce this content (for a
    decompressed stream), so a member expanding beyond ``Limits.max_ratio`` is stopped early.
    """

    def __init__(
        self,
        raw: Stream,
        budget: Budget,
        *,
        ratio_base: Callable[[], int] | None = None,
        hash_content: bool = True,
        head: Head | None = None,
    ) -> None:
        super().__init__()
        self._raw = raw
        self._budget = budget
        self._ratio_base = ratio_base
        self._hash = hashlib.sha256() if hash_content else None
        self._head = b""
        self._head_pos = 0  # how much of the head has been handed out
        self._eof = False
        self._error: BaseException | None = None  # a read error met while peeking, raised after the head
        self.count = 0  # bytes handed out (and hashed)
        if head is not None:  # the head was already read from ``raw`` (see ``read_head``)
            self._head, self._eof, self._error = head.data, head.eof, head.error

    @property
    def hands_out_chunks(self) -> bool:
        """Whether ``read`` passes the raw stream's own chunks on (see ``ReadAheadReader.hands_out_chunks``)."""
        return getattr(self._raw, "hands_out_chunks", False)

    # -- sniffing -------------------------------------------------------------------------------------
    def peek_head(self, n: int = HEAD_SIZE) -> bytes:
        """Return up to ``n`` bytes from the start without consuming them (only before any read)."""
        if self._head_pos:
            raise RuntimeError("peek_head after reading")
        while len(self._head) < n and not self._eof:
            try:
                chunk = self._raw.read(n - len(self._head))
            except BudgetExhausted:
                raise
            except Exception as exc:  # noqa: BLE001 - a read error inside the head: sniff what was read,
                if not self._head:  # and raise it when the reader gets past those bytes
                    raise
                self._error = exc
                self._eof = True
                break
            if not chunk:
                self._eof = True
                break
            self._head += chunk
        return self._head[:n]

    def skip_hash(self) -> None:
        """Do not hash this content (only before it is read): used where another hash identifies it."""
        if self._head_pos:
            raise RuntimeError("skip_hash after reading")
        self._hash = None

    @property
    def head(self) -> bytes:
        """The bytes kept by ``peek_head`` (still available after reading has started)."""
        return self._head

    @property
    def exhausted(self) -> bool:
        """Whether every byte of the content has been read (so ``sha256`` and ``count`` are final)."""
        return self._eof and self._error is None and self._head_pos >= len(self._head)

    # -- reading --------------------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if self._head_pos < len(self._head):
            n = min(len(view), len(self._head) - self._head_pos)
            view[:n] = self._head[self._head_pos : self._head_pos + n]
            self._head_pos += n
        else:
            if self._eof:
                if self._error is not None:
                    raise self._error
                return 0
            if hasattr(self._raw, "readinto"):
                n = self._raw.readinto(view) or 0
            else:  # pragma: no cover - all our raw streams have readinto
                data = self._raw.read(len(view))
                n = len(data)
                view[:n] = data
            if n == 0:
                self._eof = True
                return 0
        self._account(view[:n])
        return n

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes. Past the head, what the raw stream's own ``read`` returns is accounted and
        handed on as it is: a decompressor's output reaches a tar reader without being copied again, and a
        file's bytes reach a decompressor in the one copy the file makes (not a fresh zeroed buffer, read
        into and copied twice more)."""
        if size is None or size < 0:
            return self.readall()
        if self._head_pos >= len(self._head) and not self._eof and size > 0:
            data = self._raw.read(size)
            if not data:
                self._eof = True
                return b""
            self._account(memoryview(data))
            return data
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def readall(self) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = self.read(CHUNK)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def _account(self, data: memoryview) -> None:
        n = len(data)
        if self._hash is not None:
            self._hash.update(data)
        self.count += n
        check_member_bytes(self._budget, n, self.count, self._ratio_base)

    def drain(self, sink: BinaryIO | None = None, size: int | None = None) -> None:
        """Read (and hash) whatever the consumer left unread, copying it to ``sink`` if given.

        ``size``, the content's declared size when known, sizes the read buffer: a member of a few KiB is
        not read through a fresh, zeroed MiB.

        With a sink the content must not have been read yet (the head is replayed into it). Content that
        ``peek_head`` read whole (most members are small) is hashed and counted in one step, without a
        read buffer: sniffing, hashing and counting a small member is then one pass over one bytes object.
        Past ``OVERLAP_FROM`` bytes the rest is hashed one chunk behind the reading (``_drain_overlapped``).
        """
        if self._eof and self._error is None and self._head_pos == 0:
            head = self._head
            self._head_pos = len(head)
            if head:
                self._account(memoryview(head))
                if sink is not None:
                    sink.write(head)
            return
        left = None if size is None else size - self.count
        buf = bytearray(CHUNK if left is None or left >= CHUNK else max(left + 1, 4096))
        view = memoryview(buf)
        while n := self.readinto(buf):
            if sink is not None:
                sink.write(view[:n])
            if self.count >= OVERLAP_FROM and self._hash is not None:
                self._drain_overlapped(sink, buf)
                return
            if n == len(buf) < CHUNK:  # more than declared: read on in whole chunks
                buf = bytearray(CHUNK)
                view = memoryview(buf)

    def _drain_overlapped(self, sink: BinaryIO | None, first: bytearray) -> None:
        """The rest of ``drain`` for long content: each chunk is hashed (and copied to ``sink``) in a thread
        of its own while the next one is read into a second buffer (sha256 and file writes release the GIL),
        so neither the hashing of large members nor their copy to a spool adds to the reading thread's
        time. Chunks are handled in order; a buffer is read into again only once its chunk is done, and the
        sink is used by one thread at a time."""
        from concurrent.futures import Future, ThreadPoolExecutor

        digest, self._hash = self._hash, None  # readinto still counts and checks limits; hashing is here
        assert digest is not None
        buffers = (first if len(first) == CHUNK else bytearray(CHUNK), bytearray(CHUNK))
        pending: Future[None] | None = None
        turn = 1
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inspector-hash") as pool:
            try:
                while True:
                    buf = buffers[turn]
                    n = self.readinto(buf)
                    if pending is not None:
                        pending.result()
                        pending = None
                    if not n:
                        return
                    chunk = memoryview(buf)[:n]
                    if sink is None:
                        pending = pool.submit(digest.update, chunk)
                    else:
                        pending = pool.submit(_hash_and_copy, digest, chunk, sink)
                    turn ^= 1
            finally:
                if pending is not None:
                    pending.result()
                self._hash = digest

    @property
    def sha256(self) -> str | None:
        """Hex SHA-256 of everything read so far (the whole content once drained)."""
        return self._hash.hexdigest() if self._hash is not None else None


def _hash_and_copy(digest: Any, chunk: memoryview, sink: BinaryIO) -> None:
    """One chunk of ``TrackedStream._drain_overlapped``: hashed, then passed to the sink."""
    digest.update(chunk)
    sink.write(chunk)


def check_member_bytes(budget: Budget, n: int, count: int, ratio_base: Callable[[], int] | None) -> None:
    """Account ``n`` more bytes of a member that has produced ``count`` in all; enforce every limit.

    The one place the per-member size, expansion ratio, image-wide byte budget and time limit are
    checked, for streamed members (``TrackedStream``) and for small ones read whole (``read_head``).
    """
    budget.add_bytes(n)
    limits = budget.limits
    if count > limits.max_member_bytes:
        raise LimitExceeded(f"member larger than {limits.max_member_bytes} bytes (--max-member-gib)",
                            "max_member_bytes")
    if ratio_base is not None and count > limits.ratio_floor_bytes:
        base = max(ratio_base(), 1)
        if count > limits.max_ratio * base:
            reason = (f"expands more than {limits.max_ratio:g}x ({count} bytes from {base}) "
                      "(decompression bomb?) (--max-ratio)")
            budget.add_bomb(reason)
            raise LimitExceeded(reason, "max_ratio")
    if budget.deadline is not None:
        budget.check_time()


@dataclass(frozen=True)
class Head:
    """The first bytes of a member's content, read before anything else (for sniffing).

    ``eof`` tells that they are the whole content (most members are small: they are then sniffed, hashed
    and counted from this one bytes object). ``error`` is a read error met after ``data``, raised when a
    reader gets past those bytes.
    """

    data: bytes
    eof: bool
    error: BaseException | None = None

    @property
    def whole(self) -> bool:
        """Whether ``data`` is the member's entire content, read without error."""
        return self.eof and self.error is None


def read_head(raw: Stream, n: int = HEAD_SIZE) -> Head:
    """Read up to ``n`` bytes from the start of ``raw``.

    A read error before any byte is raised; after some bytes it is kept in ``Head.error``, so what was
    read can still be sniffed. A budget exhaustion is always raised.
    """
    data = b""
    while len(data) < n:
        try:
            chunk = raw.read(n - len(data))
        except BudgetExhausted:
            raise
        except Exception as exc:  # noqa: BLE001 - sniff what was read, raise when the reader gets there
            if not data:
                raise
            return Head(data, True, exc)
        if not chunk:
            return Head(data, True)
        data = chunk if not data else data + chunk
    return Head(data, False)


class ReadAheadReader(io.RawIOBase):
    """Runs a producer stream (a decompressor) in a background thread, a few chunks ahead of the reader.

    zlib, bz2, lzma and zstd release the GIL while they work, so decompression of one layer overlaps with
    parsing and hashing in the layer above: on two cores the walk runs close to the speed of the slowest
    stage instead of the sum of all of them. Memory is bounded by ``depth`` chunks. Errors raised by the
    producer are re-raised in the reader's thread.
    """

    _END = object()
    #: ``read`` returns the chunks the producer made, not copies: a reader that keeps what it reads (the tar
    #: and ar readers' ``Blocks``) calls ``read`` rather than ``readinto`` on a stream that says so.
    hands_out_chunks = True

    def __init__(self, src: Stream, depth: int = 4, chunk: int = CHUNK) -> None:
        super().__init__()
        import queue
        import threading

        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._pending = memoryview(b"")
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(src, chunk), daemon=True,
                                        name="inspector-readahead")
        self._thread.start()

    def _produce(self, src: Stream, chunk: int) -> None:
        import queue

        item: object
        try:
            while not self._stop.is_set():
                data = src.read(chunk)
                if not data:
                    item = self._END
                    break
                while not self._stop.is_set():
                    try:
                        self._queue.put(data, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            else:
                return
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            item = exc
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def _next_item(self) -> bool:
        """Make the next chunk the pending one; False at the end (a producer's error is raised here)."""
        while not self._pending:
            if self._done:
                return False
            item = self._queue.get()
            if item is self._END:
                self._done = True
                return False
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._pending = memoryview(item)  # type: ignore[arg-type]
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if not self._next_item():
            return 0
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes: a whole chunk the producer made is handed out as it is, not copied."""
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._next_item():
            return b""
        pending = self._pending
        if size >= len(pending) and isinstance(pending.obj, bytes) and len(pending) == len(pending.obj):
            self._pending = memoryview(b"")
            return pending.obj
        n = min(size, len(pending))
        self._pending = pending[n:]
        return pending[:n].tobytes()

    def close(self) -> None:
        """Stop the producer (also when the reader gives up early) and wait for it."""
        self._stop.set()
        self._thread.join(timeout=5)
        super().close()


class IterReader(io.RawIOBase):
    """A readable stream over an iterator of byte blocks (libarchive's ``get_blocks``, for example)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        super().__init__()
        self._blocks: Iterator[bytes] = iter(blocks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class ReadWindow:
    """Small reads of a seekable stream served from one window of it, read ahead when reads run forward.

    ISO 9660 and UDF readers hand small files over with their records (``Member.data``); mastering tools
    lay the files out in the order their directories list them, so one read of ``size`` bytes serves the
    next files as well, instead of a seek and a read for each. A read that does not follow on from the
    last one (within ``size`` bytes after it) is read exactly, and leaves the window as it was: scattered
    reads never read ahead. Nothing else may write the stream; other readers of it seek before they read.
    """

    __slots__ = ("_stream", "_size", "_start", "_data", "_next")

    def __init__(self, stream: BinaryIO, size: int = 256 * 1024) -> None:
        self._stream = stream
        self._size = size
        self._start = 0
        self._data = b""
        self._next = -1  # where the last read ended

    def read(self, offset: int, n: int) -> bytes:
        """The ``n`` bytes at ``offset`` (fewer only where the stream ends)."""
        at = offset - self._start
        if at >= 0 and at + n <= len(self._data):
            data = self._data[at : at + n]
        elif 0 <= offset - self._next <= self._size:
            self._stream.seek(offset)
            self._data = self._stream.read(max(n, self._size))
            self._start = offset
            data = self._data[:n]
        else:
            self._stream.seek(offset)
            data = self._stream.read(n)
        self._next = offset + n
        return data

    def whole(self, offset: int, n: int) -> bytes | None:
        """The ``n`` bytes at ``offset``, or None when the stream ends before them (the caller's reader then
        reads the content itself and says where it broke off)."""
        data = self.read(offset, n)
        return data if len(data) == n else None


class SeekableRaw(io.RawIOBase):
    """Base of readers over ``length`` bytes that can seek anywhere cheaply (no decompression needed).

    Subclasses implement ``readinto`` from ``self._pos``; the walker lets seeking readers (ISO, ZIP, FAT)
    work on such streams directly instead of spooling them.
    """

    cheap_seek = True

    def __init__(self, length: int) -> None:
        super().__init__()
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            pos += self._pos
        elif whence == io.SEEK_END:
            pos += self._length
        self._pos = max(0, pos)
        return self._pos


class RangeReader(SeekableRaw):
    """A seekable window ``[offset, offset+length)`` of a seekable file (a partition, a stored member)."""

    def __init__(self, fh: BinaryIO, offset: int, length: int) -> None:
        super().__init__(length)
        self._fh = fh
        self._offset = offset

    def window(self) -> tuple[object, int, int]:
        """(underlying file, absolute offset, length): where these bytes lie, through nested windows.

        Two members with the same window are the same bytes; the walker uses it to recognise a container
        that holds itself (a partition covering its whole disk) without reading a byte.
        """
        base: object = self._fh
        offset = self._offset
        while isinstance(base, RangeReader):
            offset += base._offset
            base = base._fh
        return base, offset, self._length

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        n = min(len(view), self._length - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._offset + self._pos)
        got = self._fh.readinto(view[:n]) or 0  # type: ignore[attr-defined]
        self._pos += got
        return got


def copy_stream(src: Stream, dst: BinaryIO, limit: int) -> int:
    """Copy ``src`` to ``dst`` (at most ``limit`` bytes, else LimitExceeded); return the byte count."""
    total = 0
    while True:
        chunk = src.read(CHUNK)
        if not chunk:
            return total
        total += len(chunk)
        if total > limit:
            raise LimitExceeded(f"spool larger than {limit} bytes (--max-member-gib)", "max_spool_bytes")
        dst.write(chunk)


class HashStopped(Exception):
    """``hash_file`` was told to stop before the end of the file (its caller no longer wants the digest)."""


def hash_file(path: str, stop: threading.Event | None = None) -> str:
    """SHA-256 of a file on disk, read in large chunks (hashlib releases the GIL while hashing).

    ``stop``, once set, ends the reading with ``HashStopped`` (never a digest of part of the file).
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            if stop is not None and stop.is_set():
                raise HashStopped(path)
            h.update(view[:n])
    return h.hexdigest()


__all__ = [
    "Budget",
    "Head",
    "read_head",
    "check_member_bytes",
    "TrackedStream",
    "IterReader",
    "RangeReader",
    "copy_stream",
    "hash_file",
    "HEAD_SIZE",
    "CHUNK",
]
