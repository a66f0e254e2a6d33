"""Where inventories come from: a walk of the image, the inventory store, or an inventory saved earlier.

Every command that takes "an image" (inventory, diff, series, footprint) goes through ``load_inventory``
(or ``load_many`` for several), so portable ``.inv`` files, saved JSON inventories and the store are
accepted everywhere an image is:

* ``.inv`` (``inspector inventory IMAGE -o x.inv``) and JSON (``--json``) inventories are read as they are;
* an image already in the store (same content, same walking code and limits) is read from it;
* anything else is walked, and the result written to the store for next time.

``walk_many`` walks several images at once in a process pool; each worker sends back the portable bytes
(small, and picklable where ``Inventory`` is not), which the parent alone writes to the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import queue
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector import portable
from inspector.entrylog import EntryLog, with_first
from inspector.limits import Limits, WalkError
from inspector.model import NEST, Entry, Inventory, ProblemKind
from inspector.serialize import inventory_from_dict
from inspector.store.config import StoreConfig, engine_key
from inspector.walker import CaptureFn, ProgressFn, Walker

if TYPE_CHECKING:
    import multiprocessing.context

    from inspector.store.db import ImageStat

log = logging.getLogger("inspector.store")

#: ``progress(image_index, bytes_done, bytes_total)`` for walks of several images.
ManyProgressFn = Callable[[int, int, int], None]


# -- one image ------------------------------------------------------------------------------------------
def is_saved_inventory(path: Path) -> bool:
    """True for a JSON inventory written by ``inspector inventory --json``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"schema": "inspector.inventory"' in head


def is_inventory_file(path: Path) -> bool:
    """True for a portable ``.inv`` or a saved JSON inventory (read, never walked)."""
    return portable.is_portable(path) or is_saved_inventory(path)


def read_inventory_file(path: Path) -> Inventory:
    """Read a portable or JSON inventory; ``WalkError`` with a one-line reason if it is damaged."""
    if portable.is_portable(path):
        return portable.read(path)
    try:
        return inventory_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise WalkError(f"{path}: not a readable inventory ({exc})") from None


def load_inventory(
    path: Path,
    limits: Limits | None = None,
    progress: ProgressFn | None = None,
    store: StoreConfig | None = None,
) -> Inventory:
    """The inventory of ``path``: read it if it is an inventory file or stored, else walk (and store) it.

    ``store`` defaults to the configuration from the environment (on, in the user's cache). Raises
    ``WalkError`` when the file cannot be opened at all. A store that cannot be used is skipped with a
    warning: it is a cache, never a reason to fail.
    """
    path = Path(path)
    if is_inventory_file(path):
        return read_inventory_file(path)
    cfg = store if store is not None else StoreConfig.resolve()
    if not cfg.enabled:
        return Walker(limits, progress=progress).inventory(path)
    engine = engine_key(limits)
    if not cfg.refresh:
        cached = _lookup(cfg, path, engine)
        if cached is not None:
            return cached
    from inspector.store.db import ImageStat  # here: with --no-store, sqlite and the store are never imported

    try:
        image = ImageStat.of(path)
    except OSError:
        image = None  # the walker reports why it cannot open it
    inv = Walker(limits, progress=progress).inventory(path)
    if image is not None and storable(inv):
        save_inventory(cfg, inv, engine, image)
    return inv


def _lookup(cfg: StoreConfig, path: Path, engine: str) -> Inventory | None:
    try:
        from inspector.store.db import InventoryStore

        with InventoryStore(cfg.path) as st:  # type: ignore[arg-type]
            data = st.lookup(path, engine)
    except OSError:
        return None  # missing or unreadable image: the walk says why
    except Exception as exc:  # noqa: BLE001 - a broken cache must never fail a command
        log.warning("inspector: warning: inventory store not used (%s)", exc)
        return None
    if data is None:
        return None
    try:
        return rebase(portable.decode(data), path)
    except WalkError as exc:
        log.warning("inspector: warning: stored inventory unreadable, walking again (%s)", exc)
        return None


def storable(inv: Inventory) -> bool:
    """Whether a walk's result may be kept: the image was hashed whole and the walk was not cut by time."""
    if len(inv.entries) == 0 or inv.root.sha256 is None:
        return False
    return not any(p.kind is ProblemKind.LIMIT and p.limit == "timeout" for p in inv.problems)


def save_inventory(cfg: StoreConfig, inv: Inventory, engine: str, image: ImageStat | None) -> bool:
    """Write a walked inventory to the store entry by entry (best effort: a failure is a warning); True if stored.

    The portable bytes go through an anonymous temporary file, so neither the entries nor the encoded
    inventory need to be in memory at once, however many entries the image holds.
    """
    if not cfg.enabled:
        return False
    try:
        with tempfile.TemporaryFile(prefix="inspector-store-") as spool:
            header = portable.encode_to(inv, spool)
            length = spool.tell()
            spool.seek(0)
            from inspector.store.db import InventoryStore

            with InventoryStore(cfg.path) as st:  # type: ignore[arg-type]
                st.put_file(spool, length, engine=engine, **_stored_fields(header), image=image)
        return True
    except Exception as exc:  # noqa: BLE001 - a broken cache must never fail a command
        log.warning("inspector: warning: inventory not stored (%s)", exc)
        return False


def _stored_fields(header: dict[str, Any]) -> dict[str, Any]:
    """The store's columns for an inventory, from its portable header."""
    return {
        "sha256": header["root_sha256"],
        "image_size": int(header["totals"]["download_size"]),
        "source": str(header["source"]),
        "entries": int(header["entries"]),
        "unpacked_size": int(header["totals"]["unpacked_size"]),
        "complete": bool(header["complete"]),
    }


def save(cfg: StoreConfig, data: bytes, engine: str, image: ImageStat | None) -> bool:
    """Write portable inventory bytes to the store (best effort: a failure is a warning); True if stored."""
    if not cfg.enabled:
        return False
    header = portable.read_header(data)
    try:
        from inspector.store.db import InventoryStore

        with InventoryStore(cfg.path) as st:  # type: ignore[arg-type]
            st.put(data, engine=engine, **_stored_fields(header), image=image)
        return True
    except Exception as exc:  # noqa: BLE001 - a broken cache must never fail a command
        log.warning("inspector: warning: inventory not stored (%s)", exc)
        return False


def rebase(inv: Inventory, path: Path) -> Inventory:
    """``inv`` as if walked from ``path``: the same content may have been stored under another file name.

    The root entry's name, mode and mtime are those of the file at ``path``; everything inside is content.
    """
    old_root = inv.root.path
    new_root = Path(path).name
    cut = len(old_root)

    def moved(p: str) -> str:
        return new_root + p[cut:] if p == old_root or p.startswith(old_root + NEST) else p

    root = inv.root.__dict__.copy()
    root["path"] = new_root
    with contextlib.suppress(OSError):
        st = os.stat(path)
        root["mode"], root["mtime"] = stat.S_IMODE(st.st_mode), st.st_mtime
    if old_root == new_root:
        return Inventory(str(path), with_first(_clone(inv.root, root), inv.entries), inv.problems)
    log = EntryLog()  # every path changes: the renamed entries go where a walk's would (on disk if many)
    log.fill(log.reserve(), _clone(inv.root, root))
    for e in inv.entries[1:]:
        d = e.__dict__.copy()
        d["path"] = moved(e.path)
        log.fill(log.reserve(), _clone(e, d))
    problems = tuple(dataclasses.replace(p, path=moved(p.path)) for p in inv.problems)
    return Inventory(str(path), log.freeze(), problems)


def _clone(entry: Entry, fields: dict[str, Any]) -> Entry:
    """A copy of a frozen entry with ``fields`` (cheaper than ``dataclasses.replace`` for 200k entries)."""
    clone = object.__new__(type(entry))
    clone.__dict__.update(fields)
    return clone


# -- several images -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Walked:
    """One image walked (possibly in another process or on another machine), as portable bytes."""

    path: str
    data: bytes
    image: ImageStat
    seconds: float
    storable: bool


def walk_encoded(path: str, limits: Limits | None = None, progress: Any = None, index: int = 0,
                 capture: CaptureFn | None = None) -> Walked:
    """Walk one image and return its portable inventory; runs in pool workers and on cluster workers.

    ``progress`` is an optional queue that receives ``(index, done, total)`` tuples a few times a second;
    ``capture`` is the walker's capture hook (in this process only). Raises ``WalkError`` when the image
    cannot be opened at all.
    """
    from inspector.store.db import ImageStat

    t0 = time.monotonic()
    try:
        image = ImageStat.of(Path(path))
    except OSError as exc:
        raise _cannot_open(path, exc) from None
    inv = _walk(path, limits, progress, index, capture)
    return Walked(path=str(path), data=portable.encode(inv), image=image, seconds=time.monotonic() - t0,
                  storable=storable(inv))


def _cannot_open(path: str, exc: OSError) -> WalkError:
    return WalkError(f"{path}: cannot open ({exc.strerror or exc})")


def _walk_here(path: str, limits: Limits | None, progress: Any, index: int, capture: CaptureFn | None
               ) -> Inventory:
    """``walk_encoded``'s walk without the encoding: the inventory itself (for this process only)."""
    try:
        os.stat(path)
    except OSError as exc:
        raise _cannot_open(path, exc) from None  # the message walk_encoded gives
    return _walk(path, limits, progress, index, capture)


def _walk(path: str, limits: Limits | None, progress: Any, index: int, capture: CaptureFn | None) -> Inventory:
    """Walk one image, reporting progress to the queue ``progress`` as ``walk_encoded`` says."""
    cb: ProgressFn | None = None
    if progress is not None:
        last = [0.0]

        def cb(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.2 or done >= total:
                last[0] = now
                progress.put((index, done, total))

    return Walker(limits, progress=cb, capture=capture).inventory(path)


def default_jobs() -> int:
    """Worker processes used when ``--jobs`` is not given: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    import multiprocessing  # only for walks in a pool: not at start-up

    # forkserver: children start from a clean single-threaded server, so a parent with threads (progress
    # bars, hashing threads) cannot hand them a held lock; spawn where forkserver does not exist.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def walk_many(
    paths: Sequence[Path],
    limits: Limits | None = None,
    jobs: int | None = None,
    progress: ManyProgressFn | None = None,
    captures: Sequence[CaptureFn | None] | None = None,
) -> Iterator[tuple[int, Walked | WalkError]]:
    """Walk images in a process pool, yielding ``(index, Walked or WalkError)`` as each one finishes.

    With one job or one image everything runs in this process (no pool start-up cost); only then may
    ``captures`` give each walk a capture hook (``ValueError`` otherwise: a hook cannot cross processes).
    """
    jobs = jobs or default_jobs()
    if _walks_here(jobs, len(paths)):
        for i, p in enumerate(paths):
            local = _CallbackQueue(progress) if progress is not None else None
            try:
                yield i, walk_encoded(str(p), limits, local, i, captures[i] if captures else None)
            except WalkError as exc:
                yield i, exc
        return
    if captures and any(c is not None for c in captures):
        raise ValueError("capture hooks need the walks in this process (one job or one image)")
    from concurrent.futures import ProcessPoolExecutor

    ctx = _pool_context()
    manager = ctx.Manager() if progress is not None else None
    try:
        q = manager.Queue() if manager is not None else None
        with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=ctx) as pool:
            futures: dict[Future[Walked], int] = {
                pool.submit(walk_encoded, str(p), limits, q, i): i for i, p in enumerate(paths)
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(q, progress)
                for fut in done:
                    yield futures[fut], _outcome(fut, paths[futures[fut]])
            _drain(q, progress)
    finally:
        if manager is not None:
            manager.shutdown()


def _walks_here(jobs: int | None, count: int) -> bool:
    """Whether ``count`` images are walked in this process, one after the other (one job or one image)."""
    return (jobs or default_jobs()) <= 1 or count <= 1


def _outcome(fut: Future[Walked], path: Path) -> Walked | WalkError:
    try:
        return fut.result()
    except WalkError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a worker that died (out of memory, killed) is one image's error
        return WalkError(f"{path}: walk failed ({type(exc).__name__}: {exc})")


class _CallbackQueue:
    """Queue-like adapter so in-process walks report progress like pool workers do."""

    def __init__(self, fn: ManyProgressFn) -> None:
        self._fn = fn

    def put(self, item: tuple[int, int, int]) -> None:
        self._fn(*item)


def _drain(q: Any, progress: ManyProgressFn | None) -> None:
    if q is None or progress is None:
        return
    while True:
        try:
            item = q.get_nowait()
        except (queue.Empty, EOFError, OSError):
            return
        progress(*item)


def load_many(
    paths: Sequence[Path],
    limits: Limits | None = None,
    jobs: int | None = None,
    store: StoreConfig | None = None,
    progress: ManyProgressFn | None = None,
    captures: Sequence[CaptureFn | None] | None = None,
) -> list[Inventory]:
    """Inventories of several images (in order), walking those not stored in ``jobs`` processes at once.

    Inventory files are read, stored images loaded, and the rest walked in parallel and stored; an image
    that is walked gets its hook from ``captures`` (walks in this process only, see ``walk_many``). Raises
    the ``WalkError`` of the first image (in argument order) that could not be opened at all.
    """
    cfg = store if store is not None else StoreConfig.resolve()
    engine = engine_key(limits) if cfg.enabled else ""  # hashes the walking code's source: only for the store
    results: list[Inventory | WalkError | None] = [None] * len(paths)
    todo: list[int] = []
    for i, p in enumerate(paths):
        p = Path(p)
        try:
            if is_inventory_file(p):
                results[i] = read_inventory_file(p)
                continue
        except WalkError as exc:
            results[i] = exc
            continue
        if cfg.enabled and not cfg.refresh:
            results[i] = _lookup(cfg, p, engine)
        if results[i] is None:
            todo.append(i)
    if todo and not cfg.enabled and _walks_here(jobs, len(todo)):
        # Nothing to store: the walks' own inventories are used (a portable encoding round trip is exact,
        # tests/test_portable_format.py, so it would only cost time).
        for i in todo:
            local = _CallbackQueue(progress) if progress is not None else None
            try:
                results[i] = rebase(_walk_here(str(paths[i]), limits, local, i,
                                               captures[i] if captures else None), Path(paths[i]))
            except WalkError as exc:
                results[i] = exc
    elif todo:
        sub_progress = (lambda k, d, t: progress(todo[k], d, t)) if progress is not None else None
        hooks = [captures[i] for i in todo] if captures else None
        for k, outcome in walk_many([Path(paths[i]) for i in todo], limits, jobs, sub_progress, hooks):
            i = todo[k]
            if isinstance(outcome, WalkError):
                results[i] = outcome
                continue
            inv = portable.decode(outcome.data)
            if outcome.storable:
                save(cfg, outcome.data, engine, outcome.image)
            results[i] = rebase(inv, Path(paths[i]))
    for i, r in enumerate(results):
        if isinstance(r, WalkError):
            r.source_index = i
            raise r
    return [r for r in results if isinstance(r, Inventory)]
