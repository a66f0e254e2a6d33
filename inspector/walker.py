"""The one recursive walker: every member of every container, at every depth, read once as a stream.

For each member the walker sniffs the first bytes, picks an unpacker from the registry (content decides,
never the name), and either unpacks it recursively or hashes it as a leaf. Limits, nesting depth, errors
and temporary spools are handled here and nowhere else; nothing above this layer knows formats.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from inspector import native
from inspector.binaries.headers import BinaryFormatError
from inspector.binaries.model import META_KEY as BINARY_META
from inspector.binaries.reader import ANALYSED_TYPES, IN_MEMORY_MAX, binary_meta, binary_meta_file
from inspector.entrylog import EntryLog, make_row
from inspector.inventory import Summariser, remember_summary
from inspector.limits import BudgetExhausted, Limits, WalkError
from inspector.model import NEST, EntryKind, Inventory, Problem, ProblemKind
from inspector.seennames import SeenNames, bounded
from inspector.sniff import detect_type
from inspector.streams import (
    CHUNK,
    Budget,
    Head,
    RangeReader,
    Stream,
    TrackedStream,
    check_member_bytes,
    copy_stream,
    hash_file,
    read_head,
)
from inspector.unpack.base import Handler, Member, UnpackContext
from inspector.unpack.registry import HANDLERS, Dispatcher, Readings

#: Recognised container formats that no unpacker opens (yet): reported as unopened containers.
UNOPENED_CONTAINERS = frozenset({"squashfs", "qcow", "vmdk", "vhdx"})
#: Nested members up to this size are spooled to memory rather than to a temporary file.
MEMORY_SPOOL = 16 * 1024 * 1024

ProgressFn = Callable[[int, int], None]
#: ``capture(logical_path, size)`` -> a writable binary file to receive that leaf's content, or None. A sink
#: with a ``done(sha256)`` method is told, once the whole content was written to it, the walker's digest of
#: it (so it need not hash the content again); after a read error it is not called.
CaptureFn = Callable[[str, "int | None"], "BinaryIO | None"]


class _MemberReadError(Exception):
    """A member's content failed while being read; already reported at the member's path."""


class _Abort(Exception):
    """An image-wide limit tripped; already reported. Unwinds the walk to the root."""


@dataclass
class _Frame:
    """A container being walked on the current path, and the members found to be its own bytes again."""

    path: str
    #: Where its bytes lie (see ``_extent``) and its content hash when known before opening: either one
    #: seen again below it means a member holds its own container, which would be re-opened to the depth
    #: limit (a GPT whose partitions are the whole disk, an ISO whose files are the whole image).
    extent: tuple[int, int, int] | None
    sha256: str | None
    repeats: int = 0
    first_repeat: str = ""
    #: Slots of the entries whose content was read, by the member's ``content_key`` (``Walker._twin``).
    twins: dict[bytes, int] | None = None

    def holds(self, extent: tuple[int, int, int] | None, sha256: str | None) -> bool:
        """Whether a member with this extent or hash is this container's own bytes."""
        return (extent is not None and extent == self.extent) or (sha256 is not None and sha256 == self.sha256)


def _done(sink: Any, sha256: str | None) -> None:
    """Tell a capture sink that its content was written whole, with the walker's digest (``CaptureFn``)."""
    done = getattr(sink, "done", None)
    if done is not None and sha256 is not None:
        done(sha256)


class _PrivateDir:
    """The walk's private temporary directory (mode 0700), made when something is first spooled there.

    Most walks spool nothing (members up to ``MEMORY_SPOOL`` and executables up to ``IN_MEMORY_MAX`` stay in
    memory), and making and removing a directory costs a millisecond or more: a small diff walks twice.
    """

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def path(self) -> str:
        """The directory, made on first use."""
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="inspector-")
            os.chmod(self._dir.name, 0o700)
        return self._dir.name

    def cleanup(self) -> None:
        """Remove the directory and what is in it, if it was made."""
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


@dataclass
class _WalkState:
    budget: Budget
    tmpdir: _PrivateDir
    entries: EntryLog = field(default_factory=EntryLog)
    #: Totals and container summaries, summed as entries are filled in (``inventory.remember_summary``).
    summary: Summariser = field(default_factory=Summariser)
    #: Where executables are held while they are read (reused from one to the next).
    binaries: _BinarySpace = field(init=False)
    problems: list[Problem] = field(default_factory=list)
    #: The containers being walked, outermost first.
    path: list[_Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.binaries = _BinarySpace(self.tmpdir)

    def fill(self, slot: int, row: tuple[Any, ...]) -> None:
        """Put a finished entry (its row: ``entrylog.make_row``) in its slot, and count it."""
        self.entries.fill_row(slot, row)
        self.summary.add_row(row, slot)

    def add(self, row: tuple[Any, ...]) -> int:
        """Put a finished entry (its row) in the next slot (one with no members), and count it; the slot."""
        slot = self.entries.add_row(row)
        self.summary.add_row(row, slot)
        return slot

    def problem(self, path: str, reason: str, kind: str = ProblemKind.ERROR, limit: str | None = None) -> None:
        self.problems.append(Problem(path=path, reason=" ".join(reason.split()), kind=ProblemKind(kind),
                                     limit=limit))

    def enclosing(self, extent: tuple[int, int, int] | None, sha256: str | None) -> _Frame | None:
        """The container on the current path whose bytes these are, if any."""
        if extent is None and sha256 is None:
            return None
        for frame in self.path:
            if frame.holds(extent, sha256):
                return frame
        return None


@dataclass(slots=True)
class _Scan:
    """What the walker learns about one file member while reading it; becomes its entry at the end."""

    member: Member
    raw: Stream | None = None
    ts: TrackedStream | None = None
    detected: str | None = None
    container: str | None = None
    opened: bool = False
    #: A copy of the member's meta, made when something is added (container metadata, notes).
    meta: dict[str, Any] | None = None
    #: The image's hash, computed on a second handle while its reader works on the first, and what stops it.
    root_hash: Future[str] | None = None
    root_hash_stop: threading.Event | None = None
    #: Hash and byte count of the content, once read to the end (count None: the declared size stands).
    sha256: str | None = None
    count: int | None = None

    def own_meta(self) -> dict[str, Any]:
        """The entry's metadata, copied from the member's on first change."""
        if self.meta is None:
            self.meta = dict(self.member.meta)
        return self.meta

    @property
    def broke_off(self) -> bool:
        """Whether the container's reader already reported that its content ended early."""
        return bool(self.meta and self.meta.get("incomplete"))

    def row(self, path: str, depth: int, complete: bool) -> tuple[Any, ...]:
        """The entry (row) for this member: hash and counted size only when its content was read to the end."""
        if complete:
            return _file_row(self.member, path, depth, self.sha256, self.count, self.detected, self.container,
                             self.opened, self.meta)
        return _file_row(self.member, path, depth, None, None, self.detected, self.container, self.opened,
                         self.meta, complete=False)


#: What ``Walker._take_small_leaf`` learns of a leaf read whole: (sha256, detected type, container it was
#: recognised as but not opened, the member's meta with what the walk added when it added something). A plain
#: tuple: made once per small file.
_SmallLeaf = tuple[str, str, "str | None", "dict[str, Any] | None"]


#: Detected types a leaf is more than hashed for: an unopened container is said, an executable's sections read.
_NOTED_LEAVES = UNOPENED_CONTAINERS | ANALYSED_TYPES

def _file_row(member: Member, path: str, depth: int, sha256: str | None, count: int | None, detected: str | None,
              container: str | None, opened: bool, meta: dict[str, Any] | None, complete: bool = True
              ) -> tuple[Any, ...]:
    """The entry (as its row) of a file member: its counted size (``count``, None: the declared size stands) and
    the stored bytes its reader counted only when the content was read to the end (``complete``); ``meta``
    when the walk added to the member's (a dict of the walk's own, filed as it is)."""
    size = member.size
    stored = member.stored_size
    if complete:
        if count is not None:
            size = count
        if member.compressed_progress is not None:
            stored = member.compressed_progress()
    if meta is None and member.meta:
        meta = dict(member.meta)  # a copy: the entry's own, whatever the reader does with its mapping
    return make_row(path, member.kind, size, depth, stored, sha256, detected, member.mode, member.mtime,
                    member.link_target, container, opened, meta)


def _plain_row(member: Member, path: str, depth: int) -> tuple[Any, ...]:
    """The entry (as its row) of a member without content to read (directory, link, device)."""
    return make_row(path, member.kind, member.size, depth, member.stored_size, None, None, member.mode,
                    member.mtime, member.link_target, None, False, dict(member.meta) if member.meta else None)


class _PositionTracker(io.RawIOBase):
    """Seekable pass-through that remembers the furthest offset read (progress for seeking readers)."""

    def __init__(self, fh: BinaryIO, on_progress: Callable[[int], None]) -> None:
        super().__init__()
        self._fh = fh
        self._on_progress = on_progress
        self._furthest = 0

    @property
    def wrapped(self) -> BinaryIO:
        """The file read through this tracker."""
        return self._fh

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        return self._fh.seek(pos, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def readinto(self, b: Any) -> int:
        n = self._fh.readinto(b) or 0  # type: ignore[attr-defined]
        pos = self._fh.tell()
        if pos > self._furthest:
            self._furthest = pos
            self._on_progress(pos)
        return n

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        pos = self._fh.tell()
        if pos > self._furthest:
            self._furthest = pos
            self._on_progress(pos)
        return data


def _cheap_seek(raw: Any) -> bool:
    """Streams we may seek without re-decompressing: files, byte ranges of files (``SeekableRaw``)."""
    if isinstance(raw, (io.BufferedReader, io.FileIO, io.BytesIO, _PositionTracker)):
        return True
    return bool(getattr(raw, "cheap_seek", False))


class _Source:
    """The stream a container's reader gets, and what must be released after it (a spool)."""

    def __init__(self, stream: BinaryIO, spool: BinaryIO | None = None) -> None:
        self.stream = stream
        self._spool = spool

    def close(self) -> None:
        """Delete the spool, if one was made."""
        if self._spool is not None:
            self._spool.close()


class Walker:
    """Walks one image at a time under the given limits, using the registered unpackers."""

    def __init__(
        self,
        limits: Limits | None = None,
        handlers: Sequence[Handler] = HANDLERS,
        progress: ProgressFn | None = None,
        capture: CaptureFn | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.handlers = tuple(handlers)
        self.dispatch = Dispatcher(self.handlers)
        self.progress = progress
        #: Asked once per leaf file; content is copied to the returned file while it is hashed (used by
        #: diff to keep the bytes of changed files for delta estimates without a second walk).
        self.capture = capture

    # -- public -----------------------------------------------------------------------------------
    def inventory(self, path: str | os.PathLike[str]) -> Inventory:
        """Walk the image at ``path`` and return its full inventory (root entry first).

        Raises ``WalkError`` only when the image itself cannot be opened; everything that goes wrong
        inside it is reported in ``Inventory.problems``.
        """
        p = Path(path)
        try:
            st = p.stat()
        except OSError as exc:
            raise WalkError(f"{p}: cannot open ({exc.strerror or exc})") from None
        if not stat.S_ISREG(st.st_mode):
            raise WalkError(f"{p}: not a regular file")
        budget = Budget(self.limits, image_size=st.st_size)
        budget.start()
        tmpdir = _PrivateDir()
        try:
            state = _WalkState(budget=budget, tmpdir=tmpdir)
            try:
                fh = open(p, "rb")  # noqa: SIM115 - closed in finally
            except OSError as exc:
                raise WalkError(f"{p}: cannot open ({exc.strerror or exc})") from None
            try:
                root = self._root_member(p, st, fh)
                with contextlib.suppress(_MemberReadError, _Abort):
                    self._visit(state, root, p.name, 0, root_path=str(p))
            finally:
                fh.close()
                state.binaries.close()
        finally:
            tmpdir.cleanup()
        inv = Inventory(source=str(p), entries=state.entries.freeze(), problems=tuple(state.problems))
        remember_summary(inv, state.summary)
        return inv

    def _root_member(self, p: Path, st: os.stat_result, fh: BinaryIO) -> Member:
        """The image file as the member at depth 0 (read through a progress reporter when asked)."""
        raw: BinaryIO = fh
        if self.progress is not None:
            total = st.st_size
            cb = self.progress
            raw = _PositionTracker(fh, lambda pos: cb(pos, total))  # type: ignore[assignment]
        return Member(name=p.name, size=st.st_size, mode=stat.S_IMODE(st.st_mode), mtime=st.st_mtime,
                      open=lambda: raw)

    # -- one member -------------------------------------------------------------------------------
    def _visit(self, state: _WalkState, member: Member, logical: str, depth: int, root_path: str | None = None) -> None:
        """Put one member's entry in the log (reserved first, so a container precedes its members).

        Reading failures are reported at ``logical``; the entry is still listed, without a hash, and
        ``_MemberReadError`` (this member lost) or ``_Abort`` (the walk stops) tells the caller.
        """
        if member.kind is not EntryKind.FILE or member.open is None:
            state.add(_plain_row(member, logical, depth))
            return
        key = member.content_key
        if key is not None and state.path and self.capture is None:
            frame = state.path[-1]
            if self._twin(state, frame, member, key, logical, depth):
                return
            problems = len(state.problems)
            slot = self._visit_file(state, member, logical, depth, root_path)
            if len(state.problems) == problems:  # read whole, nothing said about it: a twin may take it
                if frame.twins is None:
                    frame.twins = {}
                frame.twins[key] = slot
            return
        self._visit_file(state, member, logical, depth, root_path)

    def _visit_file(self, state: _WalkState, member: Member, logical: str, depth: int,
                    root_path: str | None) -> int:
        """``_visit`` of a file member with content; its slot."""
        readings = None
        data = member.data  # set when the reader read it with its header (a small member)
        if data is not None:
            readings = self.dispatch.readings_of(data, member.name, member.size)
            if readings.handler is None:
                # A leaf that came whole with its header (most members of an archive of small files): its
                # entry made from that bytes object without a stream; it has no members, so no slot is held.
                try:
                    sha256, detected, container, meta = self._take_small_leaf(state, member, data, logical)
                except Exception as exc:  # noqa: BLE001 - every failure becomes a reported problem
                    state.add(_file_row(member, logical, depth, None, None, None, None, False, None, complete=False))
                    raise _reported(state, logical, exc) from None
                return state.add(_file_row(member, logical, depth, sha256, len(data), detected, container, False,
                                           meta))
        slot = state.entries.reserve()
        scan = _Scan(member)
        try:
            self._read_member(state, scan, logical, depth, root_path, readings)
        except (_MemberReadError, _Abort):
            _stop_root_hash(scan)
            state.fill(slot, scan.row(logical, depth, complete=False))
            raise
        except BaseException as exc:
            _stop_root_hash(scan)
            if not isinstance(exc, Exception):
                raise  # Ctrl-C, exit: unwinds as it is
            state.fill(slot, scan.row(logical, depth, complete=False))
            raise _reported(state, logical, exc) from None
        state.fill(slot, scan.row(logical, depth, complete=True))
        return slot

    def _twin(self, state: _WalkState, frame: _Frame, member: Member, key: bytes, logical: str, depth: int) -> bool:
        """List a member whose content an earlier member of its container had (the same ``content_key``) from
        that member's entry, without reading it: its digest, size, type and executable analysis. Only a
        leaf read whole without a problem is taken this way (a container is walked again, a failure read
        again and reported at each member). A walk with a capture hook reads every member: the hook decides
        by path which content it keeps, and a second ask for the same path would be refused."""
        slot = frame.twins.get(key) if frame.twins is not None else None
        if slot is None or self.capture is not None:
            return False
        first = state.entries.row_at(slot)
        if first is None or first[5] is None or first[10] is not None:
            return False
        meta = dict(member.meta) if member.meta else None
        analysis = first[12].get(BINARY_META) if first[12] else None
        if analysis is not None:
            meta = meta or {}
            meta[BINARY_META] = analysis
        state.add(make_row(logical, EntryKind.FILE, first[2], depth, member.stored_size, first[5], first[6],
                           member.mode, member.mtime, member.link_target, None, False, meta))
        return True

    def _read_member(self, state: _WalkState, scan: _Scan, logical: str, depth: int, root_path: str | None,
                     readings: Readings | None = None) -> None:
        """Sniff the member, open it when a reader accepts it, and hash what is left of it (``readings``:
        what the dispatcher said of content that came with the member, if it did)."""
        member = scan.member
        data = member.data  # set when the reader read it with its header (a small member)
        head = None
        if data is None:
            scan.raw = member.open()  # type: ignore[misc]
            head = read_head(scan.raw)
            data = head.data
        if readings is None:
            readings = self.dispatch.readings_of(data, member.name, member.size)
        handler = readings.handler
        if handler is None and (head is None or head.whole):
            scan.sha256, scan.detected, scan.container, scan.meta = self._take_small_leaf(state, member, data, logical)
            scan.count = len(data)
            return
        if head is None:
            head = Head(data, True)
        if scan.raw is None:
            scan.raw = member.open()  # type: ignore[misc]
        scan.ts = TrackedStream(scan.raw, state.budget, ratio_base=_ratio_base(member), head=head)
        if handler is None:
            scan.detected = detect_type(head.data)
            self._note_unopened(state, scan, logical)
        else:
            scan.detected = scan.container = handler.name
            if readings.others:
                _note_other_readings(state, scan, logical, handler, readings.others)
            self._open_container(state, scan, handler, logical, depth, root_path)
        if scan.root_hash is None:
            self._hash_rest(state, scan, logical)
        scan.sha256 = scan.root_hash.result() if scan.root_hash is not None else scan.ts.sha256
        scan.count = None if scan.root_hash is not None else scan.ts.count

    def _take_small_leaf(self, state: _WalkState, member: Member, data: bytes, logical: str) -> _SmallLeaf:
        """A leaf read whole (with its header, or by ``read_head``: most members): counted, sniffed and hashed
        from one bytes object."""
        n = len(data)
        check_member_bytes(state.budget, n, n, _ratio_base(member))
        detected = detect_type(data)
        if detected not in _NOTED_LEAVES and self.capture is None:
            return native.sha256_hex(data), detected, None, None  # most small files
        scan = _Scan(member, detected=detected)
        self._note_unopened(state, scan, logical)
        sink = None
        if self.capture is not None and scan.container is None:
            sink = self.capture(logical, member.size)
            if sink is not None:
                sink.write(data)
        sha256 = native.sha256_hex(data)
        if sink is not None:
            _done(sink, sha256)
        if detected in ANALYSED_TYPES:
            if n > self.limits.max_binary_bytes:
                _binary_too_big(state, logical, self.limits.max_binary_bytes)
            else:
                _note_sections(state, scan, logical, lambda detected: binary_meta(detected, data))
        return sha256, detected, scan.container, scan.meta

    @staticmethod
    def _note_unopened(state: _WalkState, scan: _Scan, logical: str) -> None:
        """A container format we recognise but have no reader for: said, and the member listed as a file."""
        if scan.detected in UNOPENED_CONTAINERS:
            scan.container = scan.detected
            state.problem(logical, f"{scan.detected} container recognised but not opened (no reader)",
                          ProblemKind.UNSUPPORTED)

    def _hash_rest(self, state: _WalkState, scan: _Scan, logical: str) -> None:
        """Read (and hash) whatever the reader left; a leaf's content also goes to ``capture`` if asked."""
        assert scan.ts is not None
        leaf = not scan.opened and scan.container is None
        sink = None
        if self.capture is not None and leaf:
            sink = self.capture(logical, scan.member.size)
        binary = None
        if leaf and scan.detected in ANALYSED_TYPES:
            binary = _BinaryCopy(self.limits.max_binary_bytes, sink, state.binaries)
            if scan.member.size is not None and scan.member.size > binary.limit:
                binary.too_big = True
        try:
            scan.ts.drain(cast(BinaryIO, binary) if binary is not None else sink, scan.member.size)
        except Exception:
            if scan.broke_off:  # the unpacker already reported why the content broke off
                raise _MemberReadError from None
            raise
        if sink is not None:
            _done(sink, scan.ts.sha256)
        if binary is None:
            return
        try:
            if binary.too_big:
                _binary_too_big(state, logical, binary.limit)
            else:
                _note_sections(state, scan, logical, binary.read)
        finally:
            binary.close()

    # -- one container ----------------------------------------------------------------------------
    def _open_container(self, state: _WalkState, scan: _Scan, handler: Handler, logical: str, depth: int,
                        root_path: str | None) -> None:
        """Walk the member's members, unless the depth limit or a loop back to an enclosing container forbids."""
        assert scan.ts is not None
        if depth >= self.limits.max_depth:
            state.problem(logical, f"nested deeper than {self.limits.max_depth} levels; {handler.name} not "
                          "opened (--max-depth)", ProblemKind.LIMIT, limit="max_depth")
            return
        if scan.member.payload:
            # A decompressed payload that is itself a container (the tar of a .tgz, the dd of a .dd.bz2):
            # its wrapper's hash already identifies it and its members are hashed, so hashing it too
            # would only cost one more pass over every byte.
            scan.ts.skip_hash()
        extent = _extent(scan.raw, scan.member.size, root=root_path is not None)
        if _same_as_enclosing(state, scan, extent, None, logical):
            return
        source = self._source_for(state, handler, scan, root_path)
        try:
            sha = scan.ts.sha256 if scan.ts.count and scan.ts.exhausted else None
            if sha is not None and _same_as_enclosing(state, scan, extent, sha, logical):
                return
            frame = _Frame(logical, extent, sha)
            state.path.append(frame)
            try:
                self._walk_members(state, handler, source, scan, logical, depth)
            finally:
                state.path.pop()
                _report_repeats(state, frame)
        finally:
            source.close()

    def _source_for(self, state: _WalkState, handler: Handler, scan: _Scan, root_path: str | None) -> _Source:
        """The stream ``handler`` reads: the tracked stream, or for a seeking reader something seekable.

        The image file itself is hashed on a second handle in a background thread while the reader works
        (both release the GIL), a streaming reader too: a tar of small files then parses on one core while
        its 300 MB are hashed on the other; a cheaply seekable member is hashed first, then seeked in;
        anything else (a ZIP inside a ZIP, an ISO inside a tarball) is copied once, hashing on the way,
        to a bounded spool in our private temp dir.
        """
        ts, raw = scan.ts, scan.raw
        assert ts is not None and raw is not None
        if not handler.needs_seekable:
            if root_path is not None and _cheap_seek(raw):
                _hash_root_aside(scan, root_path)
                ts.skip_hash()  # the stream still counts and limits what the reader takes
            return _Source(cast(BinaryIO, ts))  # handlers take a binary file; ours has the part they use
        if root_path is not None and _cheap_seek(raw):
            _hash_root_aside(scan, root_path)
            raw.seek(0)
            return _Source(cast(BinaryIO, raw))
        if _cheap_seek(raw):
            ts.drain()
            raw.seek(0)
            return _Source(cast(BinaryIO, raw))
        size = scan.member.size
        in_memory = size is not None and size <= MEMORY_SPOOL
        spool: BinaryIO = io.BytesIO() if in_memory else tempfile.TemporaryFile(dir=state.tmpdir.path)  # noqa: SIM115
        try:
            copy_stream(ts, spool, self.limits.max_spool_bytes)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return _Source(spool, spool)

    def _walk_members(self, state: _WalkState, handler: Handler, source: _Source, scan: _Scan, logical: str,
                      depth: int) -> None:
        """Visit every member ``handler`` finds; a reader's failure is reported and marks the container incomplete."""
        ts = scan.ts
        assert ts is not None
        meta = scan.own_meta()
        name = logical.rsplit(NEST, 1)[-1].rsplit("/", 1)[-1]

        def report(member_name: str | None, reason: str, kind: str = ProblemKind.ERROR,
                   limit: str | None = None) -> None:
            where = logical if member_name is None else f"{logical}{NEST}{member_name}"
            state.problem(where, reason, kind, limit=limit)

        ctx = UnpackContext(path=logical, name=name, size=scan.member.size, head=ts.head, budget=state.budget,
                            problem=report, meta=meta)
        members = handler.members(source.stream, ctx)
        seen: set[str] | SeenNames = set()
        # Once per member of every container: the loop's lookups made once.
        add_member, admit, visit, prefix, child_depth = state.budget.add_member, self._admit, self._visit, \
            logical + NEST, depth + 1
        try:
            for child in members:
                add_member()
                admitted = admit(state, ctx, child, seen, logical)
                seen = bounded(seen)
                if admitted:
                    try:
                        visit(state, child, prefix + child.name, child_depth)
                    except _MemberReadError:
                        continue  # reported at the member; the next member may still be readable
            scan.opened = True
        except (_Abort, BudgetExhausted) as exc:
            if isinstance(exc, BudgetExhausted):
                _report_exception(state, logical, exc)
            meta["incomplete"] = True
            raise _Abort from None  # _visit stops hashing the image aside: nobody will ask for its hash
        except Exception as exc:  # noqa: BLE001 - a format error, a reader's bug or a library's error on bad input
            _report_exception(state, logical, exc)
            meta["incomplete"] = True
            scan.opened = True
        finally:
            close = getattr(members, "close", None)  # a generator: stops a handler's background reader
            if close is not None:                    # even when we leave the container early
                close()
            if isinstance(seen, SeenNames):
                seen.close()

    def _admit(self, state: _WalkState, ctx: UnpackContext, child: Member, seen: set[str] | SeenNames,
               logical: str) -> bool:
        """Check a member's name before visiting it: duplicates and escaping names warned, overlong skipped."""
        name = child.name
        if name in seen:
            ctx.problem(name, "duplicate member name: listed again, an extractor would overwrite the earlier one",
                        ProblemKind.WARNING)
        seen.add(name)
        if ".." in name and ".." in name.split("/") and name not in ctx.flagged_unsafe:
            # Readers that see raw names report them as stored (names.checked_member_path); this catches a
            # traversing name from any other reader (vmtar, VIB, WIM, ISO ...).
            ctx.unsafe_name(name, name, "'..' component escapes the extraction directory")
        if len(name) > self.limits.max_path_length:
            state.problem(f"{logical}{NEST}{name[:200]}...", f"member name longer than "
                          f"{self.limits.max_path_length} characters; skipped (--max-name-length)",
                          ProblemKind.LIMIT, limit="max_path_length")
            return False
        return True


class _BinarySpace:
    """Where one walk holds executables while it reads them: a buffer for those up to ``IN_MEMORY_MAX``,
    one spool file in the walk's private temp dir for larger ones; both reused from one executable to
    the next. Fresh memory or fresh file pages for each binary cost more than copying into them (a tar.gz
    of libraries: hundreds of MB faulted in and dropped again); reused, they stay mapped and cached."""

    def __init__(self, tmpdir: _PrivateDir) -> None:
        self.tmpdir = tmpdir
        self.buffer = bytearray()
        self._spool: BinaryIO | None = None

    def spool(self) -> BinaryIO:
        """The spool file, positioned at its start (what lies beyond the current binary is stale)."""
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(dir=self.tmpdir.path, prefix="exe-")  # noqa: SIM115 - closed in close()
        self._spool.seek(0)
        return self._spool

    def close(self) -> None:
        """Drop the buffer and the spool file."""
        self.buffer = bytearray()
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class _BinaryCopy:
    """A drain sink keeping an executable's bytes (up to a limit) for its section table, passing them on.

    Up to ``IN_MEMORY_MAX`` bytes are kept in memory; a larger executable goes to a spool file in the
    walk's private temp dir, whose headers and sections are read from there (``binaries.reader``): memory
    does not grow with the size of a binary. Both come from the walk's ``_BinarySpace``.
    """

    def __init__(self, limit: int, then: BinaryIO | None, space: _BinarySpace) -> None:
        self.limit = limit
        self.then = then
        self.space = space
        self.spool: BinaryIO | None = None
        self.size = 0
        self.too_big = False

    def write(self, chunk: Any) -> int:
        n = len(chunk)
        if not self.too_big:
            start = self.size
            self.size += n
            if self.size > self.limit:
                self.too_big = True
                self.close()
            elif self.spool is not None:
                self.spool.write(chunk)
            elif self.size > IN_MEMORY_MAX:
                self.spool = self.space.spool()
                self.spool.write(memoryview(self.space.buffer)[:start])
                self.spool.write(chunk)
            else:
                self._keep(start, chunk)
        if self.then is not None:
            self.then.write(chunk)
        return n

    def _keep(self, start: int, chunk: Any) -> None:
        """Copy ``chunk`` into the buffer at ``start`` (growing it when the binary is the largest yet)."""
        try:
            self.space.buffer[start:start + len(chunk)] = chunk
        except BufferError:  # still exported to a reader that failed: continue in a buffer of our own
            self.space.buffer = bytearray(self.space.buffer)
            self.space.buffer[start:start + len(chunk)] = chunk

    def read(self, detected: str) -> dict[str, Any]:
        """The executable's ``meta["binary"]``, from memory or from the spool."""
        if self.spool is None:
            return binary_meta(detected, memoryview(self.space.buffer)[:self.size])
        self.spool.flush()
        return binary_meta_file(detected, self.spool, self.size)

    def close(self) -> None:
        """Done with this executable (its space is left for the next one)."""
        self.spool = None


def _hash_root_aside(scan: _Scan, root_path: str) -> None:
    """Hash the image file on a second handle in a background thread (``scan.root_hash``).

    A daemon thread with a stop event (``_stop_root_hash``), not a pool's worker: a walk that stops early (a
    limit, Ctrl-C, a reader's failure) must not wait, nor keep the process waiting at exit, for the hash of
    the rest of a large image.
    """
    future: Future[str] = Future()
    stop = threading.Event()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(hash_file(root_path, stop))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="inspector-hash", daemon=True).start()
    scan.root_hash, scan.root_hash_stop = future, stop


def _stop_root_hash(scan: _Scan) -> None:
    """Stop hashing the image aside (its entry is then listed without a hash), if it is being hashed."""
    if scan.root_hash_stop is not None:
        scan.root_hash_stop.set()
    if scan.root_hash is not None:
        scan.root_hash.cancel()


def _binary_too_big(state: _WalkState, logical: str, limit: int) -> None:
    """An executable over ``Limits.max_binary_bytes``: listed and hashed, its sections not read."""
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    state.problem(logical, f"executable larger than {size}: listed and hashed, its code/data sections not measured "
                  "(--max-binary-mib)", ProblemKind.LIMIT, limit="max_binary_bytes")


def _note_sections(state: _WalkState, scan: _Scan, logical: str, read: Callable[[str], dict[str, Any]]) -> None:
    """Record an executable's sections in its meta; a header that lies is said, the file still listed."""
    assert scan.detected is not None
    try:
        binary = read(scan.detected)
    except BinaryFormatError as exc:
        state.problem(logical, f"{exc}; its code/data sections are not measured", ProblemKind.MISMATCH)
        return
    except Exception as exc:  # noqa: BLE001 - the parser's own failure on crafted input is a finding, not a crash
        state.problem(logical, f"section table unreadable ({type(exc).__name__}: {exc}); its code/data sections "
                      "are not measured", ProblemKind.MISMATCH)
        return
    scan.own_meta()[BINARY_META] = binary


def _ratio_base(member: Member) -> Callable[[], int] | None:
    """How many stored bytes produced the content so far (for the expansion-ratio limit), if known."""
    if member.compressed_progress is not None:
        return member.compressed_progress
    stored = member.stored_size
    return (lambda: stored) if stored else None


def _reported(state: _WalkState, logical: str, exc: Exception) -> Exception:
    """Report a member's failure at its path; the exception that unwinds: the walk (``_Abort``) or the member."""
    _report_exception(state, logical, exc)
    return _Abort() if isinstance(exc, BudgetExhausted) else _MemberReadError()


def _report_exception(state: _WalkState, logical: str, exc: Exception) -> None:
    """One problem at ``logical`` for ``exc``: its kind, and the limit that tripped when it is a limit."""
    kind = exc.kind if isinstance(exc, WalkError) else ProblemKind.ERROR
    state.problem(logical, _reason(exc), kind, limit=getattr(exc, "limit", None))


def _note_other_readings(state: _WalkState, scan: _Scan, logical: str, handler: Handler,
                         others: tuple[str, ...]) -> None:
    """A polyglot (at once an ISO, a tar and a ZIP...): read as one, the other readings named in meta."""
    scan.own_meta()["other_readings"] = list(others)
    state.problem(logical, f"content is also a valid {', '.join(others)}: read as {handler.name} only "
                  "(a crafted file can show each tool different members)", ProblemKind.WARNING)


def _extent(raw: Stream | None, size: int | None, *, root: bool) -> tuple[int, int, int] | None:
    """(file identity, offset, length) of a member that is a window of a file, or the image itself."""
    if isinstance(raw, RangeReader):
        base, offset, length = raw.window()
    elif root and raw is not None:
        base, offset, length = raw, 0, size or 0
    else:
        return None
    if isinstance(base, _PositionTracker):
        base = base.wrapped
    return id(base), offset, length


def _same_as_enclosing(state: _WalkState, scan: _Scan, extent: tuple[int, int, int] | None, sha: str | None,
                       logical: str) -> bool:
    """Count a member that is an enclosing container's own bytes again (reported once, with the count)."""
    frame = state.enclosing(extent, sha)
    if frame is None:
        return False
    scan.own_meta()["same_bytes_as"] = frame.path
    if not frame.repeats:
        frame.first_repeat = logical
    frame.repeats += 1
    return True


def _report_repeats(state: _WalkState, frame: _Frame) -> None:
    """One warning for all the members that were their enclosing container again."""
    if frame.repeats:
        state.problem(frame.path, f"{frame.repeats} member(s) below it hold this container's own bytes again "
                      f"(first: '{frame.first_repeat}'): listed as files, not opened again (a loop)",
                      ProblemKind.WARNING)


def _reason(exc: BaseException) -> str:
    """A one-line reason for a problem, without a traceback."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, WalkError):
        text = f"{type(exc).__name__}: {text}"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:500]


def walk(path: str | os.PathLike[str], limits: Limits | None = None) -> Inventory:
    """Inventory one image with the default unpackers (convenience for callers and tests)."""
    return Walker(limits).inventory(path)


__all__ = ["Walker", "walk", "UNOPENED_CONTAINERS", "CHUNK"]
