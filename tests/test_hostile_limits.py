"""Every limit trips on its bomb, is reported as a `limit` problem naming the member and its option, and
can be changed; overlapping ZIP entries are refused before anything is decompressed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.common import zip_bytes
from fixtures.hostile import deflate_zeros, zip_central, zip_end, zip_local
from inspector.limits import GiB, Limits
from inspector.model import NEST, Inventory
from inspector.walker import walk


def _bomb(built, name: str) -> Path:
    return next(p for p in built("hostile-bombs") if p.name == name)


def _limits(inv: Inventory) -> list:
    return [p for p in inv.problems if p.kind == "limit"]


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "inspector", "inventory", "--no-store", "--list", "none", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_classic_zip_bomb_stops_at_the_ratio_limit_after_the_floor(built) -> None:
    inv = walk(_bomb(built, "bomb.zip"))
    [p] = inv.problems
    assert (p.path, p.kind) == (f"bomb.zip{NEST}zeros.bin", "limit")
    assert "expands more than 1000x" in p.reason and "--max-ratio" in p.reason
    produced = int(p.reason.split("(")[1].split()[0])
    assert produced < 2 * Limits().ratio_floor_bytes  # stopped just past the floor, not at the 1 GiB end


@pytest.mark.parametrize("name", ["bomb.gz", "bomb.bz2", "bomb.xz", "bomb.zst", "bomb.tar.gz", "bomb.gz.gz"])
def test_compressed_bombs_stop_with_a_ratio_limit_naming_the_option(built, name: str) -> None:
    inv = walk(_bomb(built, name))
    limits = _limits(inv)
    assert limits and all("--max-ratio" in p.reason for p in limits)
    assert not inv.complete


def test_overlapping_zip_entries_are_refused_before_any_member_is_read(built) -> None:
    inv = walk(_bomb(built, "overlap-same.zip"))
    [p] = inv.problems
    assert p.path == "overlap-same.zip" and "overlapping ZIP entries (zip bomb?)" in p.reason
    assert len(inv.entries) == 1


def test_zip_entry_quoted_inside_another_entry_is_an_overlap(built) -> None:
    inv = walk(_bomb(built, "overlap-quoted.zip"))
    [p] = inv.problems
    assert "'b.bin' starts inside 'a.bin'" in p.reason


def test_nested_42_zip_is_stopped_by_the_image_wide_expansion_bound(built) -> None:
    inv = walk(_bomb(built, "42.zip"))
    [p] = _limits(inv)
    assert "across all layers" in p.reason and "walk stopped" in p.reason
    assert p.path.count(NEST) == 4  # it got to a leaf of the innermost level, and no further


def test_zip_containing_zips_named_like_itself_stops_at_the_depth_limit(built) -> None:
    inv = walk(_bomb(built, "r.zip"))
    [p] = inv.problems
    assert p.kind == "limit" and "--max-depth" in p.reason and p.path.count(NEST) == 16


def test_third_member_over_the_ratio_stops_the_whole_image(tmp_path: Path) -> None:
    data, usize, crc = deflate_zeros(5)
    local, central = bytearray(), bytearray()
    for i in range(5):
        name = f"bomb{i}.bin".encode()
        central += zip_central(name, csize=len(data), usize=usize, method=8, crc=crc, offset=len(local))
        local += zip_local(name, data, method=8, crc=crc, usize=usize)
    path = tmp_path / "five.zip"
    path.write_bytes(bytes(local + central + zip_end(5, len(central), len(local))))
    inv = walk(path)
    assert [p.path.rsplit(NEST, 1)[1] for p in inv.problems] == ["bomb0.bin", "bomb1.bin", "bomb2.bin"]
    assert "3 members expanded like this: walk stopped" in inv.problems[-1].reason
    assert f"five.zip{NEST}bomb3.bin" not in inv.by_path()


def test_timeout_stops_a_long_walk_with_a_limit_problem(built) -> None:
    inv = walk(_bomb(built, "bomb.gz"), Limits(timeout=0.01, max_ratio=1e12))
    [p] = inv.problems
    assert p.kind == "limit" and "timed out after 0.01 s (--timeout)" in p.reason


def test_member_count_limit_names_its_option(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"f{i}.txt": b"x" for i in range(10)}))
    inv = walk(path, Limits(max_members=3))
    [p] = inv.problems
    assert p.kind == "limit" and "more than 3 members (--max-members)" in p.reason


def test_member_size_limit_names_the_member_and_its_option(built) -> None:
    inv = walk(_bomb(built, "bomb.gz"), Limits(max_member_bytes=1024 * 1024))
    [p] = inv.problems
    assert p.path == f"bomb.gz{NEST}bomb" and "(--max-member-gib)" in p.reason


def test_total_bytes_limit_names_its_option(built) -> None:
    inv = walk(_bomb(built, "bomb.gz"), Limits(max_total_bytes=8 * 1024 * 1024, max_ratio=1e12))
    [p] = inv.problems
    assert "total unpacked bytes exceed 8388608 (--max-total-gib)" in p.reason


def test_name_length_limit_skips_the_member_and_names_its_option(tmp_path: Path) -> None:
    path = tmp_path / "long.zip"
    path.write_bytes(zip_bytes({"a" * 300: b"x", "short.txt": b"y"}))
    inv = walk(path, Limits(max_path_length=100))
    [p] = inv.problems
    assert p.kind == "limit" and "(--max-name-length)" in p.reason
    assert f"long.zip{NEST}short.txt" in inv.by_path()


def test_defaults_leave_room_for_a_dvd_sized_image() -> None:
    lim = Limits()
    assert lim.max_total_bytes >= 256 * GiB and lim.max_members >= 2_000_000
    assert lim.max_ratio >= 1000 and lim.ratio_floor_bytes == 64 * 1024 * 1024


@pytest.mark.parametrize(("option", "value", "expect"), [
    ("--max-ratio", "1e9", "total unpacked bytes exceed"),  # the ratio no longer stops it, the total does
    ("--max-member-gib", "0.01", "(--max-member-gib)"),
    ("--max-members", "1", "(--max-members)"),
    ("--max-name-length", "2", "(--max-name-length)"),
])
def test_cli_limit_options_change_what_trips(built, option: str, value: str, expect: str) -> None:
    res = _cli(_bomb(built, "bomb.tar.gz"), option, value, "--max-total-gib", "0.2")
    assert res.returncode == 3
    assert expect in res.stderr and "Traceback" not in res.stderr


def test_cli_timeout_option_stops_the_walk(built) -> None:
    res = _cli(_bomb(built, "bomb.gz"), "--timeout", "0.01", "--max-ratio", "1e9")
    assert res.returncode == 3 and "(--timeout)" in res.stderr
