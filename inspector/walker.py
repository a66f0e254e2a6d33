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
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from inspector.entrylog import EntryLog
from inspector.limits import BudgetExhausted, Limits, WalkError
from inspector.model import NEST, Entry, EntryKind, Inventory, Problem, ProblemKind, frozen_meta
from inspector.sniff import detect_type
from inspector.streams import CHUNK, Budget, Stream, TrackedStream, copy_stream, hash_file
from inspector.unpack.base import Handler, Member, SniffInfo, UnpackContext
from inspector.unpack.registry import HANDLERS, find_handler

#: Recognised container formats that no unpacker opens (yet): reported as unopened containers.
UNOPENED_CONTAINERS = frozenset({"squashfs", "qcow", "vmdk", "vhdx"})
#: Nested members up to this size are spooled to memory rather than to a temporary file.
MEMORY_SPOOL = 16 * 1024 * 1024

ProgressFn = Callable[[int, int], None]
#: ``capture(logical_path, size)`` -> a writable binary file to receive that leaf's content, or None.
CaptureFn = Callable[[str, "int | None"], "BinaryIO | None"]


class _MemberReadError(Exception):
    """A member's content failed while being read; already reported at the member's path."""


class _Abort(Exception):
    """An image-wide limit tripped; already reported. Unwinds the walk to the root."""


@dataclass
class _WalkState:
    budget: Budget
    tmpdir: str
    entries: EntryLog = field(default_factory=EntryLog)
    problems: list[Problem] = field(default_factory=list)

    def problem(self, path: str, reason: str, kind: str = "error", limit: str | None = None) -> None:
        self.problems.append(Problem(path=path, reason=" ".join(reason.split()), kind=ProblemKind(kind), limit=limit))

    def warned_unsafe(self, path: str) -> bool:
        """Whether an unsafe-name warning was already given for ``path`` (by its reader)."""
        return any(p.path == path and p.reason.startswith("unsafe member name") for p in self.problems[-8:])


class _PositionTracker(io.RawIOBase):
    """Seekable pass-through that remembers the furthest offset read (progress for seeking readers)."""

    def __init__(self, fh: BinaryIO, on_progress: Callable[[int], None]) -> None:
        super().__init__()
        self._fh = fh
        self._on_progress = on_progress
        self._furthest = 0

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
        root_name = p.name
        budget = Budget(self.limits, image_size=st.st_size)
        budget.start()
        with tempfile.TemporaryDirectory(prefix="inspector-") as tmpdir:
            os.chmod(tmpdir, 0o700)
            state = _WalkState(budget=budget, tmpdir=tmpdir)
            try:
                fh = open(p, "rb")  # noqa: SIM115 - closed in finally
            except OSError as exc:
                raise WalkError(f"{p}: cannot open ({exc.strerror or exc})") from None
            try:
                raw: BinaryIO = fh
                if self.progress is not None:
                    total = st.st_size
                    cb = self.progress
                    raw = _PositionTracker(fh, lambda pos: cb(pos, total))  # type: ignore[assignment]
                root = Member(
                    name=root_name,
                    size=st.st_size,
                    mode=stat.S_IMODE(st.st_mode),
                    mtime=st.st_mtime,
                    open=lambda: raw,
                )
                with contextlib.suppress(_MemberReadError, _Abort):
                    self._visit(state, root, root_name, 0, root_path=str(p))
            finally:
                fh.close()
        return Inventory(source=str(p), entries=state.entries.freeze(), problems=tuple(state.problems))

    # -- one member -------------------------------------------------------------------------------
    def _visit(self, state: _WalkState, member: Member, logical: str, depth: int, root_path: str | None = None) -> None:
        slot = state.entries.reserve()
        base = dict(
            path=logical,
            kind=member.kind,
            depth=depth,
            mode=member.mode,
            mtime=member.mtime,
            link_target=member.link_target,
        )
        if member.kind is not EntryKind.FILE or member.open is None:
            state.entries.fill(slot, Entry(size=member.size, stored_size=member.stored_size,
                                           meta=frozen_meta(member.meta), **base))  # type: ignore[arg-type]
            return

        ts: TrackedStream | None = None
        handler: Handler | None = None
        head = b""
        detected: str | None = None
        container: str | None = None
        opened = False
        meta: dict[str, Any] = dict(member.meta)
        complete = False
        root_hash: Future[str] | None = None
        try:
            raw = member.open()
            ratio_base = member.compressed_progress
            if ratio_base is None and member.stored_size:
                stored = member.stored_size
                ratio_base = lambda: stored  # noqa: E731
            ts = TrackedStream(raw, state.budget, ratio_base=ratio_base)
            head = ts.peek_head()
            handler = find_handler(SniffInfo(head=head, name=member.name, size=member.size), self.handlers)
            detected = handler.name if handler else detect_type(head)
            if handler is not None:
                container = handler.name
                if depth >= self.limits.max_depth:
                    state.problem(logical, f"nested deeper than {self.limits.max_depth} levels; "
                                  f"{handler.name} not opened (--max-depth)", "limit")
                else:
                    if member.payload:
                        # A decompressed payload that is itself a container (the tar of a .tgz, the dd of
                        # a .dd.bz2): its wrapper's hash already identifies it and its members are hashed,
                        # so hashing it too would only cost one more pass over every byte.
                        ts.skip_hash()
                    root_hash, opened = self._unpack(state, handler, member, raw, ts, logical, depth, meta,
                                                     root_path)
            elif detected in UNOPENED_CONTAINERS:
                container = detected
                state.problem(logical, f"{detected} container recognised but not opened (no reader)",
                              "unsupported")
            if root_hash is None:
                sink = None
                if self.capture is not None and not opened and container is None:
                    sink = self.capture(logical, member.size)
                try:
                    ts.drain(sink)
                except Exception:
                    if meta.get("incomplete"):  # the unpacker already reported why the content broke off
                        raise _MemberReadError from None
                    raise
            complete = True
        except (_MemberReadError, _Abort):
            raise
        except BudgetExhausted as exc:
            state.problem(logical, _reason(exc), exc.kind, exc.limit)
            raise _Abort from None
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reported problem
            kind = exc.kind if isinstance(exc, WalkError) else "error"
            state.problem(logical, _reason(exc), kind)
            raise _MemberReadError from None
        finally:
            sha = None
            entry_size: int | None = member.size
            if complete and ts is not None:
                sha = root_hash.result() if root_hash is not None else ts.sha256
                entry_size = ts.count if root_hash is None else member.size
            stored_size = member.stored_size
            if member.compressed_progress is not None and complete:
                stored_size = member.compressed_progress()
            state.entries.fill(slot, Entry(
                size=entry_size,
                stored_size=stored_size,
                sha256=sha,
                detected=detected,
                container=container,
                opened=opened,
                meta=frozen_meta(meta),
                **base,  # type: ignore[arg-type]
            ))

    # -- one container ----------------------------------------------------------------------------
    def _unpack(
        self,
        state: _WalkState,
        handler: Handler,
        member: Member,
        raw: Stream,
        ts: TrackedStream,
        logical: str,
        depth: int,
        meta: dict[str, Any],
        root_path: str | None,
    ) -> tuple[Future[str] | None, bool]:
        """Open ``member`` as ``handler``'s format and visit its members; return (root hash, opened)."""
        root_hash: Future[str] | None = None
        spool: BinaryIO | None = None
        # Handlers take a binary file object; our streams provide the part of that API they use.
        source = cast(BinaryIO, ts)
        if handler.needs_seekable:
            if root_path is not None and _cheap_seek(raw):
                # The image file itself: hash it on a second handle in a background thread while the
                # seeking reader works (both release the GIL), instead of reading it twice in a row.
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inspector-hash")
                root_hash = pool.submit(hash_file, root_path)
                pool.shutdown(wait=False)
                raw.seek(0)
                source = cast(BinaryIO, raw)
            elif _cheap_seek(raw):
                ts.drain()  # hash it sequentially, then let the reader seek in the same bytes
                raw.seek(0)
                source = cast(BinaryIO, raw)
            else:
                # The reader must seek but the content is a stream (a ZIP inside a ZIP, an ISO inside a
                # tarball): copy it once, hashing on the way, to a bounded spool in our private temp dir.
                if member.size is not None and member.size <= MEMORY_SPOOL:
                    spool = io.BytesIO()
                else:
                    spool = tempfile.TemporaryFile(dir=state.tmpdir)  # noqa: SIM115 - closed below
                copy_stream(ts, spool, self.limits.max_spool_bytes)
                spool.seek(0)
                source = spool

        name = logical.rsplit(NEST, 1)[-1].rsplit("/", 1)[-1]

        def report(member_name: str | None, reason: str, kind: str = "error") -> None:
            where = logical if member_name is None else f"{logical}{NEST}{member_name}"
            state.problem(where, reason, kind)

        ctx = UnpackContext(
            path=logical,
            name=name,
            size=member.size,
            head=ts.head,
            budget=state.budget,
            spool=lambda s: s,
            problem=report,
            meta=meta,
        )
        opened = False
        members = handler.members(source, ctx)
        seen: set[str] = set()
        try:
            for child in members:
                state.budget.add_member()
                if child.name in seen:
                    report(child.name, "duplicate member name: listed again, an extractor would overwrite the "
                           "earlier one", "warning")
                seen.add(child.name)
                if ".." in child.name.split("/") and not state.warned_unsafe(f"{logical}{NEST}{child.name}"):
                    # Readers that see raw names report them as stored (names.checked_member_path); this
                    # catches a traversing name from any other reader (vmtar, VIB, WIM, ISO ...).
                    report(child.name, f"unsafe member name '{child.name}' ('..' component escapes the "
                           "extraction directory): listed, never extracted", "warning")
                if len(child.name) > self.limits.max_path_length:
                    report(child.name[:200] + "...", f"member name longer than "
                           f"{self.limits.max_path_length} characters; skipped (--max-name-length)", "limit")
                    continue
                try:
                    self._visit(state, child, f"{logical}{NEST}{child.name}", depth + 1)
                except _MemberReadError:
                    continue  # reported at the member; the next member may still be readable
            opened = True
        except (_Abort, BudgetExhausted) as exc:
            if isinstance(exc, BudgetExhausted):
                state.problem(logical, _reason(exc), exc.kind, exc.limit)
            meta["incomplete"] = True
            if root_hash is not None:
                root_hash.cancel()  # the walk stops: nobody will ask for the image's hash
            raise _Abort from None
        except WalkError as exc:
            state.problem(logical, _reason(exc), exc.kind)
            meta["incomplete"] = True
            opened = True
        except Exception as exc:  # noqa: BLE001 - a reader's bug or a library's error on bad input
            state.problem(logical, _reason(exc), "error")
            meta["incomplete"] = True
            opened = True
        finally:
            close = getattr(members, "close", None)  # a generator: stops a handler's background reader
            if close is not None:                    # even when we leave the container early
                close()
            if spool is not None:
                spool.close()
        # Returned even when the reader failed part-way: the image's hash is still wanted (cancelling it
        # here, as before, made the caller's result() raise CancelledError when the hash had not started).
        return root_hash, opened


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
