"""Our own tar header reader (``unpack/tar.py``) makes exactly the members and problems libarchive made.

Each archive is walked twice: with the registry's reader, and with libarchive alone in its place
(``archive.TAR``); entries and problems must be equal. Archives come from Python's tarfile (ustar, GNU,
pax), GNU tar and bsdtar in every format they write, hand-made v7 headers, and hostile variants: bad
checksums, members cut at every point, sizes past the end, numbers that are not numbers, pax records
that lie. Listings are also compared with ``bsdtar -tvf``.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.limits import Limits
from inspector.model import EntryKind, Inventory
from inspector.unpack import archive, tar
from inspector.unpack.registry import HANDLERS
from inspector.walker import Walker
from tests.conftest import require_tool

LIBARCHIVE_ONLY = tuple(archive.TAR if isinstance(h, tar.TarHandler) else h for h in HANDLERS)


def same_as_libarchive(path: Path, limits: Limits | None = None) -> Inventory:
    """Walk ``path`` with our reader and with libarchive alone; both must give the same inventory."""
    ours = Walker(limits).inventory(path)
    theirs = Walker(limits, handlers=LIBARCHIVE_ONLY).inventory(path)
    assert [e for e in ours.entries] == [e for e in theirs.entries]
    assert ours.problems == theirs.problems
    return ours


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Offsets at which our reader handed an archive to libarchive during the test."""
    calls: list[int] = []
    resume = archive.TAR.resume

    def spy(stream, ctx, *, offset=0, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(offset)
        return resume(stream, ctx, offset=offset, **kwargs)

    monkeypatch.setattr(archive.TAR, "resume", spy)
    return calls


# -- archives -------------------------------------------------------------------------------------------
def _add(tf: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_600_000_000
    info.mode = 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if data else None)


def python_tar(path: Path, fmt: int, *, big: int = 70_000, extra: Callable[[tarfile.TarFile], None] | None = None
               ) -> Path:
    """A tar made by Python's tarfile with every member type, long names and links, and one large member."""
    long_dir = "d" * 60 + "/" + "e" * 60
    with tarfile.open(path, "w", format=fmt) as tf:
        _add(tf, "top", type=tarfile.DIRTYPE, mode=0o755)
        for i, size in enumerate((0, 1, 511, 512, 513, 1500)):
            _add(tf, f"top/f{i}.txt", b"line of text\n" * (size // 13) + b"x" * (size % 13))
        _add(tf, "top/large.bin", os.urandom(big))
        _add(tf, f"{long_dir}/name-over-100.txt", b"long\n")
        if fmt != tarfile.USTAR_FORMAT:
            _add(tf, "n" * 300 + ".txt", b"very long\n")
            _add(tf, "top/long-link", type=tarfile.SYMTYPE, linkname="t" * 150)
        _add(tf, "top/link", type=tarfile.SYMTYPE, linkname="f1.txt")
        _add(tf, "top/hard", type=tarfile.LNKTYPE, linkname="top/f2.txt")
        _add(tf, "top/chr", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        _add(tf, "top/blk", type=tarfile.BLKTYPE, devmajor=8, devminor=0)
        _add(tf, "top/fifo", type=tarfile.FIFOTYPE)
        _add(tf, "top/contiguous", b"c" * 10, type=tarfile.CONTTYPE)
        _add(tf, "top/sub/", type=tarfile.DIRTYPE)
        _add(tf, "top/after-large.txt", b"after\n")
        if extra is not None:
            extra(tf)
    return path


def _tree(root: Path, fmt: str) -> Path:
    """A small directory tree with long names (as long as ``fmt`` holds), links and a large file."""
    width = {"v7": 20, "ustar": 40}.get(fmt, 90)
    deep = root / ("a" * width) / ("b" * width) / ("c" * width)
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_bytes(b"deep\n")
    (root / "small.txt").write_bytes(b"small\n")
    (root / "empty").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(150_000))
    (root / "sym").symlink_to("small.txt")
    os.link(root / "small.txt", root / "hard.txt")
    (root / "dir").mkdir()
    os.utime(root / "small.txt", (1_600_000_000.25, 1_600_000_000.25))
    return root


#: The formats ``tool_tar`` asks of GNU tar and of bsdtar (each tool's own names).
GNU_TAR_FORMATS = ["v7", "oldgnu", "gnu", "ustar", "posix"]
BSDTAR_FORMATS = ["ustar", "pax", "gnutar", "v7"]


def tool_tar(tmp_path: Path, tool: str, fmt: str) -> Path:
    """The tree above archived by ``tool`` (``tar`` or ``bsdtar``) in format ``fmt``."""
    src = _tree(tmp_path / "src", fmt)
    out = tmp_path / f"{tool}-{fmt}.tar"
    cmd = ["tar", f"--format={fmt}", "-cf", str(out)] if tool == "tar" else ["bsdtar", "--format", fmt, "-cf",
                                                                             str(out)]
    subprocess.run([*cmd, "-C", str(src), "."], check=True, capture_output=True)
    return out


def v7_tar(path: Path) -> Path:
    """A v7 tar: ustar headers with magic, version, user, group and prefix cleared, checksums made again."""
    blob = bytearray(python_tar(path, tarfile.USTAR_FORMAT).read_bytes())
    at = 0
    while at + 512 <= len(blob) and any(blob[at : at + 512]):
        h = blob[at : at + 512]
        size = int(bytes(h[124:135]).strip(b"\x00 ") or b"0", 8)
        h[257:500] = bytes(243)
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\x00 " % sum(h)
        blob[at : at + 512] = h
        at += 512 + (0 if h[156] in b"123456" else (size + 511) // 512 * 512)
    path.write_bytes(blob)
    return path


# -- what libarchive and we agree on -------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_python_tarfile_archives_read_like_libarchive_without_handing_over(tmp_path, fmt, handed_over) -> None:
    inv = same_as_libarchive(python_tar(tmp_path / "t.tar", fmt))
    assert handed_over == [0]  # only the walk with libarchive alone, which starts at the beginning
    kinds = {e.name: e.kind for e in inv.entries[1:]}
    assert kinds["top/hard"] is EntryKind.HARDLINK and kinds["top/chr"] is EntryKind.DEVICE
    assert kinds["top/fifo"] is EntryKind.OTHER and kinds["top/sub"] is EntryKind.DIR


@pytest.mark.parametrize("fmt", GNU_TAR_FORMATS)
def test_gnu_tar_archives_read_like_libarchive(tmp_path, fmt) -> None:
    require_tool("tar")
    same_as_libarchive(tool_tar(tmp_path, "tar", fmt))


@pytest.mark.parametrize("fmt", BSDTAR_FORMATS)
def test_bsdtar_archives_read_like_libarchive(tmp_path, fmt) -> None:
    require_tool("bsdtar")
    same_as_libarchive(tool_tar(tmp_path, "bsdtar", fmt))


def test_v7_headers_without_magic_read_like_libarchive(tmp_path) -> None:
    same_as_libarchive(v7_tar(tmp_path / "v7.tar"))


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_gnu_tar_member_names_match_bsdtar_listing(tmp_path, fmt) -> None:
    require_tool("tar", "bsdtar")
    path = tool_tar(tmp_path, "tar", fmt)
    listed = subprocess.run(["bsdtar", "-tf", str(path)], capture_output=True, check=True, text=True).stdout
    expected = {line.removeprefix("./").rstrip("/") for line in listed.splitlines()} - {"", "."}
    inv = Walker().inventory(path)
    assert {e.name for e in inv.entries[1:]} - {"."} == expected


def test_pax_fractional_mtime_and_long_link_read_like_libarchive(tmp_path, handed_over) -> None:
    def extra(tf: tarfile.TarFile) -> None:
        _add(tf, "frac.txt", b"f", mtime=1_600_000_000.123456789)
        _add(tf, "hard-long", type=tarfile.LNKTYPE, linkname="n" * 300 + ".txt")

    inv = same_as_libarchive(python_tar(tmp_path / "t.tar", tarfile.PAX_FORMAT, extra=extra))
    assert handed_over == [0]
    assert {e.name: e.mtime for e in inv.entries}["frac.txt"] == pytest.approx(1_600_000_000.123456)


def test_base256_numbers_read_like_libarchive(tmp_path, handed_over) -> None:
    def extra(tf: tarfile.TarFile) -> None:
        _add(tf, "before-1970.txt", b"old\n", mtime=-86_400)  # GNU tar writes it base-256
        _add(tf, "big-uid.txt", b"x", uid=8**8 + 1)

    same_as_libarchive(python_tar(tmp_path / "t.tar", tarfile.GNU_FORMAT, extra=extra))
    assert handed_over == [0]


def test_gnu_sparse_file_is_handed_to_libarchive(tmp_path, handed_over) -> None:
    require_tool("tar")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a\n")
    with open(src / "sparse.img", "wb") as fh:
        fh.seek(5_000_000)
        fh.write(b"end")
    out = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "--format=gnu", "-cf", str(out), "-C", str(src), "a.txt", "sparse.img"],
                   check=True)
    same_as_libarchive(out)
    assert handed_over[0] > 0  # after a.txt, read by our reader


def test_non_ascii_names_are_handed_to_libarchive(tmp_path, handed_over) -> None:
    def extra(tf: tarfile.TarFile) -> None:
        _add(tf, "caf\u00e9.txt", b"utf-8\n")

    same_as_libarchive(python_tar(tmp_path / "t.tar", tarfile.PAX_FORMAT, extra=extra))
    assert len(handed_over) == 2


@pytest.mark.parametrize("records", [
    b"30 GNU.sparse.size=123456789\n",
    b"21 hdrcharset=BINARY\n",
    b"13 size=99999\n",
    b"12 mtime=12x\n",
    b"9 path=\n",
    b"99 path=short\n",
    b"15 comment=hello\n",
    b"20 SCHILY.dev=12345\n",
], ids=["sparse-size", "hdrcharset", "size-differs", "bad-mtime", "empty-path", "bad-length", "comment", "schily"])
def test_pax_records_read_like_libarchive(tmp_path, records) -> None:
    path = tmp_path / "pax.tar"
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tf:
        _add(tf, "before.txt", b"before\n")
        pax = tarfile.TarInfo("PaxHeaders/x")
        pax.type = tarfile.XHDTYPE
        pax.size = len(records)
        tf.addfile(pax, io.BytesIO(records))
        _add(tf, "after.txt", b"after\n")
    same_as_libarchive(path)


# -- hostile archives -----------------------------------------------------------------------------------
def _base(tmp_path: Path) -> bytes:
    return python_tar(tmp_path / "base.tar", tarfile.GNU_FORMAT, big=150_000).read_bytes()


def test_archive_cut_anywhere_reads_like_libarchive(tmp_path) -> None:
    blob = _base(tmp_path)
    large = blob.index(b"top/large.bin") + 512  # where the large member's content starts
    in_large = [large + 1000, large + 65_536, large + 149_999, large + 150_000, large + 150_008, large + 150_016]
    for cut in [*range(0, len(blob), 613), 512, 1024 + 100, *in_large, len(blob) - 1024, len(blob) - 1]:
        path = tmp_path / f"cut{cut}.tar"
        path.write_bytes(blob[:cut])
        same_as_libarchive(path)


def test_bad_checksum_in_any_header_reads_like_libarchive(tmp_path) -> None:
    blob = _base(tmp_path)
    headers = [at for at in range(0, len(blob), 512) if blob[at + 257 : at + 262] == b"ustar"]
    for at in headers:
        damaged = bytearray(blob)
        damaged[at + 5] ^= 0x20
        path = tmp_path / f"ck{at}.tar"
        path.write_bytes(damaged)
        same_as_libarchive(path)


@pytest.mark.parametrize(("field", "value"), [
    ((124, 136), b"0000000x012\x00"),      # size with junk after digits
    ((124, 136), b"\xff" * 12),            # negative base-256 size
    ((124, 136), b"\x80" + bytes(10) + b"\x01"),  # base-256 size (the same 1 byte)
    ((124, 136), b"77777777777\x00"),      # size past the end
    ((124, 136), b"\t0000000012\x00"),     # tab before the digits
    ((100, 108), b"-000644\x00"),          # signed mode
    ((136, 148), b"garbage!!!!\x00"),      # mtime that is not a number
    ((156, 157), b"S"),                    # GNU sparse type without a map
    ((156, 157), b"g"),                    # pax global header
    ((156, 157), b"Z"),                    # vendor type
    ((0, 100), b"/etc/passwd".ljust(100, b"\x00")),
    ((0, 100), b"../../escape".ljust(100, b"\x00")),
    ((0, 100), bytes(100)),                # empty name
    ((0, 100), b"dirlike/".ljust(100, b"\x00")),
], ids=lambda v: repr(v)[:20])
def test_hostile_header_field_reads_like_libarchive(tmp_path, field, value) -> None:
    blob = bytearray(_base(tmp_path))
    at = 1024  # the third member's header (after "top" and an empty file)
    assert blob[at + 257 : at + 262] == b"ustar"
    blob[at + field[0] : at + field[1]] = value
    blob[at + 148 : at + 156] = b" " * 8
    blob[at + 148 : at + 156] = b"%06o\x00 " % sum(blob[at : at + 512])
    path = tmp_path / "hostile.tar"
    path.write_bytes(blob)
    same_as_libarchive(path)


def test_end_of_archive_then_more_bytes_reads_like_libarchive(tmp_path) -> None:
    blob = _base(tmp_path)
    for tail in (b"", bytes(512), b"garbage after the end" * 40):
        path = tmp_path / "tail.tar"
        path.write_bytes(blob + tail)
        same_as_libarchive(path)
    one_zero_block = tmp_path / "one-zero-block-then-member.tar"
    one_zero_block.write_bytes(blob[:512 * 3] + bytes(512) + blob[512 * 3:])
    same_as_libarchive(one_zero_block)


@pytest.mark.parametrize("limits", [Limits(max_member_bytes=100_000), Limits(max_total_bytes=400_000),
                                    Limits(max_members=5)], ids=["member", "total", "members"])
def test_limits_trip_where_they_tripped_with_libarchive(tmp_path, limits) -> None:
    path = python_tar(tmp_path / "t.tar", tarfile.GNU_FORMAT, big=150_000)
    same_as_libarchive(path, limits)
    blob = path.read_bytes()
    cut = tmp_path / "cut.tar"  # the archive ends inside the member the limit stops
    cut.write_bytes(blob[: blob.index(b"top/large.bin") + 512 + 120_000])
    same_as_libarchive(cut, limits)


def test_tar_inside_tar_and_tar_gz_read_like_libarchive(tmp_path) -> None:
    inner = python_tar(tmp_path / "inner.tar", tarfile.PAX_FORMAT, big=1_500_000)
    outer = tmp_path / "outer.tar"
    with tarfile.open(outer, "w", format=tarfile.GNU_FORMAT) as tf:
        _add(tf, "small.txt", b"small\n")
        _add(tf, "inner.tar", inner.read_bytes())
        _add(tf, "inner-copy.tar", inner.read_bytes()[:70_000])  # a nested tar cut short
    same_as_libarchive(outer)
    targz = tmp_path / "outer.tar.gz"
    targz.write_bytes(gzip.compress(outer.read_bytes()))
    same_as_libarchive(targz)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(gzip.compress(outer.read_bytes()[:1_200_000]))
    same_as_libarchive(cut)


def test_many_small_members_across_read_blocks_read_like_libarchive(tmp_path, handed_over) -> None:
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        for i in range(3000):
            _add(tf, f"d{i % 7}/f{i:05d}.txt", b"%d\n" % i * (i % 200))
    same_as_libarchive(path)
    gz = tmp_path / "many.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    same_as_libarchive(gz)
    assert handed_over == [0, 0]


def test_first_header_libarchive_would_not_bid_on_is_refused_like_libarchive(tmp_path) -> None:
    blob = bytearray(_base(tmp_path))
    blob[110] = ord(".")  # the uid of the first header: not a number, so libarchive does not take the archive
    blob[148:156] = b" " * 8
    blob[148:156] = b"%06o\x00 " % sum(blob[:512])
    path = tmp_path / "no-bid.tar"
    path.write_bytes(blob)
    inv = same_as_libarchive(path)
    assert [p.reason for p in inv.problems] == ["tar: Unrecognized archive format"]


def test_nul_before_the_digits_of_a_field_reads_like_libarchive(tmp_path) -> None:
    blob = bytearray(_base(tmp_path))
    at = 1024
    blob[at + 136] = 0  # mtime "\0dddddddddd\0": libarchive stops at the NUL and reads 0
    blob[at + 148 : at + 156] = b" " * 8
    blob[at + 148 : at + 156] = b"%06o\x00 " % sum(blob[at : at + 512])
    path = tmp_path / "nul-mtime.tar"
    path.write_bytes(blob)
    same_as_libarchive(path)


def test_v7_archive_handed_over_after_its_first_member_reads_like_libarchive(tmp_path, handed_over) -> None:
    blob = bytearray(v7_tar(tmp_path / "v7.tar").read_bytes())
    blob[1024 + 5] ^= 0x20  # a bad checksum in the third header
    path = tmp_path / "v7-damaged.tar"
    path.write_bytes(blob)
    same_as_libarchive(path)
    assert handed_over[0] == 1024


def test_random_header_damage_with_valid_checksums_reads_like_libarchive(tmp_path) -> None:
    import random

    rng = random.Random(12)
    bases = [python_tar(tmp_path / f"b{fmt}.tar", fmt).read_bytes()
             for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT)]
    for i in range(120):
        blob = bytearray(rng.choice(bases))
        headers = [at for at in range(0, len(blob) - 512, 512) if blob[at + 257 : at + 262] == b"ustar"]
        for _ in range(rng.randint(1, 3)):
            at = rng.choice(headers)
            offset = rng.choice([rng.randrange(512), rng.randrange(100, 160), 156, 345, 257])
            blob[at + offset] = rng.choice([0, 0x20, 0x30, 0x37, 0x38, 0x2F, 0x2E, 0x80, 0xFF, rng.randrange(256)])
            if rng.random() < 0.9:  # most get past the checksum, to reach the fields
                blob[at + 148 : at + 156] = b" " * 8
                blob[at + 148 : at + 156] = b"%06o\x00 " % sum(blob[at : at + 512])
        path = tmp_path / f"damaged{i}.tar"
        path.write_bytes(blob)
        same_as_libarchive(path)


def test_the_header_checksum_is_the_byte_sum_with_its_field_as_spaces_unsigned_or_signed() -> None:
    import random

    from inspector.unpack.archive import tar_sum_matches

    rng = random.Random(512)
    for _ in range(200):
        block = rng.randbytes(512)
        header = block[:148] + b" " * 8 + block[156:]
        unsigned = sum(header)
        signed = unsigned - 256 * sum(1 for b in header if b > 127)
        assert tar_sum_matches(block, unsigned)
        assert tar_sum_matches(block, signed)
        assert not tar_sum_matches(block, unsigned + 1)
