"""Crashes found by fuzzing (fuzz/run.py), kept as regression tests."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from inspector import walker
from inspector.walker import walk


def test_gzip_fname_with_newline_and_c1_control_stays_one_line(built) -> None:
    inv = walk(next(p for p in built("hostile-names") if p.name == "fname.gz"))
    payload = inv.entries[1].path
    assert payload == "fname.gz!/evil\\x0aname\\x85.txt"
    [p] = inv.problems
    assert len(p.line().splitlines()) == 1


class _LazyFuture(Future):
    """A hash job the pool has not started yet: runs only when its result is asked for."""

    def __init__(self, fn: Any, *args: Any) -> None:
        super().__init__()
        self._job = (fn, args)

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            fn, args = self._job
            self.set_result(fn(*args))
        return super().result(timeout)


class _IdlePool:
    def __init__(self, *_: Any, **__: Any) -> None:
        pass

    def submit(self, fn: Any, *args: Any) -> Future:
        return _LazyFuture(fn, *args)

    def shutdown(self, wait: bool = True) -> None:
        pass


def test_image_hash_not_started_when_its_reader_fails_is_still_computed(built, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under load the background hash of the image may not have started when the reader gives up;
    # cancelling it then made Walker.inventory raise CancelledError (found fuzzing ESXi depots).
    monkeypatch.setattr(walker, "ThreadPoolExecutor", _IdlePool)
    inv = walk(next(p for p in built("hostile-bombs") if p.name == "overlap-same.zip"))
    assert inv.root.sha256 is not None and "overlapping ZIP entries" in inv.problems[0].reason
