"""MBR disks: the ESXi-3.5-style dd (primary 4, extended 1, logical 5-8) read like sfdisk reads it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fixtures.disk import ESXI_DISK_SECTORS, ESXI_EBRS, ESXI_PARTS, SECTOR, mkfat
from inspector.model import NEST, EntryKind
from inspector.unpack.base import SniffInfo
from inspector.unpack.disk import DiskHandler
from inspector.walker import walk
from tests.conftest import require_tool


def _dd(built) -> Path:
    return next(p for p in built("esxi35-dd") if p.suffix == ".dd")


def _partitions(inv) -> dict[str, object]:
    root = inv.root.path
    return {e.name: e for e in inv.entries if e.parent == root}


def test_partitions_match_sfdisk_json(built) -> None:
    require_tool("sfdisk")
    dd = _dd(built)
    table = json.loads(subprocess.run(["sfdisk", "-J", str(dd)], capture_output=True, check=True).stdout)
    expected = {
        "p" + p["node"].rsplit("dd", 1)[1]: (p["start"] * SECTOR, p["size"] * SECTOR, int(p["type"], 16))
        for p in table["partitiontable"]["partitions"]
    }
    parts = _partitions(walk(dd))
    got = {name: (e.meta["partition"]["start"], e.meta["partition"]["size"], int(e.meta["partition"]["type"], 16))
           for name, e in parts.items()}
    assert got == expected


def test_logical_partitions_are_numbered_from_five_like_linux(built) -> None:
    parts = _partitions(walk(_dd(built)))
    assert sorted(parts) == ["p1", "p4", "p5", "p6", "p7", "p8"]
    assert parts["p5"].meta["partition"]["first_lba"] == 4384


def test_extended_partition_is_listed_but_holds_no_content(built) -> None:
    p1 = _partitions(walk(_dd(built)))["p1"]
    assert p1.kind is EntryKind.OTHER
    assert p1.meta["partition"]["extended"] is True
    assert not p1.is_leaf_file


def test_fat16_partitions_open_with_their_volume_labels(built) -> None:
    parts = _partitions(walk(_dd(built)))
    labels = {name: e.meta.get("label") for name, e in parts.items() if e.container == "fat"}
    assert labels == {"p4": "BOOT", "p5": "Hypervisor1", "p6": "Hypervisor2", "p8": "Hypervisor3"}
    assert {parts[n].meta["fat_type"] for n in labels} == {"FAT16"}
    assert parts["p4"].meta["partition"]["bootable"] is True


def test_vmkcore_partition_is_reported_as_data_with_its_size(built) -> None:
    p7 = _partitions(walk(_dd(built)))["p7"]
    assert p7.container is None and p7.detected == "data"
    assert p7.size == 14048 * SECTOR
    assert p7.meta["partition"]["type_name"] == "VMware VMKCORE"


def test_unallocated_space_is_exact(built) -> None:
    meta = walk(_dd(built)).root.meta
    data = [p for p in ESXI_PARTS if p.type != "5"]
    table_sectors = 1 + len(ESXI_EBRS)
    expected = (ESXI_DISK_SECTORS - sum(p.size for p in data) - table_sectors) * SECTOR
    assert meta["unallocated_bytes"] == expected
    assert meta["table_bytes"] == table_sectors * SECTOR
    assert meta["partitioned_bytes"] + meta["table_bytes"] + meta["unallocated_bytes"] == meta["disk_size"]
    assert meta["gaps"][0] == {"start": SECTOR, "size": 31 * SECTOR}
    assert meta["gaps"][-1] == {"start": 119040 * SECTOR, "size": (ESXI_DISK_SECTORS - 119040) * SECTOR}
    assert sum(g["size"] for g in meta["gaps"]) == expected


def test_matches_dissect_volume_offsets_and_sizes(built) -> None:
    disk = pytest.importorskip("dissect.volume.disk")
    with open(_dd(built), "rb") as fh:
        theirs = {(p.offset, p.size) for p in disk.Disk(fh).partitions if p.type not in (5, 0x0F)}
    ours = {(e.meta["partition"]["start"], e.size) for e in _partitions(walk(_dd(built))).values()
            if e.kind is EntryKind.FILE}
    assert ours == theirs


def test_bare_fat_volume_is_not_taken_for_an_mbr(tmp_path: Path) -> None:
    require_tool("mkfs.fat")
    img = tmp_path / "bare.img"
    img.write_bytes(bytes(4 * 1024 * 1024))
    mkfat(img, 0, 8192, "BARE", 12, 4)
    head = img.read_bytes()[:65536]
    assert not DiskHandler().match(SniffInfo(head=head, name="bare.img", size=len(head)))
    assert walk(img).root.container == "fat"


def test_partition_content_is_the_byte_range_of_the_disk(built) -> None:
    dd = _dd(built)
    inv = walk(dd)
    p4 = inv.by_path()[f"{dd.name}{NEST}p4"]
    import hashlib
    with open(dd, "rb") as fh:
        fh.seek(32 * SECTOR)
        assert p4.sha256 == hashlib.sha256(fh.read(4320 * SECTOR)).hexdigest()
