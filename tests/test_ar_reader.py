"""Our own ar header reader (``unpack/ar.py``) makes exactly the members and problems libarchive made.

Each archive is walked twice: with the registry's reader, and with libarchive alone in its place
(``archive.AR``); entries and problems must be equal. Archives come from binutils ``ar`` (GNU long-name
table, symbol table, object files compiled here), ``dpkg-deb``, the system's static libraries, llvm-ar's
BSD format, BSD headers made here, and hostile variants: archives cut at every point, headers whose
fields are not what they say, names the table does not hold.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path
from unittest import mock

import pytest

from inspector.limits import Limits
from inspector.model import Inventory
from inspector.unpack import ar, archive, registry
from inspector.unpack.registry import HANDLERS
from inspector.walker import Walker
from tests.conftest import require_tool

LIBARCHIVE_ONLY = tuple(archive.AR if isinstance(h, ar.ArHandler) else h for h in HANDLERS)
EPOCH = 1_600_000_000


def libarchive_walker(limits: Limits | None = None) -> Walker:
    """A walker with libarchive's ar reader in place of ours, listed with the same magic (so a .deb is not
    taken for a polyglot that libarchive's ar would also read)."""
    swapped = tuple((archive.AR if h is ar.AR else h, magics) for h, magics in registry.REGISTRY)
    with mock.patch.object(registry, "REGISTRY", swapped):
        return Walker(limits, handlers=LIBARCHIVE_ONLY)


def same_as_libarchive(path: Path, limits: Limits | None = None) -> Inventory:
    """Walk ``path`` with our reader and with libarchive alone; both must give the same inventory."""
    ours = Walker(limits).inventory(path)
    theirs = libarchive_walker(limits).inventory(path)
    assert [e for e in ours.entries] == [e for e in theirs.entries]
    assert ours.problems == theirs.problems
    return ours


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Offsets at which our reader handed an archive to libarchive during the test (libarchive's own
    ``members``, which the comparison walks call, resumes too, without saying whether to skip)."""
    calls: list[int] = []
    resume = archive.AR.resume

    def spy(stream, ctx, *, offset=0, **kwargs):  # type: ignore[no-untyped-def]
        if "skip" in kwargs:
            calls.append(offset)
        return resume(stream, ctx, offset=offset, **kwargs)

    monkeypatch.setattr(archive.AR, "resume", spy)
    return calls


# -- archives -------------------------------------------------------------------------------------------
def header(name: bytes, size: int, *, mtime: bytes = b"%d" % EPOCH, mode: bytes = b"100644",
           size_field: bytes | None = None, signature: bytes = b"`\n") -> bytes:
    """One 60-byte member header, each field space-padded as ar programs write them."""
    size_text = b"%d" % size if size_field is None else size_field
    return (name.ljust(16) + mtime.ljust(12) + b"0".ljust(6) + b"0".ljust(6) + mode.ljust(8) + size_text.ljust(10)
            + signature)


def member(name: bytes, data: bytes, **fields: bytes) -> bytes:
    """A header, the content and the padding to an even size."""
    return header(name, len(data), **fields) + data + (b"\n" if len(data) % 2 else b"")


def gnu_archive(members: list[tuple[bytes, bytes]], *, symbols: bool = True) -> bytes:
    """A GNU/SVR4 ar: a symbol table, a long-name table for names over 15 bytes, then the members."""
    table = b"".join(name + b"/\n" for name, _ in members if len(name) > 15)
    out = bytearray(ar.MAGIC)
    if symbols:
        out += member(b"/", b"\x00\x00\x00\x01\x00\x00\x00\x08symbol\x00")
    if table:
        out += member(b"//", table)
    at = 0
    for name, data in members:
        if len(name) > 15:
            out += member(b"/%d" % at, data)
            at += len(name) + 2
        else:
            out += member(name + b"/", data)
    return bytes(out)


def bsd_archive(members: list[tuple[bytes, bytes]]) -> bytes:
    """A BSD ar: names longer than 16 bytes or holding spaces stored as ``#1/<length>`` in front of the data."""
    out = bytearray(ar.MAGIC)
    for name, data in members:
        if len(name) > 16 or b" " in name:
            out += member(b"#1/%d" % len(name), name + data)
        else:
            out += member(name, data)
    return bytes(out)


def sample_members() -> list[tuple[bytes, bytes]]:
    """Odd and even sizes, empty, long names, and one member larger than what is read with its header."""
    rng = random.Random(5)
    return [(b"short.o", b"short\n"), (b"a-member-name-longer-than-15.o", b"long name " * 30 + b"!"),
            (b"empty", b""), (b"large.bin", rng.randbytes(ar.SMALL + 12_345)),
            (b"another-long-member-name.txt", b"x" * 1001), (b"last", b"the end")]


def write(tmp_path: Path, name: str, blob: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(blob)
    return path


# -- archives by independent tools ----------------------------------------------------------------------
def test_binutils_archives_of_compiled_objects_read_like_libarchive_without_handing_over(tmp_path, handed_over
                                                                                          ) -> None:
    require_tool("ar", "gcc")
    objects = []
    for i, name in enumerate(["a.c", "a-source-file-with-a-long-name.c", "odd.c"]):
        src = tmp_path / name
        src.write_text(f"int f{i}(int x) {{ return x * {i + 3}; }}\nconst char s{i}[] = \"{'s' * (i * 7 + 1)}\";\n")
        subprocess.run(["gcc", "-c", "-o", str(src.with_suffix(".o")), str(src)], check=True)
        objects.append(str(src.with_suffix(".o")))
    (tmp_path / "notes-with-a-long-name.txt").write_bytes(b"odd sized\n!")
    lib = tmp_path / "libsample.a"
    subprocess.run(["ar", "rcs", str(lib), *objects, str(tmp_path / "notes-with-a-long-name.txt")], check=True)
    inv = same_as_libarchive(lib)
    names = {e.path.rsplit("!/", 1)[-1] for e in inv.entries[1:]}
    assert names == {"a.o", "a-source-file-with-a-long-name.o", "odd.o", "notes-with-a-long-name.txt"}
    assert inv.complete and handed_over == []


def test_debian_packages_read_like_libarchive_without_handing_over(tmp_path, handed_over) -> None:
    require_tool("dpkg-deb")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: sample\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: nobody <nobody@example.com>\nDescription: sample\n")
    (root / "usr" / "share").mkdir(parents=True)
    (root / "usr" / "share" / "data.bin").write_bytes(os.urandom(100_001))
    deb = tmp_path / "sample_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    inv = same_as_libarchive(deb)
    assert inv.root.meta["control"]["package"] == "sample"
    assert inv.complete and handed_over == []


def test_static_libraries_of_this_system_read_like_libarchive_without_handing_over(handed_over) -> None:
    found = sorted(Path("/usr/lib/x86_64-linux-gnu").glob("*.a"), key=lambda p: p.stat().st_size)
    libs = [p for p in found if 10_000 < p.stat().st_size < 2_000_000][:4]
    if not libs:
        pytest.skip("no static libraries installed")
    for lib in libs:
        assert same_as_libarchive(lib).complete
    assert handed_over == []


def test_llvm_bsd_archives_read_like_libarchive_without_handing_over(tmp_path, handed_over) -> None:
    require_tool("llvm-ar")
    files = []
    for name, data in sample_members():
        path = tmp_path / name.decode()
        path.write_bytes(data)
        files.append(str(path))
    lib = tmp_path / "bsd.a"
    subprocess.run(["llvm-ar", "--format=bsd", "rc", str(lib), *files], check=True)
    assert same_as_libarchive(lib).complete
    assert handed_over == []


# -- archives made here ---------------------------------------------------------------------------------
def test_gnu_long_names_symbol_tables_and_large_members_read_like_libarchive(tmp_path, handed_over) -> None:
    inv = same_as_libarchive(write(tmp_path, "gnu.a", gnu_archive(sample_members())))
    assert [e.path.rsplit("!/", 1)[-1] for e in inv.entries[1:]] == [n.decode() for n, _ in sample_members()]
    assert handed_over == []


def test_bsd_long_names_and_symdef_members_read_like_libarchive(tmp_path, handed_over) -> None:
    members = [(b"__.SYMDEF SORTED", b"\x00" * 8), *sample_members(), (b"name with spaces.o", b"spaced\n")]
    inv = same_as_libarchive(write(tmp_path, "bsd.a", bsd_archive(members)))
    assert [e.path.rsplit("!/", 1)[-1] for e in inv.entries[1:]] == [n.decode() for n, _ in members]
    assert handed_over == []


def test_an_archive_cut_anywhere_reads_like_libarchive(tmp_path) -> None:
    blob = gnu_archive(sample_members())
    large_at = blob.index(b"large.bin/")
    cuts = [*range(0, 400), *range(large_at - 70, large_at + 200), large_at + 60 + 70_000, *range(len(blob) - 1200,
                                                                                                     len(blob))]
    for cut in sorted(set(cuts)):
        same_as_libarchive(write(tmp_path, f"cut-{cut}.a", blob[:cut]))


def test_unsafe_names_in_an_archive_cut_anywhere_are_said_once_as_libarchive_says_them(tmp_path) -> None:
    blob = gnu_archive([(b"../escape.txt", b"up and out\n"), (b"/etc/absolute-name-in-table", b"abs"),
                        (b"ok.txt", b"fine")], symbols=False)
    for cut in range(len(ar.MAGIC), len(blob) + 1):
        inv = same_as_libarchive(write(tmp_path, f"cut-{cut}.a", blob[:cut]))
        reasons = [p.reason for p in inv.problems if "unsafe" in p.reason]
        assert len(reasons) == len(set(reasons))


def test_a_bsd_archive_cut_anywhere_reads_like_libarchive(tmp_path) -> None:
    blob = bsd_archive([(b"a-bsd-name-longer-than-16.o", b"odd\n!"), (b"b", b"12"), (b"c.txt", b"last member\n")])
    for cut in range(len(blob) + 1):
        same_as_libarchive(write(tmp_path, f"cut-{cut}.a", blob[:cut]))


@pytest.mark.parametrize("fields", [
    {"signature": b"`X"}, {"size_field": b"-5"}, {"size_field": b"  "}, {"size_field": b"1 2"},
    {"size_field": b"99999999"}, {"mode": b"40755"}, {"mode": b"120777"}, {"mode": b"0"}, {"mode": b"6448"},
    {"mode": b"\t644"}, {"mtime": b"-1"}, {"mtime": b"12x"}, {"mtime": b""},
], ids=lambda f: "-".join(f"{k}={v!r}" for k, v in f.items()))
def test_a_member_whose_fields_are_odd_reads_like_libarchive(tmp_path, fields: dict[str, bytes]) -> None:
    blob = (ar.MAGIC + member(b"first.txt/", b"first\n") + member(b"odd.bin/", b"odd content!!", **fields)
            + member(b"after.txt/", b"after\n"))
    same_as_libarchive(write(tmp_path, "odd.a", blob))


@pytest.mark.parametrize("name", [b"/", b"/9", b"/abc", b"/12x", b"#1/", b"#1/x", b"#1/999", b"a\x00b/",
                                  b"caf\xc3\xa9/", b"   ", b"x/", b"/etc/passwd", b"//", b"-"])
def test_a_member_whose_name_is_odd_reads_like_libarchive(tmp_path, name: bytes) -> None:
    blob = (gnu_archive([(b"a-long-name-for-the-table.o", b"table\n")], symbols=False)
            + member(name, b"odd name content") + member(b"after.txt/", b"after\n"))
    same_as_libarchive(write(tmp_path, "names.a", blob))


@pytest.mark.parametrize("table", [b"", b"one/\ntwo/\n", b"one/x", b"no-terminator", b"one/\n`", b"one/\n\n",
                                   b"/\n"])
def test_long_name_tables_read_like_libarchive(tmp_path, table: bytes) -> None:
    blob = ar.MAGIC + member(b"//", table) + member(b"/0", b"first\n") + member(b"/5", b"second\n")
    same_as_libarchive(write(tmp_path, "table.a", blob))


def test_a_second_long_name_table_reads_like_libarchive(tmp_path) -> None:
    blob = ar.MAGIC + member(b"//", b"one/\n") + member(b"/0", b"1") + member(b"//", b"two/\n") + member(b"/0", b"2")
    same_as_libarchive(write(tmp_path, "tables.a", blob))


def test_a_hand_over_keeps_the_long_name_table_and_the_archive_offsets(tmp_path, handed_over) -> None:
    names = [(b"first-member-with-a-long-name.o", b"1" * 11), (b"second-member-with-a-long-name.o", b"2" * 12)]
    blob = bytearray(gnu_archive(names))
    second = blob.index(b"/33 ")
    blob[second + 40 : second + 48] = b"40755   "  # a directory's mode: libarchive's to read from here on
    blob += member(b"/0", b"third, named from the table\n") + member(b"neg.bin/", b"xx", size_field=b"-5")
    inv = same_as_libarchive(write(tmp_path, "handed.a", bytes(blob)))
    assert handed_over == [second]
    assert any(f"at byte {len(blob) - 62}:" in p.reason for p in inv.problems)


def test_mutated_archives_read_like_libarchive(tmp_path) -> None:
    rng = random.Random(12)
    base = gnu_archive(sample_members()[:3] + [(b"z-long-name-at-the-end.txt", b"z" * 301)])
    headers = [i for i in range(len(base) - 60) if base[i + 58 : i + 60] == b"`\n"]
    for i in range(150):
        blob = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at = rng.choice(headers) + rng.randrange(60)
            blob[at] = rng.choice([0, 0x20, 0x2F, 0x30, 0x39, 0x2D, 0x60, 0x0A, 0x80, rng.randrange(256)])
        same_as_libarchive(write(tmp_path, f"mutant-{i}.a", bytes(blob)))


def test_an_ar_inside_a_compressed_stream_reads_like_libarchive(tmp_path) -> None:
    require_tool("gzip")
    path = write(tmp_path, "lib.a", gnu_archive(sample_members()))
    subprocess.run(["gzip", "-k", str(path)], check=True)
    same_as_libarchive(tmp_path / "lib.a.gz")
    shutil.copy(tmp_path / "lib.a.gz", tmp_path / "cut.a.gz")
    data = (tmp_path / "lib.a.gz").read_bytes()
    (tmp_path / "cut.a.gz").write_bytes(data[: len(data) // 2])
    same_as_libarchive(tmp_path / "cut.a.gz")
