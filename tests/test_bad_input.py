"""Corrupt, truncated, encrypted and over-deep input: a one-line reason at the member's path, the rest is
still inventoried, the result is marked incomplete, and nothing is written outside our temp dir."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.model import NEST, Inventory, Problem
from inspector.walker import walk


def _bad(built, name: str) -> Path:
    return next(p for p in built("bad") if p.name == name)


def _problems_at(inv: Inventory, path: str) -> list[Problem]:
    return [p for p in inv.problems if p.path == path]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", "inventory", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


# -- each case: the reason at the member's path -------------------------------------------------------
def test_truncated_tar_gz_names_the_lost_member_and_keeps_the_one_before_it(built) -> None:
    inv = walk(_bad(built, "truncated.tar.gz"))
    tar = f"truncated.tar.gz{NEST}truncated.tar"
    [lost] = _problems_at(inv, f"{tar}{NEST}second.bin")
    assert "truncated or corrupt" in lost.reason and lost.kind == "error"
    assert inv.by_path()[f"{tar}{NEST}first.txt"].sha256 == _sha(b"first\n" * 20)
    assert not inv.complete


def test_truncated_iso_names_the_cut_file_and_still_reads_the_file_before_the_cut(built) -> None:
    inv = walk(_bad(built, "truncated.iso"))
    [cut] = _problems_at(inv, f"truncated.iso{NEST}big.bin")
    assert "truncated image" in cut.reason
    [image] = _problems_at(inv, "truncated.iso")
    assert "truncated image" in image.reason
    assert inv.by_path()[f"truncated.iso{NEST}a-small.txt"].sha256 == _sha(b"still readable\n")
    assert inv.by_path()[f"truncated.iso{NEST}big.bin"].sha256 is None
    assert not inv.complete


def test_corrupt_gzip_is_reported_at_its_payload(built) -> None:
    inv = walk(_bad(built, "corrupt.txt.gz"))
    [p] = inv.problems
    assert p.path == f"corrupt.txt.gz{NEST}corrupt.txt"
    assert "corrupt" in p.reason and p.kind == "error"
    assert inv.entries[1].sha256 is None  # no hash of content that could not be read
    assert not inv.complete


def test_zip_member_with_bad_crc_is_reported_and_its_neighbour_is_hashed(built) -> None:
    inv = walk(_bad(built, "bad-crc.zip"))
    [p] = inv.problems
    assert p.path == f"bad-crc.zip{NEST}bad.bin" and "CRC" in p.reason
    assert inv.by_path()[f"bad-crc.zip{NEST}good.txt"].sha256 == _sha(b"good\n" * 10)
    assert not inv.complete


def test_encrypted_zip_member_is_unsupported_not_an_error(built) -> None:
    inv = walk(_bad(built, "encrypted.zip"))
    [p] = inv.problems
    assert (p.path, p.kind) == (f"encrypted.zip{NEST}secret.txt", "unsupported")
    assert "encrypted" in p.reason
    assert not inv.complete


def test_over_deep_nest_stops_at_the_depth_limit_with_a_limit_problem(built) -> None:
    inv = walk(_bad(built, "deep.txt" + ".gz" * 20))
    [p] = inv.problems
    assert p.kind == "limit" and "16" in p.reason and "--max-depth" in p.reason
    assert p.path.count(NEST) == 16
    last = inv.by_path()[p.path]
    assert (last.container, last.opened, last.depth) == ("gzip", False, 16)
    assert last.sha256 is not None  # still hashed as a leaf
    assert not inv.complete


def test_random_file_is_a_complete_leaf(built) -> None:
    inv = walk(_bad(built, "random.bin"))
    assert (len(inv.entries), inv.root.detected, inv.complete) == (1, "data", True)


def test_empty_file_is_a_complete_empty_leaf(built) -> None:
    inv = walk(_bad(built, "empty.bin"))
    assert (inv.root.size, inv.root.detected, inv.root.sha256) == (0, "empty", _sha(b""))
    assert inv.complete


def test_every_problem_is_one_line_naming_a_path_in_the_inventory(built) -> None:
    inv = walk(_bad(built, "mixed.tar"))
    paths = set(inv.by_path())
    assert len(inv.problems) >= 5
    for p in inv.problems:
        assert "\n" not in p.line() and "Traceback" not in p.reason
        assert p.path in paths


def test_bad_members_inside_a_tar_do_not_stop_the_good_ones(built) -> None:
    inv = walk(_bad(built, "mixed.tar"))
    by = inv.by_path()
    assert by[f"mixed.tar{NEST}a-good-first.txt"].sha256 == _sha(b"good before\n")
    assert by[f"mixed.tar{NEST}z-good-last.txt"].sha256 == _sha(b"good after\n")
    kinds = {p.path.split(NEST)[1]: p.kind for p in inv.problems}
    assert kinds == {"bad-crc.zip": "error", "corrupt.txt.gz": "error", "encrypted.zip": "unsupported",
                     "truncated.tar.gz": "error", "deep.txt" + ".gz" * 20: "limit"}
    assert not inv.complete


# -- the CLI ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mixed.tar", "truncated.iso", "corrupt.txt.gz", "encrypted.zip"])
def test_cli_exits_3_for_an_incomplete_inventory_without_a_traceback(built, name: str) -> None:
    res = _cli(_bad(built, name), "--json")
    assert res.returncode == 3
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines and all(line.startswith("inspector: ") for line in lines)


def test_cli_strict_turns_incomplete_into_exit_2(built) -> None:
    assert _cli(_bad(built, "mixed.tar"), "--strict", "--list", "none").returncode == 2


def test_cli_exits_2_with_one_line_for_a_missing_file(tmp_path: Path) -> None:
    res = _cli(tmp_path / "no-such.iso")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "no-such.iso" in res.stderr


def test_cli_exits_0_for_an_empty_file(built) -> None:
    assert _cli(_bad(built, "empty.bin")).returncode == 0


def test_walk_writes_nothing_outside_its_temp_dir_and_leaves_the_input_unchanged(built, tmp_path: Path) -> None:
    image = _bad(built, "mixed.tar")
    before = _sha(image.read_bytes())
    tmpdir, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmpdir.mkdir()
    cwd.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    res = _cli(image, "--json", env=env, cwd=cwd)
    assert res.returncode == 3
    assert list(tmpdir.iterdir()) == []
    assert list(cwd.iterdir()) == []
    assert _sha(image.read_bytes()) == before
    assert sorted(p.name for p in image.parent.iterdir()) == sorted(p.name for p in built("bad"))
