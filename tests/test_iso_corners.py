"""ISO 9660 corners read from the directory records themselves: multi-extent files, zisofs, Rock Ridge
devices, hard links, continuation areas, relocated deep directories, ISO 9660:1999 names, odd Joliet
names and extents past the end of the image. Each is cross-checked with xorriso, bsdtar, isoinfo or 7-Zip
where that tool reads it."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from fixtures.optical import (
    FLOOD_DIRS,
    FLOOD_RECORDS,
    LARGE_FILE_SIZE,
    LONG_LINK_TARGET,
    LONG_RR_NAME,
    OUT_OF_BOUNDS_FLOOD,
    RR_FILES,
    ZISOFS2_FILES,
    multi_extent_content,
    text_content,
)
from inspector.inventory import totals
from inspector.model import NEST, EntryKind, Inventory, ProblemKind
from inspector.unpack.iso9660_walk import MAX_NAMED_PROBLEMS, MAX_RECORDS_PER_EXTENT
from inspector.walker import walk
from tests.conftest import require_tool

_LSDL = re.compile(r"^(\S)\S{9}\s+\d+\s+\S+\s+\S+\s+(\d+|\d+,\d+)\s+\w+\s+\d+\s+\d+\s+'(.*?)'(?: -> '(.*)')?$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fixture(built, fixture: str, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built(fixture) if p.name == name)


def _xorriso(iso: Path) -> dict[str, tuple[str, str, str | None]]:
    """path -> (type letter, size or ``major,minor``, link target) from ``xorriso -find / -exec lsdl``."""
    out = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/", "-exec", "lsdl", "--"],
                         capture_output=True, text=True, check=True).stdout
    listing = {}
    for line in out.splitlines():
        m = _LSDL.match(line)
        if m and m.group(3) != "/":
            listing[m.group(3).lstrip("/")] = (m.group(1), m.group(2), m.group(4))
    return listing


def _ours_as_xorriso(inv: Inventory, container: str) -> dict[str, tuple[str, str, str | None]]:
    """Our direct members in xorriso's terms: a hard link is a file of its target's size."""
    by = inv.by_path()
    out = {}
    for e in inv.entries:
        if e.parent != container:
            continue
        if e.kind is EntryKind.DIR:
            out[e.name] = ("d", "0", None)
        elif e.kind is EntryKind.SYMLINK:
            out[e.name] = ("l", "0", e.link_target)
        elif e.kind is EntryKind.DEVICE:
            out[e.name] = ("c" if e.meta["device"] == "char" else "b", f"{e.meta['major']},{e.meta['minor']}", None)
        elif e.kind is EntryKind.HARDLINK:
            out[e.name] = ("-", str(by[f"{container}{NEST}{e.link_target}"].size), None)
        else:
            out[e.name] = ("-", str(e.size), None)
    return out


def _xorriso_extract(iso: Path, member: str, tmp_path: Path) -> bytes:
    out = tmp_path / "extracted"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/" + member, str(out)],
                   capture_output=True, check=True)
    data = out.read_bytes()
    out.unlink()
    return data


# -- multi-extent files ---------------------------------------------------------------------------------
def test_multi_extent_file_has_the_size_and_sha256_of_all_its_extents(built) -> None:
    iso = _fixture(built, "iso-crafted", "multi-extent.iso")
    entry = walk(iso).by_path()[f"{iso.name}{NEST}SPLIT.BIN"]
    whole = multi_extent_content()
    assert (entry.size, entry.sha256, entry.meta["extents"]) == (len(whole), _sha(whole), 3)


def test_multi_extent_file_matches_bsdtar_xorriso_and_7zip_extraction(built, tmp_path: Path) -> None:
    require_tool("bsdtar", "xorriso", "7zz")
    iso = _fixture(built, "iso-crafted", "multi-extent.iso")
    entry = walk(iso).by_path()[f"{iso.name}{NEST}SPLIT.BIN"]
    bsdtar = subprocess.run(["bsdtar", "-xOf", str(iso), "SPLIT.BIN"], capture_output=True, check=True).stdout
    sevenzip = subprocess.run(["7zz", "e", "-so", str(iso), "SPLIT.BIN"], capture_output=True, check=True).stdout
    xorriso = _xorriso_extract(iso, "SPLIT.BIN", tmp_path)
    assert {_sha(bsdtar), _sha(sevenzip), _sha(xorriso)} == {entry.sha256}


def test_file_stored_between_the_extents_of_a_multi_extent_file_is_listed_on_its_own(built) -> None:
    iso = _fixture(built, "iso-crafted", "multi-extent.iso")
    inv = walk(iso)
    assert {e.name: e.size for e in inv.entries[1:]} == {"AFTER.TXT": 25, "SPLIT.BIN": len(multi_extent_content())}
    assert inv.complete


# -- zisofs ---------------------------------------------------------------------------------------------
def test_xorriso_zisofs_file_is_decompressed_with_the_compressed_size_as_stored_size(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    entry = walk(iso).by_path()[f"{iso.name}{NEST}zisofs/packed.txt"]
    content = RR_FILES["zisofs/packed.txt"]
    assert (entry.size, entry.sha256, entry.meta["compression"]) == (len(content), _sha(content), "zisofs")
    assert entry.stored_size is not None and entry.stored_size < len(content) // 10


def test_xorriso_zisofs_content_matches_xorriso_extraction(built, tmp_path: Path) -> None:
    require_tool("xorriso")
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    by = walk(iso).by_path()
    for member in ("zisofs/packed.txt", "zisofs/small.txt"):
        assert by[f"{iso.name}{NEST}{member}"].sha256 == _sha(_xorriso_extract(iso, member, tmp_path))


def test_zisofs2_files_are_decompressed_like_xorriso_extracts_them(built, tmp_path: Path) -> None:
    require_tool("xorriso")
    iso = _fixture(built, "iso-rock-ridge", "zisofs2.iso")
    by = walk(iso).by_path()
    for member, content in ZISOFS2_FILES.items():
        entry = by[f"{iso.name}{NEST}{member}"]
        assert entry.meta["compression"] == "zisofs2"
        assert (entry.size, entry.sha256) == (len(content), _sha(_xorriso_extract(iso, member, tmp_path)))


def test_mkzftree_zisofs_file_is_decompressed_and_a_file_too_small_to_shrink_is_plain(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "mkzftree.iso")
    inv = walk(iso)
    by = inv.by_path()
    big = by[f"{iso.name}{NEST}big.txt"]
    content = text_content("mkzftree", 180_000)
    assert (big.size, big.sha256, big.meta["compression"]) == (len(content), _sha(content), "zisofs")
    assert by[f"{iso.name}{NEST}tiny.txt"].sha256 == _sha(b"too small to shrink\n")
    assert inv.complete


# -- Rock Ridge devices, hard links, continuation areas, times -----------------------------------------
def test_rock_ridge_device_nodes_are_devices_with_major_and_minor(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    by = walk(iso).by_path()
    null, zero = by[f"{iso.name}{NEST}dev/null"], by[f"{iso.name}{NEST}dev/zero"]
    assert (null.kind, null.meta["device"], null.meta["major"], null.meta["minor"]) == (EntryKind.DEVICE, "char", 1, 3)
    assert (zero.meta["major"], zero.meta["minor"], zero.mode) == (1, 5, 0o666)


def test_hard_links_are_listed_as_links_to_the_first_path_and_counted_once(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    inv = walk(iso)
    by = inv.by_path()
    text = by[f"{iso.name}{NEST}data/text.txt"]
    links = [by[f"{iso.name}{NEST}{p}"] for p in ("data/text-link.txt", "docs/text-link2.txt")]
    assert text.kind is EntryKind.FILE and text.meta["nlink"] == 3
    assert [(e.kind, e.link_target) for e in links] == [(EntryKind.HARDLINK, "data/text.txt")] * 2
    distinct = sum(len(v) for v in RR_FILES.values())
    assert totals(inv).unpacked_size == distinct


def test_bsdtar_also_reports_the_shared_extents_as_hard_links(built) -> None:
    require_tool("bsdtar")
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    out = subprocess.run(["bsdtar", "-tvf", str(iso)], capture_output=True, text=True, check=True).stdout
    theirs = sum(" link to " in line for line in out.splitlines())
    ours = sum(e.kind is EntryKind.HARDLINK for e in walk(iso).entries)
    assert ours == theirs == 3


def test_rock_ridge_listing_matches_xorriso_find(built) -> None:
    require_tool("xorriso")
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    assert _ours_as_xorriso(walk(iso), iso.name) == _xorriso(iso)


def test_long_name_and_symlink_target_are_read_through_continuation_areas(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    by = walk(iso).by_path()
    assert by[f"{iso.name}{NEST}docs/{LONG_RR_NAME}"].sha256 == _sha(RR_FILES["docs/" + LONG_RR_NAME])
    assert by[f"{iso.name}{NEST}docs/long-link"].link_target == LONG_LINK_TARGET


def test_rock_ridge_tf_modification_time_is_the_member_mtime(built) -> None:
    iso = _fixture(built, "iso-rock-ridge", "rr-features.iso")
    inv = walk(iso)
    assert {e.mtime for e in inv.entries[1:]} == {1249084800.0}


# -- relocation, ISO 9660:1999 --------------------------------------------------------------------------
def test_relocated_deep_directories_are_listed_where_they_belong_like_bsdtar(built) -> None:
    require_tool("bsdtar")
    iso = _fixture(built, "iso-rock-ridge", "deep.iso")
    inv = walk(iso)
    out = subprocess.run(["bsdtar", "-tf", str(iso)], capture_output=True, text=True, check=True).stdout
    theirs = {line.rstrip("/") for line in out.splitlines() if line not in (".", "./")}
    assert {e.name for e in inv.entries[1:]} == theirs
    assert f"{iso.name}{NEST}a/b/c/d/e/f/g/h/i/j/k/deeper.txt" in inv.by_path()
    assert inv.root.meta["relocated_directories"] >= 1


def test_relocated_deep_directories_match_xorriso_find(built) -> None:
    require_tool("xorriso")
    iso = _fixture(built, "iso-rock-ridge", "deep.iso")
    theirs = _xorriso(iso)
    # xorriso keeps the emptied relocation directory; bsdtar hides it, and so do we.
    assert theirs.pop("rr_moved") == ("d", "0", None)
    assert _ours_as_xorriso(walk(iso), iso.name) == theirs


def test_iso9660_1999_names_come_from_the_enhanced_volume_descriptor_like_isoinfo(built) -> None:
    require_tool("isoinfo")
    iso = _fixture(built, "iso-rock-ridge", "iso1999.iso")
    inv = walk(iso)
    out = subprocess.run(["isoinfo", "-f", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    assert inv.root.meta["tree"] == "iso9660-1999"
    assert {e.name for e in inv.entries[1:]} == {line.lstrip("/") for line in out.splitlines() if line.strip()}


# -- odd Joliet names -----------------------------------------------------------------------------------
def test_joliet_directory_named_with_a_slash_keeps_its_own_children(built) -> None:
    iso = _fixture(built, "iso-crafted", "joliet-odd-names.iso")
    by = walk(iso).by_path()
    assert by[f"{iso.name}{NEST}a\\x2fb/z.txt"].sha256 == _sha(b"z in the directory named a/b\n")
    assert by[f"{iso.name}{NEST}a/b/y.txt"].sha256 == _sha(b"y in a/b\n")
    assert [e.name for e in walk(iso).entries].count("a/b/y.txt") == 1


def test_joliet_name_with_a_lone_surrogate_is_escaped_and_its_siblings_are_kept(built) -> None:
    iso = _fixture(built, "iso-crafted", "joliet-odd-names.iso")
    inv = walk(iso)
    by = inv.by_path()
    bad = by[f"{iso.name}{NEST}bad\\ud800.txt"]
    assert bad.sha256 == _sha(b"lone surrogate\n") and bad.meta["raw_name"].startswith("006200610064d800")
    assert {f"good{i}.txt" for i in (1, 2)} <= {e.name for e in inv.entries}
    assert inv.root.meta["tree"] == "joliet" and inv.complete


# -- hostile extents and floods -------------------------------------------------------------------------
def test_file_extents_past_the_end_of_the_image_are_errors_on_those_files(built) -> None:
    iso = _fixture(built, "iso-crafted", "out-of-bounds.iso")
    inv = walk(iso)
    bad = {p.path.rsplit(NEST, 1)[1]: p for p in inv.problems}
    assert set(bad) == {"HUGE.BIN", "PAST.BIN"}
    assert all(p.kind is ProblemKind.ERROR and "out of bounds" in p.reason for p in bad.values())
    by = inv.by_path()
    huge = by[f"{iso.name}{NEST}HUGE.BIN"]
    assert huge.size is None and huge.meta["declared_size"] == 2**32 - 1
    assert by[f"{iso.name}{NEST}GOOD.TXT"].sha256 == _sha(b"good file\n")
    assert not inv.complete and totals(inv).unpacked_size == 10


def test_hundreds_of_files_out_of_bounds_are_all_listed_unread_with_a_screenful_of_problems(built) -> None:
    iso = _fixture(built, "iso-crafted", "out-of-bounds-flood.iso")
    inv = walk(iso)
    files = [e for e in inv.entries if e.parent == iso.name]
    assert len(files) == OUT_OF_BOUNDS_FLOOD + 1
    assert sum(e.unread for e in files) == OUT_OF_BOUNDS_FLOOD
    named = [p for p in inv.problems if p.path != iso.name]
    [summary] = [p for p in inv.problems if p.path == iso.name]
    assert len(named) == MAX_NAMED_PROBLEMS and all("out of bounds" in p.reason for p in named)
    assert summary.reason.startswith(f"{OUT_OF_BOUNDS_FLOOD - MAX_NAMED_PROBLEMS} more files out of bounds")
    assert totals(inv).unpacked_size == 5 and not inv.complete


def test_record_flood_walks_the_shared_directory_once_and_reports_each_limit_once(built) -> None:
    iso = _fixture(built, "iso-crafted", "record-flood.iso")
    inv = walk(iso)
    dirs = [e for e in inv.entries if e.kind is EntryKind.DIR]
    assert len(dirs) == FLOOD_DIRS
    assert sum(e.kind is EntryKind.FILE for e in inv.entries[1:]) == 1
    assert sum(e.kind is EntryKind.HARDLINK for e in inv.entries) == MAX_RECORDS_PER_EXTENT - 1
    [repeat] = [p for p in inv.problems if p.kind is ProblemKind.WARNING]
    [limit] = [p for p in inv.problems if p.kind is ProblemKind.LIMIT]
    assert f"{FLOOD_DIRS - 1} directory record(s)" in repeat.reason
    assert f"{FLOOD_RECORDS - MAX_RECORDS_PER_EXTENT} record(s)" in limit.reason
    assert len(inv.problems) == 2 and not inv.complete


def test_files_that_each_are_the_whole_image_are_read_once_per_level(built) -> None:
    iso = _fixture(built, "iso-crafted", "whole-image-files.iso")
    inv = walk(iso)
    top = [e for e in inv.entries if e.parent == iso.name]
    assert [e.kind for e in top].count(EntryKind.FILE) == 1
    assert all(e.link_target == "WHOLE0.ISO" for e in top if e.kind is EntryKind.HARDLINK)
    assert len(inv.problems) <= 5


@pytest.mark.parametrize("name", ["rr-features.iso", "zisofs2.iso", "deep.iso", "mkzftree.iso", "iso1999.iso"])
def test_tool_made_images_read_completely(built, name: str) -> None:
    inv = walk(_fixture(built, "iso-rock-ridge", name))
    assert inv.complete, [p.line() for p in inv.problems]


def test_rock_ridge_continuation_area_chained_to_itself_is_followed_once(built) -> None:
    iso = _fixture(built, "iso-crafted", "ce-loop.iso")
    inv = walk(iso)
    by = inv.by_path()
    [p] = inv.problems
    assert p.path == f"{iso.name}{NEST}loopped.txt" and "chained twice" in p.reason
    assert by[f"{iso.name}{NEST}loopped.txt"].sha256 == _sha(b"looped\n")
    assert by[f"{iso.name}{NEST}plain.txt"].sha256 == _sha(b"plain\n")


@pytest.mark.skipif(not os.environ.get("INSPECTOR_LARGE"), reason="builds and hashes a 4 GiB image: INSPECTOR_LARGE=1")
def test_file_over_4_gib_from_xorriso_level_3_has_the_size_and_hash_bsdtar_extracts(built) -> None:
    require_tool("bsdtar", "xorriso")
    iso = built("iso-large-multi-extent")[0]
    entry = walk(iso).by_path()[f"{iso.name}{NEST}big.img"]
    assert (entry.size, entry.meta["extents"]) == (LARGE_FILE_SIZE, 2)
    assert _xorriso(iso)["big.img"][1] == str(LARGE_FILE_SIZE)
    bsdtar = subprocess.Popen(["bsdtar", "-xOf", str(iso), "big.img"], stdout=subprocess.PIPE)
    h = hashlib.sha256()
    assert bsdtar.stdout is not None
    while chunk := bsdtar.stdout.read(1 << 20):
        h.update(chunk)
    assert bsdtar.wait() == 0 and h.hexdigest() == entry.sha256


def test_zisofs_block_inflating_past_its_block_size_is_an_error_and_memory_stays_at_one_block(built) -> None:
    iso = _fixture(built, "iso-crafted", "zisofs-bad.iso")
    inv = walk(iso)
    problems = {p.path.rsplit(NEST, 1)[1]: p.reason for p in inv.problems}
    assert "decompresses to 32769 bytes, expected 32768" in problems["bomb.txt"]
    assert "header says 40000 bytes, the ZF entry 1000" in problems["liar.txt"]
    good = inv.by_path()[f"{iso.name}{NEST}good.txt"]
    assert good.sha256 == _sha(text_content("zisofs-good", 70_000)) and not inv.complete


# -- partitions appended past the ISO volume (xorriso -append_partition) ---------------------------------------
def _appended_iso(tmp_path: Path, *extra: str) -> tuple[Path, bytes]:
    require_tool("xorriso", "mkfs.fat", "mcopy")
    payload = os.urandom(50_000)
    (tmp_path / "PAYLOAD.BIN").write_bytes(payload)
    fat = tmp_path / "fat.img"
    fat.write_bytes(bytes(2 << 20))
    subprocess.run(["mkfs.fat", "-F", "12", str(fat)], check=True, capture_output=True)
    subprocess.run(["mcopy", "-i", str(fat), str(tmp_path / "PAYLOAD.BIN"), "::/"], check=True, capture_output=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "readme.txt").write_bytes(b"hello\n")
    iso = tmp_path / "appended.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-o", str(iso), "-append_partition", "2", "0x0c", str(fat),
                    *extra, str(src)], check=True, capture_output=True)
    return iso, payload


@pytest.mark.parametrize("table", ["mbr", "gpt"])
def test_a_partition_appended_past_the_iso_volume_is_listed_and_opened(tmp_path: Path, table: str) -> None:
    iso, payload = _appended_iso(tmp_path, *(["-appended_part_as_gpt"] if table == "gpt" else []))
    inv = walk(iso)
    entries = {e.path: e for e in inv.entries}
    part = entries[f"{iso.name}{NEST}[appended]/p2.img"]
    assert part.container == "fat" and part.meta["partition"]["number"] == 2
    assert entries[f"{part.path}{NEST}PAYLOAD.BIN"].sha256 == _sha(payload)
    assert f"{iso.name}{NEST}readme.txt" in entries
    assert inv.complete


def test_an_iso_without_appended_partitions_lists_nothing_appended(tmp_path: Path) -> None:
    require_tool("xorriso")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a")
    iso = tmp_path / "plain.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-R", "-o", str(iso), str(src)], check=True, capture_output=True)
    assert not [e for e in walk(iso).entries if "[appended]" in e.path]
