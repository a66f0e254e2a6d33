"""Delta estimates: how many bytes a binary patch from the old to the new file would take.

The zstd estimate compresses the new file in the same window right after the old one, with long-distance
matching, and counts only the bytes produced for the new file. That is what ``zstd --patch-from`` does
(the old file as a raw-content prefix): python-zstandard does not expose ``ZSTD_CCtx_refPrefix``, and a
``ZstdCompressionDict(old, dict_type=DICT_TYPE_RAWCONTENT)`` only indexes the last 2^(hashLog+3) bytes
of a dictionary (1 MiB at level 3; measured: a one-byte change in a 40 MiB file gave a 40 MiB "delta"),
so the dictionary route is kept for small files only. bsdiff (``bsdiff4``, BSD licence) is the slower,
often tighter alternative; it holds both files in memory, so it stays under the same size bound.

Content reaches us through the walker's capture hook (``Walker(capture=fn)``). A small pair keeps every
leaf file's content while it is first walked (``KeptContent``: one unlinked spool file per side, bounded),
so its estimates need no second walk. Otherwise (or for what was not kept) each side is walked once more
(both at once), restricted to the files that need it: the old and new content of modified files goes to a
private temporary directory (each under the size bound), added files stream straight into the estimator.
Memory is bounded by the zstd window (twice the size bound at most).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import zstandard

from inspector.binaries.model import (
    Extents,
    code_extents_of,
    code_sha256_of,
    data_extents_of,
    data_sha256_of,
    read_extents,
)
from inspector.diff.model import relative
from inspector.limits import Limits
from inspector.model import Entry
from inspector.store.config import StoreConfig
from inspector.walker import Walker

_CHUNK = 1024 * 1024
#: Below this old size a raw-content dictionary is indexed completely at any level.
_DICT_MAX = 1024 * 1024
METHODS = ("zstd", "bsdiff")
#: At most this many bytes of one side's leaf files are kept by ``KeptContent`` (the rest is read again
#: by a second walk when it is needed).
KEEP_BUDGET = 128 * 1024 * 1024
#: Of that, up to this many bytes are held in memory; the rest goes to the side's spool file. Fresh page
#: cache pages cost about 2 ns a byte to fill on ext4 (memory a tenth of that): for a small pair (two
#: .debs of 5 MB) the spool was a tenth of the diff's CPU time.
KEEP_IN_MEMORY = 32 * 1024 * 1024


@dataclass(frozen=True)
class ContentPair:
    """Estimates made from both releases' content, keyed by logical path relative to the image.

    ``deltas`` maps (old relative path, new relative path) of a modified file to its delta estimate,
    ``compressed`` maps the relative path of an added file to its zstd-compressed size, ``notes`` maps
    a new (or old) relative path to the reason no estimate was made. ``code_deltas`` and ``data_deltas``
    (keyed like ``deltas``) hold the estimates over a modified executable's code sections only, and over
    its initialised data sections only, made where those sections' digests differ.
    """

    method: str
    deltas: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    compressed: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    code_deltas: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    data_deltas: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))


# -- content -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    """One file's content kept by ``KeptContent``, with its digest: ``size`` bytes at ``offset`` of its spool
    (``fd``), or held in memory (``data``)."""

    fd: int
    offset: int
    size: int
    sha256: str
    data: bytes | None = None

    def read(self, offset: int = 0, n: int | None = None) -> bytes:
        """Up to ``n`` bytes (all, by default) from ``offset`` within the file (positional: thread-safe)."""
        n = self.size - offset if n is None else min(n, self.size - offset)
        if self.data is not None:
            return self.data[offset : offset + max(n, 0)]
        out = b""
        while n > 0:
            got = os.pread(self.fd, n, self.offset + offset)
            if not got:
                break
            out += got
            offset += len(got)
            n -= len(got)
        return out


#: A file's content for an estimate: in memory, in a file of its own, or kept in a spool.
Content = bytes | Path | Stored


def _size(src: Content) -> int:
    if isinstance(src, bytes):
        return len(src)
    return src.size if isinstance(src, Stored) else src.stat().st_size


def _whole(src: Content) -> bytes:
    if isinstance(src, bytes):
        return src
    return src.read() if isinstance(src, Stored) else src.read_bytes()


def _extents(src: Content, extents: Extents) -> bytes:
    """The bytes at ``extents`` of a file's content, concatenated (its code or its data as one stream)."""
    if isinstance(src, Path):
        return read_extents(src, extents)
    if isinstance(src, Stored):
        return b"".join(src.read(offset, length) for offset, length in extents)
    return b"".join(src[offset:offset + length] for offset, length in extents)


class KeptContent:
    """A capture hook (``Walker(capture=...)``) keeping every leaf file's content seen by one walk.

    The first occurrence of each path that is read whole is kept, each file up to ``max_file`` bytes,
    ``budget`` bytes in all: the first ``in_memory`` bytes in memory, the rest in one unlinked spool file
    (nothing but this process can see it; it goes away with it), under the digest the walker tells it
    (``done``: it is not hashed twice). The delta estimates then read the modified and added files from
    here (``get``) instead of walking the image a second time: for a small pair that second walk
    (decompressing everything again) cost more than the estimates themselves. Whatever was not kept is read
    by the second walk as before. The spool file is made when memory is full, by the walk's own thread (the
    two sides' walks run at once).
    """

    def __init__(self, max_file: int, budget: int = KEEP_BUDGET, in_memory: int = KEEP_IN_MEMORY) -> None:
        self.max_file = max_file
        self.budget = budget
        self.in_memory = in_memory
        self._fh: BinaryIO | None = None
        self._files: dict[str, Stored] = {}
        self._active: _KeptSink | None = None
        self._end = 0  # bytes kept, in memory and in the spool
        self._held = 0  # bytes held in memory
        self._spooled = 0  # the spool file's size

    def __call__(self, logical: str, size: int | None) -> Any:
        """A sink for the leaf at ``logical`` (first occurrence, within the bounds), else None."""
        self.finish()
        rel = relative(logical)
        if rel in self._files or (size is not None and size > self.max_file) or self._end >= self.budget:
            return None
        self._active = _KeptSink(self, rel)
        return self._active

    def _write(self, sink: _KeptSink, data: Any) -> None:
        """Append a piece of the file being kept, or give it up once it is over a bound."""
        n = len(data)
        if sink.dropped or sink.count + n > self.max_file or self._end + n > self.budget:
            sink.dropped = True
            self._release(sink)
            return
        if sink.parts is not None and self._held + n > self.in_memory:
            self._to_spool(sink)
        if sink.parts is not None:
            sink.parts.append(bytes(data))
            self._held += n
        else:
            assert self._fh is not None  # made by _to_spool
            self._fh.write(data)
            self._spooled += n
        sink.count += n
        self._end += n

    def _to_spool(self, sink: _KeptSink) -> None:
        """Continue the file being kept in the spool file (made now, by the walk's own thread, if need be):
        memory holds ``in_memory`` bytes at most."""
        if self._fh is None:
            self._fh = tempfile.TemporaryFile(prefix="inspector-kept-", buffering=0)  # noqa: SIM115 - close()
        assert sink.parts is not None
        sink.offset = self._spooled
        for part in sink.parts:
            self._fh.write(part)
            self._spooled += len(part)
            self._held -= len(part)
        sink.parts = None

    def _done(self, sink: _KeptSink, sha256: str) -> None:
        """Record a file written whole, under the walker's digest of it (``CaptureFn``)."""
        if sink is self._active and not sink.dropped:
            if sink.parts is not None:
                data = b"".join(sink.parts)
                sink.parts = [data]  # the pieces go; the bytes held stay counted in ``_held``
                self._files[sink.rel] = Stored(-1, 0, sink.count, sha256, data)
            else:
                assert self._fh is not None
                self._files[sink.rel] = Stored(self._fh.fileno(), sink.offset, sink.count, sha256)

    def _release(self, sink: _KeptSink) -> None:
        """Let go of what memory holds of a file that is not kept."""
        if sink.parts:
            self._held -= sum(len(part) for part in sink.parts)
            sink.parts = []

    def finish(self) -> None:
        """Forget the sink of the file being kept: it was recorded when the walker said it was done; a file
        whose reading failed (never done) is not kept (its bytes leave memory, or stay in the spool, unread)."""
        if self._active is not None and self._active.rel not in self._files:
            self._release(self._active)
        self._active = None

    def get(self, rel: str, sha256: str | None) -> Stored | None:
        """The kept content of the file at relative path ``rel``, if it is the content with that digest."""
        self.finish()
        stored = self._files.get(rel)
        return stored if stored is not None and sha256 is not None and stored.sha256 == sha256 else None

    def close(self) -> None:
        """Drop the spool."""
        self._active = None
        self._files.clear()
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _KeptSink:
    """The writable file the walker copies one leaf into (see ``KeptContent``)."""

    def __init__(self, owner: KeptContent, rel: str) -> None:
        self.owner, self.rel = owner, rel
        #: The content so far, while it is held in memory; None once it goes to the spool (from ``offset``).
        self.parts: list[bytes] | None = []
        self.offset = 0
        self.count = 0
        self.dropped = False

    def write(self, data: Any) -> int:
        self.owner._write(self, data)
        return len(data)

    def done(self, sha256: str) -> None:
        """The walker's word that the file was written whole, with its digest."""
        self.owner._done(self, sha256)


# -- estimators ---------------------------------------------------------------------------------------

def _window_log(total: int) -> int:
    return min(max(math.ceil(math.log2(max(total, 1) + 1)) + 1, 10), 31)


class ZstdDeltaSink:
    """A writable sink: the new file's content is written in, ``finish()`` returns the estimate.

    With ``old`` (a path or the content itself) the old content is first fed into the same compression
    window; only bytes produced for the new content are counted. Without it, the result is the new file's
    compressed size.
    """

    def __init__(self, old: Content | None, new_size_hint: int | None, level: int = 3, *, hash_new: bool = True
                 ) -> None:
        #: The digest of the new content written in (None without ``hash_new``: content already verified).
        self.sha = hashlib.sha256() if hash_new else None
        self.count = 0
        old_size = _size(old) if old is not None else 0
        hint = new_size_hint if new_size_hint is not None else max(old_size, _CHUNK)
        if old is not None and old_size <= _DICT_MAX:
            d = zstandard.ZstdCompressionDict(_whole(old), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            params = zstandard.ZstdCompressionParameters.from_level(level, window_log=_window_log(old_size + hint))
            self._c = zstandard.ZstdCompressor(dict_data=d, compression_params=params).compressobj()
            return
        if old is None:
            self._c = zstandard.ZstdCompressor(level=level).compressobj()
            return
        params = zstandard.ZstdCompressionParameters.from_level(
            level, window_log=_window_log(old_size + hint), enable_ldm=True)
        self._c = zstandard.ZstdCompressor(compression_params=params).compressobj()
        for chunk in _chunks(old):
            self._c.compress(chunk)
        self._c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def write(self, data: Any) -> int:
        """Feed new content (what the walker copies while hashing)."""
        if self.sha is not None:
            self.sha.update(data)
        self.count += len(self._c.compress(data))
        return len(data)

    def finish(self) -> int:
        """End the frame and return the compressed bytes attributable to the new content."""
        self.count += len(self._c.flush())
        return self.count


def _chunks(src: Content) -> Iterator[bytes | memoryview]:
    """``src`` (content, a file path or kept content) in pieces of at most ``_CHUNK`` bytes."""
    if isinstance(src, bytes):
        view = memoryview(src)
        for i in range(0, len(src), _CHUNK):
            yield view[i:i + _CHUNK]  # no copy: zstd takes any buffer
        return
    if isinstance(src, Stored):
        for i in range(0, src.size, _CHUNK):
            yield src.read(i, _CHUNK)
        return
    with open(src, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _feed(sink: ZstdDeltaSink, src: Content) -> None:
    for chunk in _chunks(src):
        sink.write(chunk)


def zstd_delta_size(old: Content, new: Content, level: int = 3) -> int:
    """Estimated size of a zstd patch from ``old`` to ``new`` (contents, file paths or kept contents)."""
    sink = ZstdDeltaSink(old, _size(new), level, hash_new=False)
    _feed(sink, new)
    return sink.finish()


def zstd_size(data: Content, level: int = 3) -> int:
    """zstd-compressed size of ``data`` (content, a file path or kept content), streamed."""
    sink = ZstdDeltaSink(None, None, level, hash_new=False)
    _feed(sink, data)
    return sink.finish()


def bsdiff_delta_size(old: Content, new: Content) -> int:
    """Size of a bsdiff patch (bsdiff4, BZ2-compressed) from ``old`` to ``new``; both are read into memory."""
    try:
        import bsdiff4
    except ImportError:
        raise RuntimeError("--delta-method bsdiff needs the bsdiff4 package (pip install bsdiff4)") from None
    return len(bsdiff4.diff(_whole(old), _whole(new)))


# -- capturing content from the images --------------------------------------------------------------------

class _HashingFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sha = hashlib.sha256()
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return self._fh.write(data)

    def close(self) -> None:
        self._fh.close()


class _NewCapture:
    """The new side's capture callback: modified files are spooled (their delta is estimated once the old
    content is there too); added files stream into a compressed-size estimator, one at a time."""

    def __init__(self, modified: set[str], added: Mapping[str, str | None], level: int, tmpdir: str) -> None:
        self.modified, self.added, self.level, self.tmpdir = modified, added, level, tmpdir
        self.spooled: dict[str, _HashingFile] = {}
        self.results: dict[str, int] = {}
        self.notes: dict[str, str] = {}
        self._active: tuple[str, ZstdDeltaSink | _HashingFile] | None = None
        self._seen: set[str] = set()

    def __call__(self, logical: str, size: int | None) -> Any:
        """A sink for the file at ``logical`` if it is wanted (first occurrence of a path), else None."""
        self.finish()
        rel = relative(logical)
        if rel in self._seen or (rel not in self.modified and rel not in self.added):
            return None
        self._seen.add(rel)
        sink: ZstdDeltaSink | _HashingFile
        if rel in self.modified:
            sink = self.spooled[rel] = _HashingFile(Path(self.tmpdir) / f"new-{len(self.spooled)}")
        else:
            sink = ZstdDeltaSink(None, size, self.level)
        self._active = (rel, sink)
        return sink

    def finish(self) -> None:
        """Close the file being captured (and size it, for an added file)."""
        if self._active is None:
            return
        rel, sink = self._active
        self._active = None
        if isinstance(sink, _HashingFile):
            sink.close()
            return
        try:
            estimate = sink.finish()
        except (OSError, RuntimeError, MemoryError, zstandard.ZstdError) as exc:
            self.notes[rel] = f"delta failed: {exc}"
            return
        assert sink.sha is not None  # made with hash_new: the walker's copy is checked against the inventory
        if sink.sha.hexdigest() != self.added[rel]:
            self.notes[rel] = "content differs from the inventory (image changed?)"
            return
        self.results[rel] = estimate


def _key(method: str, level: int, old_sha: str, new_sha: str) -> str:
    return f"{method}:{level}:{old_sha}:{new_sha}"


#: Where an estimate belongs: (what, old relative path, new relative path). ``what`` is ``file`` (a modified
#: file's delta), ``code`` or ``data`` (the delta over those sections of a modified executable), or
#: ``added`` (an added file's compressed size; the old path is empty).
_Slot = tuple[str, str, str]


@dataclass(frozen=True)
class _SectionDelta:
    """A delta to estimate over one kind of sections (``code`` or ``data``) of a modified executable: where
    their bytes are in each file, and the digests of those bytes (the cache key: equal sections, equal
    estimate, whatever the rest of the file)."""

    what: str
    old: Extents
    new: Extents
    old_sha: str
    new_sha: str


def _section_deltas(old: Entry, new: Entry) -> tuple[_SectionDelta, ...]:
    """The section deltas worth estimating for a modified file: its code and its data, where both sides
    recorded those sections and their digests differ (equal digests: no change, nothing to estimate)."""
    out = []
    for what, extents_of, sha_of in (("code", code_extents_of, code_sha256_of),
                                     ("data", data_extents_of, data_sha256_of)):
        old_sha, new_sha = sha_of(old.meta), sha_of(new.meta)
        if old_sha is None or new_sha is None or old_sha == new_sha:
            continue
        old_extents, new_extents = extents_of(old.meta), extents_of(new.meta)
        if old_extents is not None and new_extents is not None:
            out.append(_SectionDelta(what, old_extents, new_extents, old_sha, new_sha))
    return tuple(out)


class _EstimateCache:
    """Estimates kept in the inventory store (when it is enabled), keyed by the contents they measure."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, config: StoreConfig | None) -> _EstimateCache | None:
        path = (config or StoreConfig.resolve()).path
        return cls(path) if path is not None else None

    def get(self, keys: Iterable[str]) -> dict[str, int]:
        from inspector.store import InventoryStore, StoreError

        try:
            with InventoryStore(self.path) as store:
                return store.estimates(keys)
        except (StoreError, sqlite3.Error):
            return {}  # a broken or locked store only costs the cache

    def put(self, values: Mapping[str, int]) -> None:
        from inspector.store import InventoryStore, StoreError

        if not values:
            return
        try:
            with InventoryStore(self.path) as store:
                store.put_estimates(values)
        except (StoreError, sqlite3.Error):
            pass


@dataclass
class _Plan:
    """What the walks must capture, and what is already settled (notes, cached estimates).

    ``want_old`` maps the old relative path of a modified file to (new relative path, expected old
    SHA-256); ``want_added`` the relative path of an added file to its expected SHA-256; ``new_sha`` the
    new relative path of a modified file to its expected new SHA-256; ``sections`` the new relative path
    of a modified executable to the section deltas to estimate besides the whole file's.
    """

    want_old: dict[str, tuple[str, str]] = field(default_factory=dict)
    want_added: dict[str, str | None] = field(default_factory=dict)
    new_sha: dict[str, str | None] = field(default_factory=dict)
    sections: dict[str, tuple[_SectionDelta, ...]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    deltas: dict[tuple[str, str], int] = field(default_factory=dict)
    compressed: dict[str, int] = field(default_factory=dict)
    code_deltas: dict[tuple[str, str], int] = field(default_factory=dict)
    data_deltas: dict[tuple[str, str], int] = field(default_factory=dict)

    def put(self, slot: _Slot, size: int) -> None:
        """Record the estimate that belongs at ``slot``."""
        what, orel, nrel = slot
        if what == "added":
            self.compressed[nrel] = size
        else:
            self._table(what)[(orel, nrel)] = size

    def get(self, slot: _Slot) -> int | None:
        """The estimate recorded at ``slot``, if any."""
        what, orel, nrel = slot
        return self.compressed.get(nrel) if what == "added" else self._table(what).get((orel, nrel))

    def _table(self, what: str) -> dict[tuple[str, str], int]:
        return {"file": self.deltas, "code": self.code_deltas, "data": self.data_deltas}[what]

    def settled(self, orel: str, nrel: str) -> bool:
        """Whether every estimate of a modified file is known (its content need not be captured)."""
        return (orel, nrel) in self.deltas and all(
            self.get((s.what, orel, nrel)) is not None for s in self.sections.get(nrel, ()))


def collect_contents(
    old_image: Path | None,
    new_image: Path,
    modified: Iterable[tuple[Entry, Entry]],
    added: Iterable[Entry],
    *,
    method: str = "zstd",
    max_bytes: int = 64 * 1024 * 1024,
    level: int = 3,
    limits: Limits | None = None,
    store: StoreConfig | None = None,
    kept: tuple[KeptContent | None, KeptContent | None] = (None, None),
) -> ContentPair:
    """Capture the files that need an estimate and estimate them.

    ``modified`` pairs (old entry, new entry) get a delta when both sizes are under ``max_bytes``;
    ``added`` entries get their zstd-compressed size. ``old_image`` may be None (no old content: modified
    files are then noted as skipped). Content comes from ``kept`` (the old and the new side's
    ``KeptContent`` from their first walk) where it was kept with the inventoried digest; for the rest
    each image is walked once more, both at once. Nothing but the modified files is ever written to disk
    by those walks, in a private temporary directory that is removed afterwards.
    """
    if method not in METHODS:
        raise ValueError(f"unknown delta method {method!r} (use {' or '.join(METHODS)})")
    modified = list(modified)
    plan = _plan(modified, added, old_image is not None, max_bytes)
    cache = _EstimateCache.open(store)
    keys = _cache_keys(modified, plan, method, level)
    known = cache.get(keys) if cache else {}
    _reuse_known(plan, keys, known)
    if plan.want_old or plan.want_added:
        _capture_and_estimate(old_image, new_image, plan, method, level, limits, kept)
    if cache:
        cache.put(_fresh_estimates(keys, known, plan))
    return ContentPair(method, MappingProxyType(plan.deltas), MappingProxyType(plan.compressed),
                       MappingProxyType(plan.notes), MappingProxyType(plan.code_deltas),
                       MappingProxyType(plan.data_deltas))


def _plan(modified: list[tuple[Entry, Entry]], added: Iterable[Entry], have_old: bool, max_bytes: int) -> _Plan:
    """Which files to capture: modified files under the size bound (when there is old content), and
    every added file; a note for each modified file left out."""
    plan = _Plan()
    for o, n in modified:
        orel, nrel = relative(o.path), relative(n.path)
        if (o.size or 0) > max_bytes or (n.size or 0) > max_bytes:
            plan.notes[nrel] = f"over the delta size bound ({max_bytes:,} bytes)"
        elif not have_old:
            plan.notes[nrel] = "no old content (saved inventory)"
        else:
            plan.want_old[orel] = (nrel, o.sha256 or "")
            plan.new_sha[nrel] = n.sha256
            if sections := _section_deltas(o, n):
                plan.sections[nrel] = sections
    plan.want_added = {relative(n.path): n.sha256 for n in added}
    return plan


def _cache_keys(modified: list[tuple[Entry, Entry]], plan: _Plan, method: str, level: int
                ) -> dict[str, list[_Slot]]:
    """Cache key -> every slot whose estimate is made from those contents (copies share one): estimates
    depend only on the two contents. A section delta is keyed by its sections' digests (``zstd-code``,
    ``zstd-data``), so it is shared by every build with the same code, whatever else changed."""
    keys: dict[str, list[_Slot]] = defaultdict(list)
    for o, n in modified:
        orel, nrel = relative(o.path), relative(n.path)
        if orel in plan.want_old and o.sha256 and n.sha256:
            keys[_key(method, level, o.sha256, n.sha256)].append(("file", orel, nrel))
            for sd in plan.sections.get(nrel, ()):
                keys[_key(f"{method}-{sd.what}", level, sd.old_sha, sd.new_sha)].append((sd.what, orel, nrel))
    for rel, sha in plan.want_added.items():
        if sha:
            keys[_key("zstd", level, "", sha)].append(("added", "", rel))
    return keys


def _reuse_known(plan: _Plan, keys: Mapping[str, list[_Slot]], known: Mapping[str, int]) -> None:
    """Take the cached estimates, and drop from what the walks must capture the files whose estimates are
    all known."""
    for key, size in known.items():
        for slot in keys[key]:
            plan.put(slot, size)
    for orel, (nrel, _) in list(plan.want_old.items()):
        if plan.settled(orel, nrel):
            del plan.want_old[orel]
    for rel in list(plan.want_added):
        if rel in plan.compressed:
            del plan.want_added[rel]


@dataclass
class _Found:
    """Content taken from ``KeptContent`` (verified by digest), and what is left for the second walks."""

    old: dict[str, Content] = field(default_factory=dict)  # new relative path -> old content
    new: dict[str, Content] = field(default_factory=dict)  # new relative path -> new content
    added: dict[str, Content] = field(default_factory=dict)  # relative path -> added content
    walk_old: dict[str, tuple[str, str]] = field(default_factory=dict)  # as ``_Plan.want_old``
    walk_new: set[str] = field(default_factory=set)  # new relative paths of modified files
    walk_added: dict[str, str | None] = field(default_factory=dict)  # as ``_Plan.want_added``


def _from_kept(plan: _Plan, kept: tuple[KeptContent | None, KeptContent | None], have_old: bool) -> _Found:
    """What the first walks kept of the wanted files, and the rest (for the second walks)."""
    old_kept, new_kept = kept
    found = _Found()
    for orel, (nrel, sha) in plan.want_old.items():
        old = old_kept.get(orel, sha) if old_kept is not None else None
        if old is None:
            found.walk_old[orel] = (nrel, sha)
        else:
            found.old[nrel] = old
        if have_old:
            new = new_kept.get(nrel, plan.new_sha.get(nrel)) if new_kept is not None else None
            if new is None:
                found.walk_new.add(nrel)
            else:
                found.new[nrel] = new
    for rel, added_sha in plan.want_added.items():
        added = new_kept.get(rel, added_sha) if new_kept is not None else None
        if added is None:
            found.walk_added[rel] = added_sha
        else:
            found.added[rel] = added
    return found


def _capture_and_estimate(old_image: Path | None, new_image: Path, plan: _Plan, method: str, level: int,
                          limits: Limits | None,
                          kept: tuple[KeptContent | None, KeptContent | None] = (None, None)) -> None:
    """The wanted content from ``kept``, else from both capturing walks at once (the old one in a thread:
    old modified files and new modified files go to a private temporary directory, made only for those
    walks; added files stream straight into their estimator); then the deltas are estimated."""
    found = _from_kept(plan, kept, old_image is not None)
    with contextlib.ExitStack() as stack:
        spooled: Mapping[str, _HashingFile] = {}
        if found.walk_old or found.walk_new or found.walk_added:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="inspector-diff-"))
            os.chmod(tmp, 0o700)
            spooled = _walk_for_content(old_image, new_image, plan, found, level, limits, tmp)
        _estimate_deltas(plan, found, spooled, method, level)


def _walk_for_content(old_image: Path | None, new_image: Path, plan: _Plan, found: _Found, level: int,
                      limits: Limits | None, tmp: str) -> Mapping[str, _HashingFile]:
    """The second walks: what ``found`` still lacks, captured from both images at once (the old one in a
    thread) into ``tmp``; the old content is checked into ``found``, the new modified files returned."""
    old_files: dict[str, _HashingFile] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        old_walk = (pool.submit(_capture_old, old_image, found.walk_old, limits, tmp, old_files)
                    if found.walk_old and old_image is not None else None)
        cap = _NewCapture(found.walk_new, found.walk_added, level, tmp)
        try:
            if found.walk_new or found.walk_added:
                Walker(limits, capture=cap).inventory(new_image)
        finally:
            cap.finish()
            if old_walk is not None:
                old_walk.result()
    _note_added(plan, cap, found.walk_added)
    found.old.update(_check_old(plan, found.walk_old, old_files))
    return cap.spooled


def _capture_old(image: Path, want: Mapping[str, tuple[str, str]], limits: Limits | None, tmp: str,
                 files: dict[str, _HashingFile]) -> None:
    """Walk the old image, copying the wanted files (first occurrence of a path) into ``tmp``."""

    def capture(logical: str, size: int | None) -> Any:
        rel = relative(logical)
        if rel not in want or rel in files:
            return None
        f = _HashingFile(Path(tmp) / f"old-{len(files)}")
        files[rel] = f
        return f

    try:
        Walker(limits, capture=capture).inventory(image)
    finally:
        for f in files.values():
            f.close()


def _note_added(plan: _Plan, cap: _NewCapture, wanted: Iterable[str]) -> None:
    """The compressed sizes of the added files the walk looked for, or why there is none."""
    plan.compressed.update(cap.results)
    plan.notes.update(cap.notes)
    for rel in wanted:
        if rel not in cap.results and rel not in plan.notes:
            plan.notes[rel] = "new content not found on the second walk"


def _check_old(plan: _Plan, want: Mapping[str, tuple[str, str]], files: Mapping[str, _HashingFile]
               ) -> dict[str, Content]:
    """New rel path -> the captured old content, for the old files captured with the expected hash."""
    out: dict[str, Content] = {}
    for orel, (nrel, sha) in want.items():
        f = files.get(orel)
        if f is None:
            plan.notes.setdefault(nrel, "old content not found on the second walk")
        elif f.sha.hexdigest() != sha:
            plan.notes[nrel] = "old content differs from the inventory (image changed?)"
        else:
            out[nrel] = f.path
    return out


def _estimate_deltas(plan: _Plan, found: _Found, spooled: Mapping[str, _HashingFile], method: str,
                     level: int) -> None:
    """A delta estimate for each modified file whose two contents were captured as inventoried, and the
    compressed size of each added file taken from kept content."""
    pair_of = {nrel: orel for orel, (nrel, _) in plan.want_old.items()}
    todo: list[tuple[str, Content, Content]] = []
    for nrel, old in found.old.items():
        new = found.new.get(nrel)
        f = spooled.get(nrel)
        if new is not None:
            todo.append((nrel, old, new))
        elif f is None:
            plan.notes.setdefault(nrel, "new content not found on the second walk")
        elif f.sha.hexdigest() != plan.new_sha.get(nrel):
            plan.notes[nrel] = "content differs from the inventory (image changed?)"
        else:
            todo.append((nrel, old, f.path))

    # One task per estimate, the longest first (by the bytes it reads): the two workers then finish
    # together. One task per file (its whole delta, then its code and data deltas) left a worker idle at
    # the end. Every estimate depends on its two contents only, so the order changes no figure.
    work: dict[_Slot, Callable[[], int]] = {}
    cost: dict[_Slot, int] = {}
    for nrel, old, new in todo:
        orel = pair_of[nrel]
        if plan.get(("file", orel, nrel)) is None:
            work["file", orel, nrel] = partial(_delta_size, method, old, new, level)
            cost["file", orel, nrel] = _size(old) + _size(new)
        for sd in plan.sections.get(nrel, ()):
            if plan.get((sd.what, orel, nrel)) is None:
                work[sd.what, orel, nrel] = partial(_section_delta, method, old, new, sd, level)
                cost[sd.what, orel, nrel] = sum(n for _, n in sd.old) + sum(n for _, n in sd.new)
    for rel, content in found.added.items():
        work["added", "", rel] = partial(zstd_size, content, level)
        cost["added", "", rel] = _size(content)
    with ThreadPoolExecutor(max_workers=2) as pool:  # zstd and bsdiff4 release the GIL
        running = {slot: pool.submit(_attempt, work[slot]) for slot in sorted(work, key=lambda s: -cost[s])}
        outcome = {slot: future.result() for slot, future in running.items()}
    for nrel, _, _ in todo:  # recorded file by file, as they were made before
        orel = pair_of[nrel]
        whole = outcome.get(("file", orel, nrel))
        if isinstance(whole, str):
            plan.notes[nrel] = whole
        elif whole is not None:
            plan.deltas[(orel, nrel)] = whole
        for sd in plan.sections.get(nrel, ()):
            size = outcome.get((sd.what, orel, nrel))
            if isinstance(size, int):  # a section delta that failed is left out: the change says None
                plan.put((sd.what, orel, nrel), size)
    for rel in found.added:
        size_or_reason = outcome["added", "", rel]
        if isinstance(size_or_reason, str):
            plan.notes[rel] = size_or_reason
        else:
            plan.compressed[rel] = size_or_reason


def _attempt(estimate: Callable[[], int]) -> int | str:
    """An estimate, or why it failed."""
    try:
        return estimate()
    except (OSError, RuntimeError, MemoryError, zstandard.ZstdError) as exc:
        return f"delta failed: {exc}"


def _delta_size(method: str, old: Content, new: Content, level: int) -> int:
    """The estimate of ``method`` (zstd or bsdiff) from ``old`` to ``new``."""
    if method == "bsdiff":
        return bsdiff_delta_size(old, new)
    return zstd_delta_size(old, new, level)


def _section_delta(method: str, old: Content, new: Content, sd: _SectionDelta, level: int) -> int:
    """The delta of one kind of sections of a modified executable: the same method over the concatenated
    bytes of those sections in each file."""
    return _delta_size(method, _extents(old, sd.old), _extents(new, sd.new), level)


def _fresh_estimates(keys: Mapping[str, list[_Slot]], known: Mapping[str, int], plan: _Plan) -> dict[str, int]:
    """The estimates made by this run, by cache key."""
    fresh: dict[str, int] = {}
    for key, slots in keys.items():
        for slot in slots:
            value = plan.get(slot)
            if key not in known and value is not None:
                fresh[key] = value
    return fresh
