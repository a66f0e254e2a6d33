"""The two expensive steps of a series, each through one function that fans out over processes.

``walk_releases`` reads every release file (walks it, or loads a saved inventory) and reduces it to
``ReleaseFacts``; ``diff_pairs`` runs the diff engine on consecutive full images. Both take ``jobs``:
1 runs in this process, more uses a process pool (results come back in input order either way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from inspector.limits import Limits, WalkError
from inspector.series.model import PairChurn, ReleaseFacts
from inspector.store import StoreConfig

T = TypeVar("T")
R = TypeVar("R")


class ReleaseError(Exception):
    """A release file could not be read at all; the message is one line for the user."""


def _facts_task(args: tuple[Path, Limits | None, str | None, StoreConfig | None]) -> ReleaseFacts | str:
    from inspector.series.facts import release_facts
    from inspector.sources import load_inventory

    path, limits, profile_ref, store = args
    try:
        profile = None
        if profile_ref is not None:
            from inspector.footprint import load_profile

            profile = load_profile(profile_ref)
        return release_facts(load_inventory(path, limits, store=store), profile, path)
    except (WalkError, ValueError, OSError) as exc:
        return str(exc) or f"{path}: unreadable"


def _diff_task(args: tuple[Path, Path, Limits | None, StoreConfig | None]) -> PairChurn | str:
    from inspector.series.churn import churn_between_images

    old, new, limits, store = args
    try:
        return churn_between_images(old, new, limits, store)
    except (WalkError, ValueError, OSError) as exc:
        return f"diff {old.name} -> {new.name}: {exc}"


#: Called once per item done (a release walked, a pair diffed), for a progress bar.
StepDone = Callable[[], None]


def _nothing() -> None:
    pass


def fan_out(fn: Callable[[T], R], items: Sequence[T], jobs: int, done: StepDone | None = None) -> list[R]:
    """``[fn(x) for x in items]``, over ``jobs`` worker processes when ``jobs > 1``; ``done()`` after each."""
    done = done or _nothing
    if jobs <= 1 or len(items) <= 1:
        out = []
        for x in items:
            out.append(fn(x))
            done()
        return out
    with ProcessPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = [pool.submit(fn, x) for x in items]
        for _ in as_completed(futures):
            done()
        return [f.result() for f in futures]


def walk_releases(paths: Sequence[Path], jobs: int = 1, limits: Limits | None = None,
                  profile: str | None = None, store: StoreConfig | None = None,
                  done: StepDone | None = None) -> list[ReleaseFacts]:
    """Facts of every release file, in the order given. Raises ``ReleaseError`` if one cannot be read.

    ``profile`` is a footprint profile name or file (per-category sizes); it is loaded in each worker.
    """
    results: list[Any] = fan_out(_facts_task, [(p, limits, profile, store) for p in paths], jobs, done)
    for r in results:
        if isinstance(r, str):
            raise ReleaseError(r)
    return results


def diff_pairs(pairs: Sequence[tuple[Path, Path]], jobs: int = 1, limits: Limits | None = None,
               store: StoreConfig | None = None, done: StepDone | None = None) -> list[PairChurn]:
    """The diff engine's churn for each (old, new) pair of release files, in the order given."""
    results: list[Any] = fan_out(_diff_task, [(a, b, limits, store) for a, b in pairs], jobs, done)
    for r in results:
        if isinstance(r, str):
            raise ReleaseError(r)
    return results
