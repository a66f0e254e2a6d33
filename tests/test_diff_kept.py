"""A small pair's leaf contents are kept while it is first walked: its delta estimates need no second walk,
and come out exactly as a second walk would make them."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fixtures.common import pseudo_random
from inspector.diff import diff_images
from inspector.diff.delta import KeptContent, Stored, collect_contents
from inspector.diff.engine import delta_candidates, load_sides
from inspector.diff.pairing import pair_inventories
from inspector.store import StoreConfig
from inspector.walker import Walker
from tests.conftest import count_walks, made_dirs

NO_STORE = StoreConfig(None)


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", "off")


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture()
def releases(tmp_path: Path) -> tuple[Path, Path]:
    """Two releases: a modified executable (code and data differ), a modified and an added data file."""
    true, false = (Path(shutil.which(name) or f"/bin/{name}") for name in ("true", "false"))
    old = {"bin/tool": true.read_bytes(), "lib/data.bin": pseudo_random("kept-old", 300_000),
           "doc/notes": b"one\n"}
    new = {"bin/tool": false.read_bytes(), "lib/data.bin": pseudo_random("kept-old", 300_000)[:-10] + b"0123456789",
           "doc/notes": b"one\n", "doc/added": pseudo_random("kept-added", 50_000)}
    return _tar(tmp_path / "r1.tar", old), _tar(tmp_path / "r2.tar", new)


def _contents(old: Path, new: Path, keep: int):  # type: ignore[no-untyped-def]
    o, n = load_sides(old, new, store=NO_STORE, keep=keep)
    modified, added = delta_candidates(pair_inventories(o.inventory, n.inventory))
    try:
        return collect_contents(o.image, n.image, modified, added, store=NO_STORE, kept=(o.kept, n.kept))
    finally:
        for k in (o.kept, n.kept):
            if k is not None:
                k.close()


def test_a_small_pair_is_walked_once_per_side(releases: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    walked = count_walks(monkeypatch)
    r = diff_images(*releases)
    assert sorted(walked) == sorted(str(p) for p in releases)
    assert r.totals.delta_skipped == 0 and r.totals.delta_bytes > 0


def test_estimates_from_kept_content_equal_those_of_a_second_walk(releases: tuple[Path, Path]) -> None:
    kept, walked = _contents(*releases, keep=64 << 20), _contents(*releases, keep=0)
    assert kept == walked
    assert set(kept.deltas) == {("bin/tool", "bin/tool"), ("lib/data.bin", "lib/data.bin")}
    assert set(kept.compressed) == {"doc/added"}
    assert ("bin/tool", "bin/tool") in kept.code_deltas and not kept.notes


def test_files_over_the_kept_size_are_read_by_a_second_walk(releases: tuple[Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    walked = count_walks(monkeypatch)
    contents = _contents(*releases, keep=100_000)  # lib/data.bin (300,000 bytes) is not kept
    assert len(walked) == 4
    assert contents == _contents(*releases, keep=0)



def test_estimates_from_kept_content_make_no_temporary_directory(releases: tuple[Path, Path],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    made = made_dirs(monkeypatch)
    contents = _contents(*releases, keep=64 << 20)
    assert made == []
    assert contents.deltas and not contents.notes


def test_the_second_walks_spool_into_a_private_directory_removed_afterwards(releases: tuple[Path, Path],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    made = made_dirs(monkeypatch)
    _contents(*releases, keep=0)
    assert len(made) == 1 and not Path(made[0]).exists()


def test_kept_content_keeps_the_first_occurrence_of_a_path_within_its_bounds() -> None:
    kept = KeptContent(max_file=10, budget=12)
    try:
        def sha(data: bytes) -> str:
            return hashlib.sha256(data).hexdigest()

        for logical, data in (("img!/a", b"first"), ("img!/a", b"again"), ("img!/big", b"x" * 11),
                              ("img!/b", b"12345678"), ("img!/c", b"c")):
            sink = kept(logical, None)
            if sink is not None:
                sink.write(data)
                sink.done(sha(data))  # as the walker says once it has hashed the content

        first = kept.get("a", sha(b"first"))
        assert first is not None and first.read() == b"first"
        assert kept.get("a", sha(b"again")) is None  # a later copy of the path is not the kept one
        assert kept.get("big", sha(b"x" * 11)) is None  # over max_file
        assert kept.get("b", sha(b"12345678")) is None  # 5 + 8 bytes would be over the budget
        assert kept.get("c", sha(b"c")) is not None
    finally:
        kept.close()



def test_kept_content_is_recorded_under_the_walkers_digest_only_once_written_whole() -> None:
    kept = KeptContent(max_file=100)
    try:
        broken = kept("img!/broken", None)
        assert broken is not None
        broken.write(b"half of it")  # the walk failed here: done() never comes
        whole = kept("img!/whole", None)
        assert whole is not None
        whole.write(b"all of it")
        whole.done(hashlib.sha256(b"all of it").hexdigest())
        assert kept.get("broken", hashlib.sha256(b"half of it").hexdigest()) is None
        stored = kept.get("whole", hashlib.sha256(b"all of it").hexdigest())
        assert stored is not None and stored.read() == b"all of it"
    finally:
        kept.close()


def test_a_walk_tells_each_kept_file_its_digest(releases: tuple[Path, Path]) -> None:
    old, _ = releases
    kept = KeptContent(64 << 20)
    try:
        inv = Walker(capture=kept).inventory(old)
        leaves = [e for e in inv.entries if e.is_leaf_file]
        assert leaves
        for e in leaves:
            stored = kept.get(e.path.partition("!/")[2], e.sha256)
            assert stored is not None and hashlib.sha256(stored.read()).hexdigest() == e.sha256
    finally:
        kept.close()


def test_kept_content_that_is_not_the_inventoried_content_is_read_again(releases: tuple[Path, Path]) -> None:
    old, new = releases
    o, n = load_sides(old, new, store=NO_STORE)
    modified, added = delta_candidates(pair_inventories(o.inventory, n.inventory))
    wrong = KeptContent(64 << 20)  # filled from another image: nothing in it has the inventoried digests
    try:
        Walker(capture=wrong).inventory(old)
        got = collect_contents(old, new, modified, added, store=NO_STORE, kept=(wrong, wrong))
    finally:
        wrong.close()
    assert got == _contents(old, new, keep=0)


def test_problems_of_both_sides_are_reported_when_content_is_kept(tmp_path: Path) -> None:
    def broken(name: str, payload: bytes) -> Path:
        good = _tar(tmp_path / f"{name}.inner", {"a": payload})
        data = good.read_bytes()
        path = tmp_path / f"{name}.tar"
        path.write_bytes(data[:700])  # the member's content is cut short
        return path

    r = diff_images(broken("old", pseudo_random("p-old", 4_000)), broken("new", pseudo_random("p-new", 4_000)))
    assert {p.side for p in r.problems} == {"old", "new"}



class _Recorded:
    """A stand-in for the estimates' thread pool: records the tasks in the order they are submitted, and
    runs them when the first result is asked for, in that order or (``reverse``) last submitted first."""

    submitted: list[Any] = []

    def __init__(self, max_workers: int, reverse: bool = False) -> None:
        self.reverse = reverse
        self.tasks: list[tuple[Any, tuple[Any, ...]]] = []
        self.results: dict[int, Any] = {}

    def __enter__(self) -> _Recorded:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, fn: Any, *args: Any) -> Any:
        index = len(self.tasks)
        self.tasks.append((fn, args))
        type(self).submitted.append(args[0])
        pool = self

        class Result:
            def result(self) -> Any:
                if not pool.results:
                    order = range(len(pool.tasks))
                    for i in reversed(order) if pool.reverse else order:
                        task, task_args = pool.tasks[i]
                        pool.results[i] = task(*task_args)
                return pool.results[index]

        return Result()


def test_the_estimates_are_the_same_whatever_order_they_are_made_in(releases: tuple[Path, Path],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector.diff import delta

    usual = _contents(*releases, keep=64 << 20)
    monkeypatch.setattr(delta, "ThreadPoolExecutor", lambda max_workers: _Recorded(max_workers, reverse=True))
    assert _contents(*releases, keep=64 << 20) == usual
    assert usual.code_deltas and usual.data_deltas and usual.compressed


def test_the_longest_estimates_are_started_first(releases: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    from inspector.diff import delta

    _Recorded.submitted = []
    monkeypatch.setattr(delta, "ThreadPoolExecutor", _Recorded)
    _contents(*releases, keep=64 << 20)

    def reads(task: Any) -> int:  # the bytes an estimate reads
        if task.func is delta._section_delta:
            sections = task.args[3]
            return sum(n for _, n in sections.old) + sum(n for _, n in sections.new)
        if task.func is delta._delta_size:
            return delta._size(task.args[1]) + delta._size(task.args[2])
        return delta._size(task.args[0])  # an added file's compressed size

    sizes = [reads(task) for task in _Recorded.submitted]
    assert len(sizes) == 5  # two modified files, the code and data deltas of one, an added file
    assert sizes == sorted(sizes, reverse=True)


def _keep(kept: KeptContent, logical: str, *pieces: bytes, done: bool = True) -> None:
    """Copy ``pieces`` into ``kept`` as the walker does with a leaf, and say it was read whole (``done``)."""
    sink = kept(logical, None)
    assert sink is not None
    for piece in pieces:
        sink.write(piece)
    if done:
        sink.done(hashlib.sha256(b"".join(pieces)).hexdigest())


def _kept(kept: KeptContent, rel: str, data: bytes) -> Stored:
    stored = kept.get(rel, hashlib.sha256(data).hexdigest())
    assert stored is not None and stored.read() == data and stored.read(2, 3) == data[2:5]
    return stored


def test_kept_content_is_held_in_memory_up_to_its_bound_and_spooled_past_it() -> None:
    kept = KeptContent(max_file=100, in_memory=10)
    try:
        _keep(kept, "img!/a", b"aaaaaa")
        _keep(kept, "img!/b", b"bbbb", b"bbbb")  # crosses the bound in its second piece: all of it spooled
        _keep(kept, "img!/c", b"ccc")
        _keep(kept, "img!/d", b"dd")  # 6 + 3 held: one byte too many
        assert _kept(kept, "a", b"aaaaaa").data is not None
        assert _kept(kept, "b", b"bbbbbbbb").data is None
        assert _kept(kept, "c", b"ccc").data is not None
        assert _kept(kept, "d", b"dd").data is None
    finally:
        kept.close()


def test_a_file_not_read_whole_gives_its_memory_back() -> None:
    kept = KeptContent(max_file=100, in_memory=10)
    try:
        _keep(kept, "img!/broken", b"12345678", done=False)
        _keep(kept, "img!/whole", b"abcdefgh")
        assert kept.get("broken", hashlib.sha256(b"12345678").hexdigest()) is None
        assert _kept(kept, "whole", b"abcdefgh").data is not None
    finally:
        kept.close()

