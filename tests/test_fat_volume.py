"""FAT volumes: file lists, contents, names, dates and space figures against mtools, 7-Zip, dissect.fat."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from fixtures.common import EPOCH
from fixtures.disk import SECTOR, gpt_all_files, mkfat
from inspector.model import NEST, EntryKind
from inspector.streams import RangeReader
from inspector.walker import walk
from tests.conftest import require_tool

P2_OFFSET = 12288 * SECTOR  # FAT32 partition of gpt-disk
P1_OFFSET = 2048 * SECTOR  # FAT16 partition of gpt-disk


def _members(inv, prefix: str) -> dict:
    n = len(prefix)
    return {e.path[n:]: e for e in inv.entries if e.path.startswith(prefix) and NEST not in e.path[n:]}


def _fat32(built):
    img = built("gpt-disk")[0]
    inv = walk(img)
    return img, inv, _members(inv, f"{img.name}{NEST}p2{NEST}")


def _mtools_paths(target: str) -> dict[str, bool]:
    out = subprocess.run(["mdir", "-/", "-b", "-i", target, "::"], capture_output=True, check=True,
                         env={"LC_ALL": "C.UTF-8", "MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}).stdout
    lines = out.decode().splitlines()
    return {line[3:].rstrip("/"): line.endswith("/") for line in lines if line.startswith("::/")}


def test_file_list_matches_mdir(built) -> None:
    require_tool("mdir")
    img, _inv, members = _fat32(built)
    theirs = _mtools_paths(f"{img}@@{P2_OFFSET}")
    ours = {p: e.kind is EntryKind.DIR for p, e in members.items()}
    assert ours == theirs


def test_contents_match_mcopy_and_the_fixture_definition(built) -> None:
    require_tool("mcopy")
    img, _inv, members = _fat32(built)
    expected = gpt_all_files()[2]
    for path, data in expected.items():
        out = subprocess.run(["mcopy", "-n", "-i", f"{img}@@{P2_OFFSET}", f"::/{path}", "-"], capture_output=True,
                             check=True, env={"LC_ALL": "C.UTF-8", "MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"})
        assert out.stdout == data
        assert members[path].sha256 == hashlib.sha256(data).hexdigest()
        assert members[path].size == len(data)


def test_long_unicode_names_come_from_vfat_entries(built) -> None:
    _img, _inv, members = _fat32(built)
    assert "Ünïcödé ñame.bin" in members
    assert members["A long file name with spaces.txt"].meta["short_name"].endswith(".TXT")


def test_short_names_follow_the_nt_lowercase_flags(built) -> None:
    _img, _inv, members = _fat32(built)
    assert "boot.cfg" in members and "UPPER.TXT" in members


def test_deleted_entries_and_dot_entries_are_skipped(built) -> None:
    _img, _inv, members = _fat32(built)
    assert not any(p.rsplit("/", 1)[-1] in (".", "..") or "hole" in p.lower() for p in members)


def test_fragmented_file_reads_back_whole(built) -> None:
    _img, _inv, members = _fat32(built)
    assert members["dir1/after.bin"].sha256 == hashlib.sha256(gpt_all_files()[2]["dir1/after.bin"]).hexdigest()


def test_mtimes_come_from_dos_date_and_time(built) -> None:
    _img, _inv, members = _fat32(built)
    assert {e.mtime for e in members.values()} == {float(EPOCH)}


def test_free_bytes_match_7zip(built) -> None:
    tool = "7zz" if subprocess.run(["which", "7zz"], capture_output=True).returncode == 0 else "7z"
    require_tool(tool)
    img, inv, _members_ = _fat32(built)
    part = img.parent / "p1-for-7z.img"
    with open(img, "rb") as fh:
        fh.seek(P1_OFFSET)
        part.write_bytes(fh.read(8192 * SECTOR))
    out = subprocess.run([tool, "l", str(part)], capture_output=True, text=True, check=True).stdout
    free = next(int(line.split(" = ")[1]) for line in out.splitlines() if line.startswith("Free Space = "))
    p1 = inv.by_path()[f"{img.name}{NEST}p1"]
    assert p1.meta["free_bytes"] == free
    assert p1.meta["used_bytes"] + p1.meta["free_bytes"] == p1.meta["clusters"] * p1.meta["cluster_size"]


def test_listing_matches_dissect_fat(built) -> None:
    fat = pytest.importorskip("dissect.fat.fat")
    img, _inv, members = _fat32(built)
    theirs: dict[str, tuple[bool, int]] = {}
    with open(img, "rb") as fh:
        fs = fat.FATFS(RangeReader(fh, P2_OFFSET, 69632 * SECTOR))

        def walk_dir(d, prefix: str) -> None:
            for e in d.iterdir():
                if e.name in (".", "..") or e.is_volume_id():
                    continue
                path = prefix + e.name
                theirs[path.lower()] = (e.is_directory(), 0 if e.is_directory() else e.size)
                if e.is_directory():
                    walk_dir(e, path + "/")

        walk_dir(fs.root, "")
    ours = {p.lower(): (e.kind is EntryKind.DIR, e.size or 0) for p, e in members.items()}
    assert ours == theirs


def test_bare_fat_image_opens(tmp_path: Path) -> None:
    require_tool("mkfs.fat", "mcopy")
    img = tmp_path / "floppy.img"
    img.write_bytes(bytes(1440 * 1024))
    mkfat(img, 0, 2880, "FLOPPY", 12)
    subprocess.run(["mcopy", "-i", str(img), "-", "::/hello.txt"], input=b"hi\n", check=True,
                   env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"})
    inv = walk(img)
    assert inv.root.container == "fat" and inv.root.meta["fat_type"] == "FAT12"
    assert inv.root.meta["label"] == "FLOPPY"
    assert inv.by_path()[f"{img.name}{NEST}hello.txt"].size == 3
