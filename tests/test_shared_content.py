"""Content stored once for several members (a WIM's editions share most streams): read once, stored once.

A reader says which members hold the same bytes (``Member.content_key``); the walker reads the first and
gives the others its digest, type and executable analysis; the WIM reader gives a shared stream's stored
bytes to its first member only, so a container's stored size is what the file holds.
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from fixtures.executables import elf_image
from inspector.entrylog import EntryLog, make_row
from inspector.inventory import summarise
from inspector.model import EntryKind
from inspector.unpack.base import Member, SniffInfo, UnpackContext
from inspector.walker import Walker, walk
from tests.conftest import require_tool

MAGIC = b"SHARED-FIXTURE\n"


class _SharedHandler:
    """A toy format: the file starts with ``MAGIC``; its members are given by the test, each opened at most
    as often as the test counts."""

    name = "shared"
    needs_seekable = False

    def __init__(self, members: list[tuple[str, bytes, bytes | None, int]]) -> None:
        self.given = members  # (name, content, content_key, stored_size)
        self.opened: list[str] = []

    def match(self, info: SniffInfo) -> bool:
        return info.head.startswith(MAGIC)

    def members_of(self) -> Iterator[Member]:
        for name, content, key, stored in self.given:
            yield Member(name, EntryKind.FILE, size=len(content), stored_size=stored, content_key=key,
                         open=self._opener(name, content))

    def _opener(self, name: str, content: bytes) -> Any:
        def open_() -> BinaryIO:
            self.opened.append(name)
            return io.BytesIO(content)
        return open_

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        return self.members_of()


def _image(tmp_path: Path) -> Path:
    p = tmp_path / "image.shared"
    p.write_bytes(MAGIC)
    return p


def _files(inv: Any) -> dict[str, Any]:
    return {e.name: e for e in inv.entries if e.depth == 1}


def test_a_member_whose_content_was_read_before_is_not_read_again(tmp_path: Path) -> None:
    handler = _SharedHandler([("1/a.txt", b"alpha" * 100, b"k1", 40), ("2/a.txt", b"alpha" * 100, b"k1", 0)])
    Walker(handlers=[handler]).inventory(_image(tmp_path))
    assert handler.opened == ["1/a.txt"]


def test_a_twin_has_the_first_members_digest_size_and_type_and_its_own_stored_size(tmp_path: Path) -> None:
    handler = _SharedHandler([("1/a.txt", b"alpha" * 100, b"k1", 40), ("2/a.txt", b"alpha" * 100, b"k1", 0)])
    files = _files(Walker(handlers=[handler]).inventory(_image(tmp_path)))
    first, twin = files["1/a.txt"], files["2/a.txt"]
    assert (twin.sha256, twin.size, twin.detected) == (first.sha256, first.size, first.detected)
    assert (first.stored_size, twin.stored_size) == (40, 0)


def test_a_twin_of_an_executable_carries_its_section_analysis(tmp_path: Path) -> None:
    elf = elf_image(b"\x90" * 4000)
    handler = _SharedHandler([("1/x.o", elf, b"e", len(elf)), ("2/x.o", elf, b"e", 0)])
    files = _files(Walker(handlers=[handler]).inventory(_image(tmp_path)))
    assert files["1/x.o"].meta["binary"]["sections"]
    assert files["2/x.o"].meta["binary"] == files["1/x.o"].meta["binary"]


def test_members_with_different_keys_are_each_read(tmp_path: Path) -> None:
    handler = _SharedHandler([("a", b"same bytes", b"k1", 5), ("b", b"same bytes", b"k2", 5), ("c", b"x", None, 1)])
    Walker(handlers=[handler]).inventory(_image(tmp_path))
    assert handler.opened == ["a", "b", "c"]


def test_content_that_failed_is_read_again_and_reported_at_each_member(tmp_path: Path) -> None:
    handler = _SharedHandler([("1/a", b"alpha", b"k", 5), ("2/a", b"alpha", b"k", 0)])

    def broken(name: str, content: bytes) -> Any:
        def open_() -> BinaryIO:
            handler.opened.append(name)
            raise OSError("read error")
        return open_

    handler._opener = broken  # type: ignore[method-assign]
    inv = Walker(handlers=[handler]).inventory(_image(tmp_path))
    assert handler.opened == ["1/a", "2/a"]
    assert {p.path for p in inv.problems} == {"image.shared!/1/a", "image.shared!/2/a"}


def test_a_walk_with_a_capture_hook_reads_every_member(tmp_path: Path) -> None:
    handler = _SharedHandler([("1/a", b"alpha", b"k", 5), ("2/a", b"alpha", b"k", 0)])
    captured: list[str] = []

    def capture(logical: str, size: int | None) -> BinaryIO:
        captured.append(logical)
        return io.BytesIO()

    Walker(handlers=[handler], capture=capture).inventory(_image(tmp_path))
    assert handler.opened == ["1/a", "2/a"]
    assert captured == ["image.shared!/1/a", "image.shared!/2/a"]


# -- the entry log gives a finished entry back while the walk goes on ---------------------------------------
def _row(path: str) -> tuple[Any, ...]:
    return make_row(path, EntryKind.FILE, 3, 1, 3, "ab" * 32, "text", None, None, None, None, False, {"k": [1]})


@pytest.mark.parametrize("spill_after", [0, 1, 100])
def test_the_entry_log_gives_back_a_filled_slot_wherever_it_lives(spill_after: int) -> None:
    log = EntryLog(spill_after=spill_after)
    slots = [log.add_row(_row(f"f{i}")) for i in range(5)]
    reserved = log.reserve()
    assert [log.row_at(s)[0] for s in slots] == [f"f{i}" for i in range(5)]  # type: ignore[index]
    assert log.row_at(reserved) is None  # reserved, not filled yet
    log.fill_row(reserved, _row("late"))
    assert log.row_at(reserved)[0] == "late"  # type: ignore[index]
    assert log.row_at(slots[2])[12] == {"k": [1]}  # type: ignore[index]
    assert [e.path for e in log.freeze()] == ["f0", "f1", "f2", "f3", "f4", "late"]


# -- WIM: editions sharing streams ---------------------------------------------------------------------------
def _wim(built: Any, group: str, name: str) -> Path:
    return next(p for p in built(group) if p.name == name)


def _wim_files(inv: Any) -> list[Any]:
    return [e for e in inv.entries if e.depth == 1 and e.kind is EntryKind.FILE and "sha1" in e.meta]


@pytest.mark.parametrize(("group", "name"), [("wim", "multi-xpress.wim"), ("wim-solid", "install.esd")])
def test_a_stream_shared_by_editions_is_stored_by_its_first_file_only(built: Any, group: str, name: str) -> None:
    inv = walk(_wim(built, group, name))
    by_stream: dict[str, list[int]] = {}
    for e in _wim_files(inv):
        by_stream.setdefault(e.meta["sha1"], []).append(e.stored_size)
    shared = {sha1: stored for sha1, stored in by_stream.items() if len(stored) > 1}
    assert shared, "the fixture's editions share streams"
    for stored in by_stream.values():
        assert stored[0] > 0 and not any(stored[1:])


@pytest.mark.parametrize(("group", "name"), [("wim", "multi-xpress.wim"), ("wim-solid", "install.esd")])
def test_a_wim_containers_stored_size_is_at_most_its_streams_stored_bytes(built: Any, group: str, name: str) -> None:
    path = _wim(built, group, name)
    inv = walk(path)
    container = summarise(inv)[1][0]
    assert container.stored_size <= inv.root.meta["streams"]["stored_bytes"] < path.stat().st_size


@pytest.mark.parametrize(("group", "name"), [("wim", "multi-xpress.wim"), ("wim-solid", "install.esd")])
def test_each_stream_of_a_multi_edition_wim_is_decoded_once(built: Any, group: str, name: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector.unpack import wim

    checked: list[bytes] = []
    init = wim._Sha1Checked.__init__

    def counting(self: Any, inner: Any, expected: bytes) -> None:
        checked.append(expected)
        init(self, inner, expected)

    monkeypatch.setattr(wim._Sha1Checked, "__init__", counting)
    inv = walk(_wim(built, group, name))
    streams = {e.meta["sha1"] for e in _wim_files(inv)}
    opened = [sha1.hex() for sha1 in checked if sha1.hex() in streams]  # (a symlink's reparse data aside)
    assert sorted(opened) == sorted(streams)
    assert inv.complete


def test_the_files_of_a_second_edition_have_the_digests_of_their_content(built: Any) -> None:
    import hashlib

    from fixtures.microsoft import windows_tree

    inv = walk(_wim(built, "wim", "multi-xpress.wim"))
    truth = {f"2/{rel}": hashlib.sha256(data).hexdigest() for rel, data in windows_tree(1).items()}
    ours = {e.name: e.sha256 for e in inv.entries if e.depth == 1 and e.name in truth}
    assert ours == truth


# -- WIM: a split (spanned) set ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def split_wim(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    require_tool("wimlib-imagex")
    from fixtures.common import pseudo_random

    out = tmp_path_factory.mktemp("swm")
    src = out / "src"
    for i in range(60):
        (src / f"d{i % 6}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 6}" / f"f{i}.bin").write_bytes(pseudo_random(f"swm{i}", 40_000))
    wim = out / "all.wim"
    subprocess.run(["wimlib-imagex", "capture", str(src), str(wim), "--compress=none"], check=True,
                   capture_output=True)
    subprocess.run(["wimlib-imagex", "split", str(wim), str(out / "set.swm"), "1"], check=True, capture_output=True)
    return sorted(out.glob("set*.swm"))


def test_the_first_part_of_a_split_wim_says_once_how_many_files_are_elsewhere(split_wim: list[Path]) -> None:
    inv = walk(split_wim[0])
    assert len(split_wim) > 1
    without = [e for e in inv.entries if e.kind is EntryKind.FILE and e.depth == 1 and e.sha256 is None]
    assert without, "the first part lacks some streams"
    said = [p for p in inv.problems if "other parts" in p.reason]
    assert len(said) == 1 and f"{len(without):,} files" in said[0].reason
    assert len(inv.problems) <= 3


def test_a_later_part_of_a_split_wim_lists_its_streams_with_one_problem(split_wim: list[Path]) -> None:
    inv = walk(split_wim[1])
    streams = [e for e in inv.entries if e.depth == 1 and e.kind is EntryKind.FILE]
    assert streams and all(e.sha256 for e in streams)
    assert len(inv.problems) == 1 and "image trees are in part 1" in inv.problems[0].reason
