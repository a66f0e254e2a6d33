"""Headers that lie (round 2 of the hostile corpus): every lie is reported, none accepted in silence.

Each case is built by ``fixtures/hostile.py`` (builder ``hostile-lies``). A lie that costs content makes
the result incomplete; one that only misstates metadata is a mismatch or a warning; good members stay.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from inspector import exitcodes
from inspector.limits import Limits
from inspector.model import EntryKind, Inventory, ProblemKind
from inspector.walker import walk


@pytest.fixture(scope="module")
def lies(built) -> dict[str, Path]:
    return {p.name: p for p in built("hostile-lies")}


def _walk(lies: dict[str, Path], name: str, limits: Limits | None = None) -> Inventory:
    return walk(lies[name], limits)


def _kinds(inv: Inventory) -> set[ProblemKind]:
    return {p.kind for p in inv.problems}


def test_zstd_frame_declaring_a_2_gib_window_is_a_limit_problem_not_decoded(lies) -> None:
    inv = _walk(lies, "window.zst")
    [p] = inv.problems
    assert p.kind is ProblemKind.LIMIT and "2,147,483,648-byte window" in p.reason and "--max-window-mib" in p.reason
    assert p.limit == "max_window_bytes" and not inv.complete


def test_zstd_window_within_a_raised_limit_is_decoded(lies) -> None:
    inv = _walk(lies, "window.zst", Limits(max_window_bytes=2 << 30))
    assert inv.complete and inv.entries[1].size == 1000


def test_xz_stream_declaring_a_1_5_gib_dictionary_is_a_limit_problem(lies) -> None:
    inv = _walk(lies, "dictionary.xz")
    [p] = inv.problems
    assert p.kind is ProblemKind.LIMIT and "1,610,612,736-byte LZMA2 dictionary" in p.reason


def test_decoder_memory_bombs_stay_far_below_their_declared_window(lies, tmp_path: Path) -> None:
    def cap() -> None:  # 1 GiB of address space: a 2 GiB window could never be allocated under it
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    for name in ("window.zst", "dictionary.xz"):
        res = subprocess.run([sys.executable, "-m", "inspector", "inventory", str(lies[name]), "--no-store",
                              "--list", "none"], capture_output=True, text=True, preexec_fn=cap, cwd=tmp_path,
                             timeout=120)
        assert res.returncode == exitcodes.INCOMPLETE, res.stderr
        assert res.stderr.count("\n") == 1 and "decoder memory limit" in res.stderr


def test_zip64_extra_field_declaring_2_63_bytes_for_1000_is_a_mismatch(lies) -> None:
    inv = _walk(lies, "zip64-lie.zip")
    [p] = inv.problems
    assert p.kind is ProblemKind.MISMATCH and p.path.endswith("!/liar.bin")
    assert "9,223,372,036,854,775,808" in p.reason and "1,000" in p.reason
    assert inv.entries[1].size == 1000 and inv.entries[1].sha256 is not None


def test_zip_names_flagged_utf8_but_invalid_keep_every_member(lies) -> None:
    from fixtures.hostile import BAD_UTF8_MEMBERS

    inv = _walk(lies, "names-bad-utf8.zip")
    names = [e.name for e in inv.entries[1:]]
    assert names == ["good-before.txt", "bad-\\xff\\xfe-name.txt", "caf\u00e9.txt", "truncated-\\xe2\\x82.txt",
                     "good-after.txt"]
    assert len(names) == len(BAD_UTF8_MEMBERS) and all(e.sha256 for e in inv.entries[1:])


def test_zip_invalid_utf8_name_keeps_its_stored_bytes_in_meta_and_is_flagged(lies) -> None:
    inv = _walk(lies, "names-bad-utf8.zip")
    bad = next(e for e in inv.entries if e.name.startswith("bad-"))
    assert bytes.fromhex(bad.meta["raw_name"]) == b"bad-\xff\xfe-name.txt"
    assert any(p.path == bad.path and p.kind is ProblemKind.WARNING for p in inv.problems)
    assert inv.complete


def test_mbr_partitions_starting_at_sector_0_are_reported_and_not_reopened(lies) -> None:
    inv = _walk(lies, "mbr-whole-disk.img")
    starts = [p for p in inv.problems if "starts at sector 0" in p.reason]
    assert [p.path.rsplit("!/", 1)[1] for p in starts] == ["p1", "p2", "p3", "p4"]
    assert all(p.kind is ProblemKind.MISMATCH for p in starts)
    # 6 overlaps, 4 starts and one line for the four copies of the disk found inside it: never a flood
    assert len(inv.problems) <= 11 and not inv.complete
    assert all(e.depth <= 1 for e in inv.entries)


def test_gpt_partitions_that_are_the_whole_disk_give_a_handful_of_lines(lies) -> None:
    inv = _walk(lies, "gpt-whole-disk.img")
    assert len(inv.problems) <= 7 and all(e.depth <= 1 for e in inv.entries)
    assert {p.path.rsplit("!/", 1)[-1] for p in inv.problems if "starts at sector 0" in p.reason} == {"p1", "p2"}


def test_fat_long_name_with_a_lone_surrogate_is_escaped_and_its_sibling_kept(lies) -> None:
    inv = _walk(lies, "fat-lone-surrogate.img")
    names = sorted(e.name for e in inv.entries[1:])
    assert names == ["\\ud800urrogate-victim-long-name.txt", "sibling-long-name.txt"]
    [p] = inv.problems
    assert p.kind is ProblemKind.WARNING and "lone UTF-16 surrogates" in p.reason


@pytest.mark.parametrize(("name", "field"), [("fat-zero-bps.img", "bytes per sector 0"),
                                             ("fat-zero-spc.img", "sectors per cluster 0")])
def test_fat_boot_sector_with_impossible_geometry_is_reported_unreadable(lies, name: str, field: str) -> None:
    inv = _walk(lies, name)
    [p] = inv.problems
    assert p.kind is ProblemKind.ERROR and p.reason == f"FAT volume unreadable: invalid {field}"
    assert inv.root.container == "fat" and not inv.complete


def test_partition_typed_fat_without_a_fat_boot_sector_is_reported(lies) -> None:
    inv = _walk(lies, "mbr-fat-garbage.img")
    [p] = inv.problems
    assert p.path.endswith("!/p1") and p.kind is ProblemKind.ERROR
    assert "typed FAT16 (0x06)" in p.reason and "bytes per sector 1" in p.reason
    part = inv.entries[1]
    assert part.kind is EntryKind.FILE and part.meta["unreadable"] is True and part.sha256 is not None
