"""GPT disks: names, type GUIDs, inclusive last LBA, unknown partitions and gaps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fixtures.disk import GPT_DISK_SECTORS, GPT_MYSTERY, GPT_PARTS, SECTOR
from inspector.model import NEST
from inspector.walker import walk
from tests.conftest import require_tool


def _img(built) -> Path:
    return built("gpt-disk")[0]


def _parts(inv) -> dict:
    return {e.name: e for e in inv.entries if e.parent == inv.root.path}


def test_partitions_match_sfdisk_json_names_and_type_guids(built) -> None:
    require_tool("sfdisk")
    img = _img(built)
    table = json.loads(subprocess.run(["sfdisk", "-J", str(img)], capture_output=True, check=True).stdout)
    expected = {
        "p" + p["node"].rsplit("img", 1)[1]: (p["start"] * SECTOR, p["size"] * SECTOR, p["type"], p["name"])
        for p in table["partitiontable"]["partitions"]
    }
    got = {n: (e.meta["partition"]["start"], e.size, e.meta["partition"]["type"], e.meta["partition"]["name"])
           for n, e in _parts(walk(img)).items()}
    assert got == expected


def test_partition_number_is_entry_index_plus_one(built) -> None:
    assert sorted(_parts(walk(_img(built)))) == ["p1", "p2", "p4"]


def test_last_lba_is_inclusive(built) -> None:
    p2 = _parts(walk(_img(built)))["p2"].meta["partition"]
    assert p2["last_lba"] - p2["first_lba"] + 1 == 69632 == p2["sectors"]


def test_dissect_volume_is_one_sector_short_and_we_are_not(built) -> None:
    disk = pytest.importorskip("dissect.volume.disk")
    with open(_img(built), "rb") as fh:
        theirs = {p.offset: p.size for p in disk.Disk(fh).partitions}
    ours = {e.meta["partition"]["start"]: e.size for e in _parts(walk(_img(built))).values()}
    assert set(ours) == set(theirs)
    assert all(ours[o] == theirs[o] + SECTOR for o in ours)


def test_sizes_match_7zip(built) -> None:
    tool = "7zz" if subprocess.run(["which", "7zz"], capture_output=True).returncode == 0 else "7z"
    require_tool(tool)
    out = subprocess.run([tool, "l", "-slt", str(_img(built))], capture_output=True, text=True, check=True).stdout
    sizes = sorted(int(line.split(" = ")[1]) for line in out.splitlines() if line.startswith("Size = "))
    assert sizes == sorted(e.size for e in _parts(walk(_img(built))).values())


def test_unknown_type_partition_is_a_member_with_its_size(built) -> None:
    img = _img(built)
    p4 = _parts(walk(img))["p4"]
    assert p4.meta["partition"]["type_name"] == "unknown"
    assert p4.meta["label"] == "mystery"
    assert p4.size == 4096 * SECTOR and p4.container is None


def test_gpt_metadata_and_unallocated_gaps(built) -> None:
    meta = walk(_img(built)).root.meta
    assert meta["scheme"] == "gpt" and meta["disk_guid"] == "01234567-89AB-CDEF-0123-456789ABCDEF"
    table = (1 + 1 + 32) + (32 + 1)  # protective MBR, header, 128x128-byte entries; backup array + header
    parts = sum(size for _n, _g, _s, size, _name, _b in GPT_PARTS)
    assert meta["unallocated_bytes"] == (GPT_DISK_SECTORS - parts - table) * SECTOR
    assert {"start": 10240 * SECTOR, "size": 2048 * SECTOR} in meta["gaps"]


def test_fat_volumes_in_gpt_partitions_open(built) -> None:
    inv = walk(_img(built))
    parts = _parts(inv)
    assert (parts["p1"].meta["fat_type"], parts["p1"].meta["label"]) == ("FAT16", "ESP")
    assert (parts["p2"].meta["fat_type"], parts["p2"].meta["label"]) == ("FAT32", "DATA32")
    assert parts["p2"].meta["partition"]["name"] == "BOOTBANK1"
    assert f"{inv.root.path}{NEST}p1{NEST}EFI/BOOT/grub.cfg" in inv.by_path()


def test_unknown_partition_content_is_hashed(built) -> None:
    import hashlib
    p4 = _parts(walk(_img(built)))["p4"]
    content = GPT_MYSTERY + bytes(4096 * SECTOR - len(GPT_MYSTERY))
    assert p4.sha256 == hashlib.sha256(content).hexdigest()
