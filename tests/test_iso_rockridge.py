"""Rock Ridge (RRIP) entries of one System Use area, as IEEE P1282 writes them, parsed by iso9660_rr."""

from __future__ import annotations

import calendar
import struct

from fixtures.optical import susp
from inspector.unpack.iso9660_rr import MAX_CONTINUATIONS, parse


def _both(v: int) -> bytes:
    return struct.pack("<I", v) + struct.pack(">I", v)


def _no_areas(block: int, offset: int, length: int) -> bytes:
    raise AssertionError("no continuation area expected")


def test_nm_entries_with_the_continue_flag_make_one_name() -> None:
    area = susp(b"NM", b"\x01" + b"first-half-") + susp(b"NM", b"\x00" + b"second-half.txt")
    assert parse(area, 0, _no_areas).name == b"first-half-second-half.txt"


def test_sl_components_build_an_absolute_target_with_parent_and_continued_components() -> None:
    components = (bytes([0x08, 0]) + bytes([0, 3]) + b"usr" + bytes([0x01, 3]) + b"lo"
                  + b"c" + bytes([0, 0]))  # root, "usr", "loc" continued by "" -> "usr/loc"
    more = bytes([0x04, 0]) + bytes([0, 3]) + b"bin"  # "..", "bin" in a second SL entry
    area = susp(b"SL", b"\x01" + components) + susp(b"SL", b"\x00" + more)
    assert parse(area, 0, _no_areas).symlink == b"/usr/loc/../bin"


def test_tf_long_form_modification_time_follows_the_creation_time() -> None:
    created = b"2001010100000000\x00"
    modified = b"2009080112000000\x04"  # 12:00 at GMT+1 (4 x 15 minutes)
    area = susp(b"TF", bytes([0x80 | 0x01 | 0x02]) + created + modified)
    expected = calendar.timegm((2009, 8, 1, 12, 0, 0)) - 3600
    assert parse(area, 0, _no_areas).mtime == expected


def test_px_and_pn_give_mode_links_inode_and_raw_device_words() -> None:
    px = susp(b"PX", _both(0o20644) + _both(2) + _both(0) + _both(0) + _both(77))
    pn = susp(b"PN", _both(0) + _both(0x0801))
    rr = parse(px + pn, 0, _no_areas)
    assert (rr.mode, rr.nlink, rr.ino, rr.device) == (0o20644, 2, 77, (0, 0x0801))


def test_unknown_entries_are_skipped_by_their_length() -> None:
    area = susp(b"AL", b"\x00" * 12) + susp(b"XX", b"whatever") + susp(b"NM", b"\x00" + b"kept.txt")
    rr = parse(area, 0, _no_areas)
    assert rr.name == b"kept.txt" and rr.problems == ()


def test_zf_entry_records_the_algorithm_block_size_and_real_size() -> None:
    classic = parse(susp(b"ZF", b"pz" + bytes([4, 15]) + _both(123456)), 0, _no_areas).zisofs
    v2 = parse(susp(b"ZF", b"PZ" + bytes([6, 17]) + struct.pack("<Q", 5 * 2**32), version=2), 0, _no_areas).zisofs
    assert classic is not None and (classic.algorithm, classic.log2_block, classic.size) == (b"pz", 15, 123456)
    assert v2 is not None and (v2.version, v2.size) == (2, 5 * 2**32)


def test_a_chain_of_distinct_continuation_areas_stops_at_the_limit() -> None:
    def area(block: int, offset: int, length: int) -> bytes:
        return susp(b"CE", _both(block + 1) + _both(0) + _both(28))

    rr = parse(susp(b"CE", _both(100) + _both(0) + _both(28)), 0, area)
    assert len(rr.problems) == 1 and f"longer than {MAX_CONTINUATIONS} areas" in rr.problems[0]


def test_an_entry_longer_than_its_area_is_reported_and_the_entries_before_it_kept() -> None:
    area = susp(b"NM", b"\x00" + b"name.txt") + b"PX\xff\x01" + b"\x00" * 8
    rr = parse(area, 0, _no_areas)
    assert rr.name == b"name.txt" and "past the end" in rr.problems[0]


# -- Rock Ridge behind a CD-XA record (genisoimage -xa / -XA) ---------------------------------------------------
def test_the_sp_entry_is_found_right_after_a_cd_xa_record() -> None:
    from inspector.unpack.iso9660_rr import find_sp

    xa = b"\x00\x00\x00\x00\x0d\x55XA\x00\x00\x00\x00\x00\x00"  # owner ids, attributes, "XA", file number
    assert find_sp(xa + b"SP\x07\x01\xbe\xef\x0e") == 14
    assert find_sp(xa + b"SP\x07\x01\xbe\xef\x00") == 14  # the XA record is skipped whatever the SP says
    assert find_sp(b"SP\x07\x01\xbe\xef\x00") == 0
    assert find_sp(xa) is None


def test_rock_ridge_names_of_an_image_mastered_with_xa_records_are_read(tmp_path) -> None:  # noqa: ANN001
    import subprocess

    from inspector.walker import walk
    from tests.conftest import require_tool

    require_tool("genisoimage")
    src = tmp_path / "src"
    (src / "Long Directory Name").mkdir(parents=True)
    (src / "Long Directory Name" / "a file with a long name.txt").write_bytes(b"x" * 3000)
    (src / "lower.txt").write_bytes(b"y")
    for flag in ("-xa", "-XA"):
        iso = tmp_path / f"xa{flag}.iso"
        subprocess.run(["genisoimage", "-quiet", "-R", "-J", flag, "-o", str(iso), str(src)], check=True)
        inv = walk(iso)
        names = {e.name for e in inv.entries if e.depth == 1}
        assert {"Long Directory Name/a file with a long name.txt", "lower.txt"} <= names, flag
        assert inv.root.meta["tree"] == "rock-ridge"
