"""Hostile input, round 2 (issue 16): header lies are said, containers holding themselves are said once,
libarchive's failures and warnings are sentences, and a file that is several formats at once is noted."""

from __future__ import annotations

import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from fixtures.hostile import plain_iso
from inspector.model import NEST, EntryKind, ProblemKind
from inspector.unpack.base import SniffInfo
from inspector.unpack.disk import DiskHandler
from inspector.walker import walk


@pytest.fixture(scope="module")
def lies(built) -> dict[str, Path]:
    return {p.name: p for p in built("hostile-containers")}


def _problems(path: Path) -> list[tuple[str, ProblemKind, str]]:
    return [(p.path, p.kind, p.reason) for p in walk(path).problems]


def test_a_pax_record_with_an_absurd_length_is_a_warning_and_both_members_are_kept(lies) -> None:
    inv = walk(lies["pax-absurd.tar"])
    assert [e.name for e in inv.entries[1:]] == ["a.txt", "b.txt"]
    (problem,) = inv.problems
    assert problem.kind is ProblemKind.WARNING and problem.path.endswith(f"{NEST}a.txt")
    assert "pax extended attribute" in problem.reason.lower()


def test_a_hard_link_out_of_the_archive_is_a_warning_naming_its_target(lies) -> None:
    got = {path.rsplit(NEST, 1)[1]: (kind, reason) for path, kind, reason in _problems(lies["link-lies.tar"])}
    kind, reason = got["escape"]
    assert kind is ProblemKind.WARNING and "'../../../etc/x'" in reason and "hard link target" in reason


def test_a_hard_link_to_itself_is_a_mismatch_naming_the_linkname_field(lies) -> None:
    got = {path.rsplit(NEST, 1)[1]: (kind, reason) for path, kind, reason in _problems(lies["link-lies.tar"])}
    kind, reason = got["self"]
    assert kind is ProblemKind.MISMATCH and "itself" in reason and "linkname" in reason


def test_a_hard_link_to_a_member_never_stored_is_a_mismatch_and_a_good_link_is_silent(lies) -> None:
    inv = walk(lies["link-lies.tar"])
    flagged = {p.path.rsplit(NEST, 1)[1] for p in inv.problems}
    assert "dangling" in flagged and "good" not in flagged
    assert inv.by_path()[f"link-lies.tar{NEST}good"].kind is EntryKind.HARDLINK
    assert inv.complete  # metadata lies are reported; no content is missing


def test_an_ar_member_with_a_negative_size_is_said_in_words_and_the_good_member_kept(lies) -> None:
    inv = walk(lies["negative-size.a"])
    assert inv.by_path()[f"negative-size.a{NEST}good.txt"].sha256 is not None
    reasons = [p.reason for p in inv.problems]
    assert any("size field '-5' is not a non-negative number" in r and "neg.bin" in r for r in reasons)
    assert not inv.complete


def test_a_libarchive_failure_is_a_sentence_never_a_pointer_or_repr(lies) -> None:
    (problem,) = walk(lies["garbage.cpio"]).problems
    assert problem.reason.startswith("cpio: ")
    for fragment in ("None", "errno=", "retcode=", "archive_p"):
        assert fragment not in problem.reason


def test_a_gpt_whose_partitions_are_the_whole_disk_is_said_once_with_a_count(built) -> None:
    inv = walk(next(p for p in built("hostile-lies") if p.name == "gpt-whole-disk.img"))
    assert [e.name for e in inv.entries[1:]] == ["p1", "p2"]  # listed, never re-opened level after level
    loops = [p for p in inv.problems if "own bytes" in p.reason]
    assert len(loops) == 1 and loops[0].path == "gpt-whole-disk.img" and loops[0].reason.startswith("2 member(s)")
    assert all(not e.opened for e in inv.entries[1:])
    assert inv.by_path()[f"gpt-whole-disk.img{NEST}p1"].meta["same_bytes_as"] == "gpt-whole-disk.img"


def test_an_iso_whose_files_are_the_whole_image_is_said_once_and_each_file_hashed(lies) -> None:
    # The ISO reader lists records sharing one extent as hard links to the first (counted once); the walker
    # opens that file once and stops at the copy of the image found inside it.
    inv = walk(lies["iso-whole-image.iso"])
    top = [e for e in inv.entries if e.depth == 1]
    assert [e.kind for e in top] == [EntryKind.FILE] + [EntryKind.HARDLINK] * 7
    assert top[0].sha256 == inv.root.sha256 and len(inv.entries) < 20
    assert len(inv.problems) == 1 and inv.problems[0].reason.startswith("1 member(s)")
    assert inv.problems[0].kind is ProblemKind.WARNING


def test_a_file_that_is_an_iso_a_tar_and_a_zip_is_read_as_one_and_the_others_noted(lies) -> None:
    path = lies["polyglot.iso"]
    with tarfile.open(path) as tf:  # the independent readers agree it is each of these
        assert tf.getnames()
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["zip.txt"]
    inv = walk(path)
    assert inv.root.container == "iso9660"
    assert inv.root.meta["other_readings"] == ["zip", "tar"]
    (problem,) = inv.problems
    assert problem.kind is ProblemKind.WARNING and "also a valid zip, tar" in problem.reason


def test_a_hybrid_iso_with_an_mbr_is_not_called_ambiguous(tmp_path: Path) -> None:
    image = bytearray(plain_iso({"A.TXT": b"a\n"}))
    image[446:462] = struct.pack("<BBBBBBBBII", 0x80, 0, 1, 0, 0x17, 0xFE, 0xFF, 0xFF, 1, len(image) // 512 - 1)
    image[510:512] = b"\x55\xaa"  # what isohybrid writes so that the image boots from a USB stick
    path = tmp_path / "hybrid.iso"
    path.write_bytes(bytes(image))
    assert DiskHandler().match(SniffInfo(bytes(image[:65536]), path.name, len(image)))  # it is an MBR disk too
    inv = walk(path)
    assert inv.root.container == "iso9660" and "other_readings" not in inv.root.meta
