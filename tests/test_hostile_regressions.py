"""Crashes found by fuzzing (fuzz/run.py), kept as regression tests."""

from __future__ import annotations

import threading
import time

import pytest

from inspector import walker
from inspector.walker import walk


def test_gzip_fname_with_newline_and_c1_control_stays_one_line(built) -> None:
    inv = walk(next(p for p in built("hostile-names") if p.name == "fname.gz"))
    payload = inv.entries[1].path
    assert payload == "fname.gz!/evil\\x0aname\\x85.txt"
    [p] = inv.problems
    assert len(p.line().splitlines()) == 1


class _LateThread(threading.Thread):
    """A hashing thread that starts only after a while (a loaded machine): the reader has given up by then."""

    def run(self) -> None:
        time.sleep(0.3)
        super().run()


def test_image_hash_not_started_when_its_reader_fails_is_still_computed(built, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under load the background hash of the image may not have started when the reader gives up;
    # cancelling it then made Walker.inventory raise CancelledError (found fuzzing ESXi depots).
    monkeypatch.setattr(walker.threading, "Thread", _LateThread)
    inv = walk(next(p for p in built("hostile-bombs") if p.name == "overlap-same.zip"))
    assert inv.root.sha256 is not None and "overlapping ZIP entries" in inv.problems[0].reason
