"""Broken partition tables: the problem names the partition, the rest of the disk is still read."""

from __future__ import annotations

from pathlib import Path

from fixtures.disk import BAD_DISK_FILES
from inspector.model import NEST
from inspector.walker import walk


def _img(built, name: str) -> Path:
    return next(p for p in built("disk-bad") if p.name == name)


def test_overlapping_partition_is_named_in_a_problem(built) -> None:
    img = _img(built, "overlap.img")
    inv = walk(img)
    lines = [p.line() for p in inv.problems]
    assert any(line.startswith(f"{img.name}{NEST}p2: partition overlaps p1") for line in lines)
    assert not inv.complete


def test_partitions_beside_an_overlap_are_still_read(built) -> None:
    img = _img(built, "overlap.img")
    paths = walk(img).by_path()
    for part in ("p1", "p3"):
        assert paths[f"{img.name}{NEST}{part}{NEST}readme.txt"].size == len(BAD_DISK_FILES["readme.txt"])


def test_partition_past_the_end_is_truncated_and_reported(built) -> None:
    img = _img(built, "pastend.img")
    inv = walk(img)
    p2 = inv.by_path()[f"{img.name}{NEST}p2"]
    assert p2.size == 2048 * 512 and p2.meta["truncated"] is True
    assert any(p.path == f"{img.name}{NEST}p2" and "past the end" in p.reason for p in inv.problems)


def test_partition_starting_past_the_end_is_reported_not_read(built) -> None:
    img = _img(built, "pastend.img")
    inv = walk(img)
    assert f"{img.name}{NEST}p3" not in inv.by_path()
    assert any(p.path == f"{img.name}{NEST}p3" and "starts at byte" in p.reason for p in inv.problems)
    assert inv.by_path()[f"{img.name}{NEST}p1{NEST}data.bin"].size == len(BAD_DISK_FILES["data.bin"])
