"""The streaming ZIP reader (``unpack/zipcentral.py``, ``unpack/zip.py``) against independent readers.

Archives written by Info-ZIP ``zip``, 7-Zip and bsdtar (fixture ``zip-tools``, ``zip-many``) are listed
and hashed by us and by ``unzip``/``bsdtar``/``7zz``; hostile directories are written by hand.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import pytest

from fixtures.hostile import raw_zip, zip_central, zip_end, zip_local
from fixtures.zipformats import CODEC_MEMBER, COMMENT, LINK, MANY, TREE
from inspector.hardening import zip_overlap
from inspector.limits import Limits
from inspector.model import NEST, EntryKind, Inventory, ProblemKind
from inspector.streams import Budget
from inspector.unpack.base import UnpackContext
from inspector.unpack.zip import ZipHandler
from inspector.unpack.zipcentral import locate, records
from inspector.walker import walk
from tests.conftest import require_tool

#: Archives of the same tree that unzip 6.0 reads whole (it lacks LZMA, zstd and xz).
INFOZIP_READABLE = ["infozip-deflate.zip", "infozip-stored.zip", "infozip-bzip2.zip", "infozip-comment.zip",
                    "infozip-streamed.zip", "7zz-bzip2.zip", "bsdtar.zip", "zip64-sizes.zip"]


def _file(built, fixture: str, name: str) -> Path:  # noqa: ANN001
    return next(p for p in built(fixture) if p.name == name)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _out(*cmd: str | Path) -> bytes:
    """stdout of an oracle; unzip exits 1 (a warning) for an archive with bytes before it, and still lists it."""
    res = subprocess.run([str(c) for c in cmd], capture_output=True, check=False)
    assert res.returncode in (0, 1), res.stderr
    return res.stdout


def _unzip_listing(path: Path) -> dict[str, tuple[EntryKind, int | None, int | None]]:
    """name -> (kind, size, compressed size) from ``unzip -Zl`` (Info-ZIP's zipinfo)."""
    listing = {}
    for line in _out("unzip", "-Zl", path).decode().splitlines():
        parts = line.split(None, 9)
        if len(parts) != 10 or parts[1][0].isalpha():
            continue
        kind = {"d": EntryKind.DIR, "l": EntryKind.SYMLINK}.get(parts[0][0], EntryKind.FILE)
        is_file = kind is EntryKind.FILE
        listing[parts[9].rstrip("/")] = (kind, int(parts[3]) if is_file else None, int(parts[5]) if is_file else None)
    return listing


def _ours(inv: Inventory) -> dict[str, tuple[EntryKind, int | None, int | None]]:
    return {e.name: (e.kind, e.size if e.kind is EntryKind.FILE else None, e.stored_size) for e in inv.entries[1:]}


def _context(path: Path) -> UnpackContext:
    return UnpackContext(path=path.name, name=path.name, size=path.stat().st_size, head=b"",
                         budget=Budget(Limits()), problem=lambda *a, **k: None)


def _files(inv: Inventory) -> dict[str, str | None]:
    return {e.name: e.sha256 for e in inv.entries[1:] if e.kind is EntryKind.FILE}


# -- archives written by the usual tools ----------------------------------------------------------------
@pytest.mark.parametrize("name", INFOZIP_READABLE)
def test_listing_kinds_sizes_and_stored_sizes_match_unzip(built, name: str) -> None:
    require_tool("unzip")
    path = _file(built, "zip-tools", name)
    inv = walk(path)
    assert inv.complete and not inv.problems
    assert _ours(inv) == _unzip_listing(path)


@pytest.mark.parametrize("name", INFOZIP_READABLE)
def test_every_member_sha256_matches_unzip_pipe(built, name: str) -> None:
    require_tool("unzip")
    path = _file(built, "zip-tools", name)
    ours = _files(walk(path))
    assert ours and ours == {member: _sha(_out("unzip", "-p", path, member)) for member in ours}


@pytest.mark.parametrize("name", ["7zz-lzma.zip", "7zz-bzip2.zip", "infozip-bzip2.zip", "bsdtar.zip",
                                  "infozip-streamed.zip", "zstd.zip", "xz.zip"])
def test_every_member_sha256_matches_bsdtar_and_7zip(built, name: str) -> None:
    require_tool("bsdtar", "7zz")
    path = _file(built, "zip-tools", name)
    ours = _files(walk(path))
    assert ours == {m: _sha(_out("bsdtar", "-xOf", path, m)) for m in ours}
    assert ours == {m: _sha(_out("7zz", "x", "-so", path, m)) for m in ours}


def test_zstd_and_xz_members_decode_to_their_content(built) -> None:
    for name in ("zstd.zip", "xz.zip"):
        inv = walk(_file(built, "zip-tools", name))
        assert _files(inv) == {CODEC_MEMBER[0]: _sha(CODEC_MEMBER[1])} and inv.complete


def test_tree_contents_modes_mtimes_and_symlink_as_written_by_infozip(built) -> None:
    inv = walk(_file(built, "zip-tools", "infozip-deflate.zip"))
    by = {e.name: e for e in inv.entries[1:]}
    assert {n: by[n].sha256 for n in TREE} == {n: _sha(d) for n, d in TREE.items()}
    assert (by["bin/run.sh"].mode, by["a.txt"].mode, by["sub/deeper"].kind) == (0o755, 0o644, EntryKind.DIR)
    assert {e.mtime for e in by.values()} == {1249084800.0}
    assert (by[LINK[0]].kind, by[LINK[0]].link_target) == (EntryKind.SYMLINK, LINK[1])
    assert (by["a.txt"].meta["method"], by["empty"].meta["method"]) == ("deflate", "stored")


def test_archive_comment_is_the_one_unzip_shows(built) -> None:
    require_tool("unzip")
    path = _file(built, "zip-tools", "infozip-comment.zip")
    shown = _out("unzip", "-z", path).split(b"\n", 1)[1].rstrip(b"\n")
    assert shown == COMMENT and walk(path).root.meta["comment"] == COMMENT.decode()


def test_streamed_archive_members_have_data_descriptors_and_read_the_same(built) -> None:
    path = _file(built, "zip-tools", "infozip-streamed.zip")
    with path.open("rb") as fh:
        files = [r for r in records(fh, locate(fh)) if not r.name.endswith(b"/")]
    assert files and all(r.flags & 0x8 for r in files)  # sizes and CRC after the data
    plain = _files(walk(_file(built, "zip-tools", "infozip-deflate.zip")))
    assert _files(walk(path)) == {**{k: v for k, v in plain.items()}, LINK[0]: _sha(TREE[LINK[1]])}


@pytest.mark.parametrize("name", ["sfx-raw.zip", "sfx-adjusted.zip"])
def test_a_stub_before_the_archive_changes_nothing_with_or_without_adjusted_offsets(built, name: str) -> None:
    # The walker dispatches on the first bytes, so a self-extracting archive is read by asking the reader.
    require_tool("unzip")
    path = _file(built, "zip-tools", name)
    with path.open("rb") as fh:
        read = {m.name: _sha(m.open().read()) for m in ZipHandler().members(fh, _context(path)) if m.open}
    assert read == _files(walk(_file(built, "zip-tools", "infozip-deflate.zip")))
    assert read == {member: _sha(_out("unzip", "-p", path, member)) for member in read}


def test_zip64_extra_field_gives_both_sizes_and_the_local_header_offset(built) -> None:
    require_tool("bsdtar")
    path = _file(built, "zip-tools", "zip64-sizes.zip")
    with path.open("rb") as fh:
        directory = locate(fh)
        [record] = records(fh, directory)
    assert directory.zip64 and (record.file_size, record.offset) == (len(TREE["a.txt"]), 0)
    [entry] = walk(path).entries[1:]
    assert entry.sha256 == _sha(_out("bsdtar", "-xOf", path, "zip64/member.txt")) == _sha(TREE["a.txt"])
    assert entry.stored_size == record.compressed_size < entry.size


def test_deflate64_member_is_unsupported_and_the_stored_ones_are_still_read(built) -> None:
    inv = walk(_file(built, "zip-tools", "7zz-deflate64.zip"))
    assert {p.path.rsplit(NEST, 1)[1]: p.kind for p in inv.problems} == {
        "a.txt": ProblemKind.UNSUPPORTED, "link-to-a": ProblemKind.UNSUPPORTED}
    assert all("deflate64" in p.reason for p in inv.problems)
    assert _files(inv)["random.bin"] == _sha(TREE["random.bin"])  # 7-Zip stored it: incompressible


def test_names_flagged_utf8_that_are_not_keep_the_bytes_unzip_lists(built) -> None:
    require_tool("unzip")
    path = next(p for p in built("hostile-lies") if p.name == "names-bad-utf8.zip")
    inv = walk(path)
    stored = [bytes.fromhex(e.meta["raw_name"]) if "raw_name" in e.meta else e.name.encode() for e in inv.entries[1:]]
    assert stored == _out("unzip", "-Z1", path).splitlines()


# -- scale ----------------------------------------------------------------------------------------------
def test_over_65535_members_listing_matches_unzip_and_bsdtar(built) -> None:
    require_tool("unzip", "bsdtar")
    [path] = built("zip-many")
    with path.open("rb") as fh:
        assert locate(fh).zip64  # Info-ZIP wrote the ZIP64 end records: 16 bits cannot count the entries
    names = [e.name for e in walk(path).entries[1:]]
    assert len(names) == MANY
    assert names == [n.rstrip("/") for n in _out("unzip", "-Z1", path).decode().splitlines()]
    assert sorted(names) == sorted(n.rstrip("/") for n in _out("bsdtar", "-tf", path).decode().splitlines())


def test_reading_100000_members_keeps_peak_memory_flat(built) -> None:
    [path] = built("zip-many")
    ctx = _context(path)
    count = 0
    with path.open("rb") as fh:
        tracemalloc.start()
        try:
            for member in ZipHandler().members(fh, ctx):
                if member.open is not None:
                    member.open().read()
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == MANY
    # zipfile held ~0.7 KB per member (70 MB here); one record at a time is 1 MiB reads and little else.
    assert peak < 8 * 1024 * 1024


# -- hostile directories --------------------------------------------------------------------------------
def _members(n: int = 3) -> list[tuple[bytes, bytes]]:
    return [(f"m{i}.txt".encode(), f"member {i}\n".encode() * 10) for i in range(n)]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _end_at(data: bytes) -> int:
    return data.rindex(b"PK\x05\x06")


def test_truncated_central_directory_refuses_the_archive_before_any_member(tmp_path: Path) -> None:
    data = raw_zip(_members())
    at = _end_at(data)
    cd_size, cd_offset = struct.unpack_from("<II", data, at + 12)
    # The last record loses its last 4 name bytes; the end record declares what is left.
    cut = data[: at - 4] + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 3, 3, cd_size - 4, cd_offset, 0)
    inv = walk(_write(tmp_path, "cut.zip", cut))
    [p] = inv.problems
    assert p.path == "cut.zip" and "not a readable ZIP: Truncated central directory" in p.reason
    assert len(inv.entries) == 1


def test_an_end_record_count_that_lies_is_a_mismatch_and_every_record_is_read(tmp_path: Path) -> None:
    data = bytearray(raw_zip(_members()))
    struct.pack_into("<HH", data, _end_at(data) + 8, 7, 7)
    inv = walk(_write(tmp_path, "count.zip", bytes(data)))
    [p] = inv.problems
    assert (p.path, p.kind) == ("count.zip", ProblemKind.MISMATCH)
    assert "declares 7" in p.reason and "holds 3" in p.reason
    assert len(inv.entries) == 4 and all(e.sha256 for e in inv.entries)


def test_local_header_naming_another_member_is_an_error_and_its_neighbours_are_read(tmp_path: Path) -> None:
    data = raw_zip(_members())
    local = data.index(b"m1.txt")  # the first occurrence is the local header's
    bad = data[:local] + b"zz.txt" + data[local + 6 :]
    inv = walk(_write(tmp_path, "names.zip", bad))
    [p] = inv.problems
    assert p.path == f"names.zip{NEST}m1.txt"
    assert "File name in directory 'm1.txt' and header b'zz.txt' differ" in p.reason
    assert [e.name for e in inv.entries if e.sha256] == ["names.zip", "m0.txt", "m2.txt"]


def test_crc_mismatch_is_an_error_naming_the_member_and_its_neighbours_are_read(tmp_path: Path) -> None:
    data = bytearray(raw_zip(_members()))
    body = data.index(b"member 1\n")
    data[body] ^= 0x20  # one flipped bit in the stored data: the CRC in both headers no longer agrees
    inv = walk(_write(tmp_path, "crc.zip", bytes(data)))
    [p] = inv.problems
    assert (p.path, p.kind) == (f"crc.zip{NEST}m1.txt", ProblemKind.ERROR)
    assert "Bad CRC-32 for file 'm1.txt'" in p.reason
    assert [e.name for e in inv.entries if e.sha256] == ["crc.zip", "m0.txt", "m2.txt"]


def test_overlap_in_a_directory_out_of_order_is_found_too(tmp_path: Path) -> None:
    inner_data = b"inner\n" * 100
    inner = zip_local(b"b.bin", inner_data, method=0, crc=zlib.crc32(inner_data), usize=len(inner_data))
    outer = zip_local(b"a.bin", inner, method=0, crc=zlib.crc32(inner), usize=len(inner))
    central = (zip_central(b"b.bin", csize=len(inner_data), usize=len(inner_data), method=0,
                           crc=zlib.crc32(inner_data), offset=30 + 5)
               + zip_central(b"a.bin", csize=len(inner), usize=len(inner), method=0, crc=zlib.crc32(inner), offset=0))
    inv = walk(_write(tmp_path, "late.zip", outer + central + zip_end(2, len(central), len(outer))))
    [p] = inv.problems
    assert "overlapping ZIP entries (zip bomb?): 'b.bin' starts inside 'a.bin'; no member read" in p.reason
    assert len(inv.entries) == 1


def test_a_directory_out_of_order_without_overlap_is_read_in_directory_order(tmp_path: Path) -> None:
    data = raw_zip(_members())
    at = _end_at(data)
    cd_size, cd_offset = struct.unpack_from("<II", data, at + 12)
    central = data[cd_offset:at]
    rec = len(central) // 3  # three records of equal length (names of equal length, no extras)
    swapped = central[2 * rec :] + central[:2 * rec]
    inv = walk(_write(tmp_path, "order.zip", data[:cd_offset] + swapped + data[at:]))
    assert [e.name for e in inv.entries[1:]] == ["m2.txt", "m0.txt", "m1.txt"] and inv.complete


def test_overlap_check_reports_the_first_overlapping_pair_in_start_order() -> None:
    assert zip_overlap(lambda: iter([(0, 40), (40, 90), (90, 130)])) is None
    assert zip_overlap(lambda: iter([(0, 40), (35, 90)])) == (0, 1)
    assert zip_overlap(lambda: iter([(100, 150), (0, 40), (30, 60)])) == (1, 2)  # out of order: sorted first
    assert zip_overlap(lambda: iter([(100, 150), (0, 40), (45, 60)])) is None


def test_encrypted_member_is_unsupported_not_an_error(tmp_path: Path) -> None:
    from fixtures.generic import encrypted_zip

    inv = walk(_write(tmp_path, "enc.zip", encrypted_zip({"secret.txt": b"secret\n"}, b"pw")))
    [p] = inv.problems
    assert (p.path, p.kind) == (f"enc.zip{NEST}secret.txt", ProblemKind.UNSUPPORTED) and "encrypted" in p.reason


def test_unknown_compression_method_is_unsupported_naming_the_method(tmp_path: Path) -> None:
    data = b"ppmd data"
    local = zip_local(b"p.bin", data, method=98, crc=0, usize=100)
    central = zip_central(b"p.bin", csize=len(data), usize=100, method=98, crc=0, offset=0)
    inv = walk(_write(tmp_path, "ppmd.zip", local + central + zip_end(1, len(central), len(local))))
    [p] = inv.problems
    assert p.kind is ProblemKind.UNSUPPORTED and "ZIP compression method 98" in p.reason


def test_not_a_zip_at_all_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    inv = walk(_write(tmp_path, "fake.zip", b"PK\x03\x04" + b"\0" * 100))
    [p] = inv.problems
    assert p.path == "fake.zip" and p.reason.startswith("not a readable ZIP: File is not a zip file")


@pytest.mark.parametrize("name", ["infozip-deflate.zip", "infozip-bzip2.zip", "7zz-lzma.zip", "zstd.zip", "xz.zip"])
def test_members_read_in_small_pieces_give_the_same_content(built, name: str) -> None:
    # ISA-L holds decoded output back once it has taken all the input: a reader asking for little at a
    # time must still get every byte (and the CRC check must pass).
    path = _file(built, "zip-tools", name)
    with path.open("rb") as fh:
        pieces = {}
        for m in ZipHandler().members(fh, _context(path)):
            if m.open is not None:
                stream, digest = m.open(), hashlib.sha256()
                while chunk := stream.read(4096):
                    digest.update(chunk)
                pieces[m.name] = digest.hexdigest()
    assert pieces == _files(walk(path))
