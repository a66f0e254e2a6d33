"""Delta estimates: how many bytes a binary patch from the old to the new file would take.

The zstd estimate compresses the new file in the same window right after the old one, with long-distance
matching, and counts only the bytes produced for the new file. That is what ``zstd --patch-from`` does
(the old file as a raw-content prefix): python-zstandard does not expose ``ZSTD_CCtx_refPrefix``, and a
``ZstdCompressionDict(old, dict_type=DICT_TYPE_RAWCONTENT)`` only indexes the last 2^(hashLog+3) bytes
of a dictionary (1 MiB at level 3; measured: a one-byte change in a 40 MiB file gave a 40 MiB "delta"),
so the dictionary route is kept for small files only. bsdiff (``bsdiff4``, BSD licence) is the slower,
often tighter alternative; it holds both files in memory, so it stays under the same size bound.

Content reaches us through the walker's capture hook (``Walker(capture=fn)``) during one extra walk per
side, restricted to the files that need it: old files go to a private temporary directory, new files
stream straight into the estimator. Memory is bounded by the zstd window (twice the size bound at most).
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import zstandard

from inspector.diff.model import relative
from inspector.limits import Limits
from inspector.model import Entry
from inspector.store.config import StoreConfig
from inspector.walker import Walker

_CHUNK = 1024 * 1024
#: Below this old size a raw-content dictionary is indexed completely at any level.
_DICT_MAX = 1024 * 1024
METHODS = ("zstd", "bsdiff")


@dataclass(frozen=True)
class ContentPair:
    """Estimates made from both releases' content, keyed by logical path relative to the image.

    ``deltas`` maps (old relative path, new relative path) of a modified file to its delta estimate,
    ``compressed`` maps the relative path of an added file to its zstd-compressed size, ``notes`` maps
    a new (or old) relative path to the reason no estimate was made.
    """

    method: str
    deltas: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    compressed: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


# -- estimators ---------------------------------------------------------------------------------------

def _window_log(total: int) -> int:
    return min(max(math.ceil(math.log2(max(total, 1) + 1)) + 1, 10), 31)


class ZstdDeltaSink:
    """A writable sink: the new file's content is written in, ``finish()`` returns the estimate.

    With ``old`` (a path) the old content is first fed into the same compression window; only bytes
    produced for the new content are counted. Without it, the result is the new file's compressed size.
    """

    def __init__(self, old: Path | None, new_size_hint: int | None, level: int = 3) -> None:
        self.sha = hashlib.sha256()
        self.count = 0
        old_size = old.stat().st_size if old is not None else 0
        hint = new_size_hint if new_size_hint is not None else max(old_size, _CHUNK)
        if old is not None and old_size <= _DICT_MAX:
            d = zstandard.ZstdCompressionDict(old.read_bytes(), dict_type=zstandard.DICT_TYPE_RAWCONTENT)
            params = zstandard.ZstdCompressionParameters.from_level(level, window_log=_window_log(old_size + hint))
            self._c = zstandard.ZstdCompressor(dict_data=d, compression_params=params).compressobj()
            return
        if old is None:
            self._c = zstandard.ZstdCompressor(level=level).compressobj()
            return
        params = zstandard.ZstdCompressionParameters.from_level(
            level, window_log=_window_log(old_size + hint), enable_ldm=True)
        self._c = zstandard.ZstdCompressor(compression_params=params).compressobj()
        with open(old, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                self._c.compress(chunk)
        self._c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def write(self, data: Any) -> int:
        """Feed new content (what the walker copies while hashing)."""
        self.sha.update(data)
        self.count += len(self._c.compress(data))
        return len(data)

    def finish(self) -> int:
        """End the frame and return the compressed bytes attributable to the new content."""
        self.count += len(self._c.flush())
        return self.count


class BsdiffSink:
    """A writable sink that spools the new file, then sizes a bsdiff patch from the old one."""

    def __init__(self, old: Path | None, tmpdir: str, level: int = 3) -> None:
        self.sha = hashlib.sha256()
        self._old = old
        self._level = level
        fd, name = tempfile.mkstemp(dir=tmpdir)
        self._path = Path(name)
        self._fh = os.fdopen(fd, "wb")

    def write(self, data: Any) -> int:
        """Spool new content."""
        self.sha.update(data)
        return self._fh.write(data)

    def finish(self) -> int:
        """The bsdiff patch size (or, without an old file, the zstd-compressed size)."""
        self._fh.close()
        try:
            if self._old is None:
                return zstd_size(self._path, self._level)
            return bsdiff_delta_size(self._old, self._path)
        finally:
            self._path.unlink(missing_ok=True)


def _feed(sink: ZstdDeltaSink, src: bytes | Path) -> None:
    if isinstance(src, bytes):
        for i in range(0, len(src), _CHUNK):
            sink.write(src[i:i + _CHUNK])
        return
    with open(src, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sink.write(chunk)


def _as_path(data: bytes | Path, tmpdir: str, name: str) -> Path:
    if isinstance(data, Path):
        return data
    p = Path(tmpdir) / name
    p.write_bytes(data)
    return p


def zstd_delta_size(old: bytes | Path, new: bytes | Path, level: int = 3) -> int:
    """Estimated size of a zstd patch from ``old`` to ``new`` (contents or file paths)."""
    with tempfile.TemporaryDirectory(prefix="inspector-delta-") as tmp:
        sink = ZstdDeltaSink(_as_path(old, tmp, "old"), len(new) if isinstance(new, bytes) else new.stat().st_size,
                             level)
        _feed(sink, new)
        return sink.finish()


def zstd_size(data: bytes | Path, level: int = 3) -> int:
    """zstd-compressed size of ``data`` (content or a file path), streamed."""
    sink = ZstdDeltaSink(None, None, level)
    _feed(sink, data)
    return sink.finish()


def bsdiff_delta_size(old: bytes | Path, new: bytes | Path) -> int:
    """Size of a bsdiff patch (bsdiff4, BZ2-compressed) from ``old`` to ``new``; both are read into memory."""
    try:
        import bsdiff4
    except ImportError:
        raise RuntimeError("--delta-method bsdiff needs the bsdiff4 package (pip install bsdiff4)") from None
    o = old if isinstance(old, bytes) else old.read_bytes()
    n = new if isinstance(new, bytes) else new.read_bytes()
    return len(bsdiff4.diff(o, n))


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


@dataclass
class _NewCapture:
    """The new side's capture callback: one estimator active at a time, finished when the next starts."""

    wanted: dict[str, tuple[Path | None, str | None]]  # new rel path -> (old content file, expected sha)
    method: str
    level: int
    tmpdir: str
    results: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    _active: tuple[str, Any] | None = None

    def __call__(self, logical: str, size: int | None) -> Any:
        self.finish()
        rel = relative(logical)
        if rel not in self.wanted:
            return None
        old_file, _ = self.wanted[rel]
        sink: Any
        if self.method == "bsdiff":
            sink = BsdiffSink(old_file, self.tmpdir, self.level)
        else:
            sink = ZstdDeltaSink(old_file, size, self.level)
        self._active = (rel, sink)
        return sink

    def finish(self) -> None:
        if self._active is None:
            return
        rel, sink = self._active
        self._active = None
        try:
            estimate = sink.finish()
        except (OSError, RuntimeError, MemoryError, zstandard.ZstdError) as exc:
            self.notes[rel] = f"delta failed: {exc}"
            return
        finally:
            old_file = self.wanted[rel][0]
            if old_file is not None:
                old_file.unlink(missing_ok=True)
        if sink.sha.hexdigest() != self.wanted[rel][1]:
            self.notes[rel] = "content differs from the inventory (image changed?)"
            return
        self.results[rel] = estimate


def _key(method: str, level: int, old_sha: str, new_sha: str) -> str:
    return f"{method}:{level}:{old_sha}:{new_sha}"


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
) -> ContentPair:
    """Walk each image once more, capturing only the files that need an estimate, and estimate them.

    ``modified`` pairs (old entry, new entry) get a delta when both sizes are under ``max_bytes``;
    ``added`` entries get their zstd-compressed size. ``old_image`` may be None (no old content: modified
    files are then noted as skipped). Nothing but those files is ever written to disk, in a private
    temporary directory that is removed afterwards.
    """
    if method not in METHODS:
        raise ValueError(f"unknown delta method {method!r} (use {' or '.join(METHODS)})")
    modified = list(modified)
    notes: dict[str, str] = {}
    want_old: dict[str, tuple[str, str]] = {}  # old rel -> (new rel, expected sha)
    for o, n in modified:
        orel, nrel = relative(o.path), relative(n.path)
        if (o.size or 0) > max_bytes or (n.size or 0) > max_bytes:
            notes[nrel] = f"over the delta size bound ({max_bytes:,} bytes)"
        elif old_image is None:
            notes[nrel] = "no old content (saved inventory)"
        else:
            want_old[orel] = (nrel, o.sha256 or "")
    added_rel = {relative(n.path): n.sha256 for n in added}
    # Estimates depend only on the two contents: reuse those made before, walk only for the rest.
    cache = _EstimateCache.open(store)
    # cache key -> every (old rel, new rel) of a delta, or new rel, with those contents (copies share one)
    keys: dict[str, list[tuple[str, str] | str]] = defaultdict(list)
    for o, n in modified:
        orel, nrel = relative(o.path), relative(n.path)
        if orel in want_old and o.sha256 and n.sha256:
            keys[_key(method, level, o.sha256, n.sha256)].append((orel, nrel))
    for rel, sha in added_rel.items():
        if sha:
            keys[_key("zstd", level, "", sha)].append(rel)
    known = cache.get(keys) if cache else {}
    deltas: dict[tuple[str, str], int] = {}
    compressed: dict[str, int] = {}
    for key, size in known.items():
        for where in keys[key]:
            if isinstance(where, tuple):
                deltas[where] = size
                want_old.pop(where[0], None)
            else:
                compressed[where] = size
                added_rel.pop(where, None)
    pair_of: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="inspector-diff-") as tmp:
        os.chmod(tmp, 0o700)
        wanted_new: dict[str, tuple[Path | None, str | None]] = {rel: (None, sha) for rel, sha in added_rel.items()}
        if want_old and old_image is not None:
            files: dict[str, _HashingFile] = {}

            def capture_old(logical: str, size: int | None) -> Any:
                rel = relative(logical)
                if rel not in want_old or rel in files:
                    return None
                f = _HashingFile(Path(tmp) / f"old-{len(files)}")
                files[rel] = f
                return f

            Walker(limits, capture=capture_old).inventory(old_image)
            for orel, f in files.items():
                f.close()
                nrel, sha = want_old[orel]
                if f.sha.hexdigest() != sha:
                    notes[nrel] = "old content differs from the inventory (image changed?)"
                    f.path.unlink(missing_ok=True)
                    continue
                wanted_new[nrel] = (f.path, None)
                pair_of[nrel] = orel
            for orel, (nrel, _) in want_old.items():
                if orel not in files:
                    notes.setdefault(nrel, "old content not found on the second walk")
        # expected new hashes for modified files
        for _o, n in modified:
            nrel = relative(n.path)
            if nrel in wanted_new and nrel in pair_of:
                wanted_new[nrel] = (wanted_new[nrel][0], n.sha256)
        if wanted_new:
            cap = _NewCapture(wanted_new, method, level, tmp)
            try:
                Walker(limits, capture=cap).inventory(new_image)
            finally:
                cap.finish()
            for rel, size in cap.results.items():
                if rel in pair_of:
                    deltas[(pair_of[rel], rel)] = size
                else:
                    compressed[rel] = size
            notes.update(cap.notes)
            for rel in wanted_new:
                if rel not in cap.results and rel not in notes:
                    notes[rel] = "new content not found on the second walk"
    if cache:
        fresh: dict[str, int] = {}
        for key, places in keys.items():
            for w in places:
                value = deltas.get(w) if isinstance(w, tuple) else compressed.get(w)
                if key not in known and value is not None:
                    fresh[key] = value
        cache.put(fresh)
    return ContentPair(method, MappingProxyType(deltas), MappingProxyType(compressed), MappingProxyType(notes))
