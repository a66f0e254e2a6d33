"""SeenNames: exact "seen before?" answers for a container's member names, compact past its exact part."""

from __future__ import annotations

import io
import tarfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import inspector.seennames as seennames
from inspector.seennames import SeenNames
from inspector.walker import Walker


def test_a_new_name_is_not_a_duplicate() -> None:
    names = SeenNames()
    assert names.remember("a/b") is False
    assert "a/b" in names


def test_a_name_seen_before_is_a_duplicate() -> None:
    names = SeenNames()
    names.remember("a/b")
    assert names.remember("a/b") is True
    assert len(names) == 1


@pytest.mark.parametrize("exact", [0, 1, 5])
def test_names_past_the_exact_part_are_answered_exactly(exact: int) -> None:
    names = SeenNames(exact=exact)
    for i in range(5000):
        assert names.remember(f"dir/file{i}") is False
    for i in range(5000):
        assert f"dir/file{i}" in names
        assert names.remember(f"dir/file{i}") is True
    assert "dir/file5000" not in names
    assert len(names) == 5000


def test_names_with_surrogates_and_non_ascii_are_kept_as_they_are() -> None:
    names = SeenNames(exact=0)
    odd = ["caf\u00e9", "bad\udcff byte", "\u65e5\u672c", ""]
    for name in odd:
        assert names.remember(name) is False
    for name in odd:
        assert names.remember(name) is True
    assert "bad\udcfe byte" not in names


def test_equal_hashes_of_different_names_are_not_taken_for_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seennames, "_key", lambda name: 42)  # every name collides
    names = SeenNames(exact=0)
    assert names.remember("one") is False
    assert names.remember("two") is False
    assert names.remember("one") is True
    assert "three" not in names


def test_names_written_to_the_file_are_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seennames, "_WRITE_BATCH", 64)  # records reach the file after a few names
    names = SeenNames(exact=2)
    for i in range(300):
        names.remember(f"n{i}")
    assert all(f"n{i}" in names for i in range(300))
    names.close()
    assert "n1" not in names


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=200), st.integers(min_value=0, max_value=20))
def test_answers_are_those_of_a_set(sequence: list[str], exact: int) -> None:
    names, reference = SeenNames(exact=exact), set()
    for name in sequence:
        assert names.remember(name) is (name in reference)
        reference.add(name)
    assert len(names) == len(reference)


def _held(make: object, count: int) -> int:
    """Bytes still allocated after remembering ``count`` names made on the fly (their strings then dropped)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        names = make()  # type: ignore[operator]
        for i in range(count):
            names.add(f"usr/share/doc/package{i:07d}/changelog.Debian.gz")
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_memory_past_the_exact_part_is_a_fraction_of_a_set_of_the_names() -> None:
    compact = _held(lambda: SeenNames(exact=0), 60_000)
    plain = _held(set, 60_000)
    assert compact * 2 < plain


def _tar_with_duplicates(path: Path, members: int, duplicates: list[int]) -> None:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in [*range(members), *duplicates]:
            info = tarfile.TarInfo(f"d/f{i}")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))


def test_walker_warns_of_duplicates_past_the_exact_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seennames, "EXACT_NAMES", 10)
    image = tmp_path / "dups.tar"
    _tar_with_duplicates(image, 50, [3, 40])
    inv = Walker().inventory(image)
    dups = sorted(p.path for p in inv.problems if "duplicate member name" in p.reason)
    assert dups == ["dups.tar!/d/f3", "dups.tar!/d/f40"]
    assert sum(1 for e in inv.entries if e.depth == 1) == 52


def test_tar_hard_link_to_an_earlier_member_past_the_exact_part_is_accepted(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seennames, "EXACT_NAMES", 10)
    image = tmp_path / "links.tar"
    with tarfile.open(image, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(40):
            info = tarfile.TarInfo(f"f{i}")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        for target in ("f3", "f35", "missing"):
            link = tarfile.TarInfo(f"link-to-{target}")
            link.type = tarfile.LNKTYPE
            link.linkname = target
            tar.addfile(link)
    inv = Walker().inventory(image)
    reasons = [p.reason for p in inv.problems]
    assert not any("'f3'" in r or "'f35'" in r for r in reasons)  # before and after the names were handed over
    assert any("'missing'" in r and "not an earlier member" in r for r in reasons)


def test_bounded_keeps_a_small_set_as_it_is() -> None:
    names = {"a", "b"}
    assert seennames.bounded(names) is names


def test_bounded_hands_a_full_set_to_seen_names_that_still_knows_its_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seennames, "EXACT_NAMES", 3)
    held = seennames.bounded({"a", "b", "c"})
    assert isinstance(held, SeenNames)
    assert "a" in held
    assert held.remember("d") is False
    assert held.remember("d") is True
