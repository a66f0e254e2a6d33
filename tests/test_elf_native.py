"""The compiled ELF section reader (``native.elf_meta``, through ``binaries.elf.elf_meta``) gives exactly the
``meta["binary"]`` that ``read_elf(...).to_meta()`` gives, or None, so that ``read_elf`` decides.

``read_elf`` is the reference. Both read gcc's objects, shared libraries and executables (64- and 32-bit), the
same files rewritten big-endian, and thousands of mutants of them; the compiled reader must either give the
reference's meta (same keys in the same order, the same section dicts) or give None, and must never give a
meta where the reference rejects the file. A spooled executable is read through its descriptor with the same
result, and whole walks are the same with and without the compiled reader.
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fixtures import binaries
from inspector import native, walker
from inspector.binaries import elf
from inspector.binaries.headers import BinaryFormatError
from inspector.binaries.reader import binary_meta, binary_meta_file, read_binary
from inspector.walker import walk
from tests.test_binary_sections import ELF_BUILDS, MAIN, PROGRAM

try:
    from inspector import _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(_native is None or not _native.has_sha256(), reason="inspector._native was not "
                                "built (or libcrypto's SHA256 was not found): read_elf is what runs")


@pytest.fixture(scope="module")
def gcc_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Each of test_binary_sections' gcc builds that this machine can make -> its bytes."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    tmp = tmp_path_factory.mktemp("elf-native")
    (tmp / "prog.c").write_text(PROGRAM)
    (tmp / "main.c").write_text(MAIN)
    built = {}
    for name, args in ELF_BUILDS.items():
        sources = [str(tmp / "prog.c")] + ([str(tmp / "main.c")] if name in ("exe", "debug") else [])
        if subprocess.run([gcc, *args, *sources, "-o", str(tmp / name)], capture_output=True).returncode == 0:
            built[name] = (tmp / name).read_bytes()
    assert "exe" in built and "module.o" in built
    return built


def compiled(data: Any, size: int = -1) -> dict[str, Any] | None:
    """The compiled reader's meta of ``data`` (called directly: ``INSPECTOR_PURE_PYTHON`` does not switch it off)."""
    return _native.elf_meta(data, elf.section_row_kind, elf.MACHINES, size)


def reference(data: bytes) -> dict[str, Any] | None:
    """``read_elf``'s meta of ``data``, or None where it rejects the file."""
    try:
        return read_binary("elf", data).to_meta()
    except BinaryFormatError:
        return None


def same_shape(fast: dict[str, Any], ref: dict[str, Any]) -> bool:
    """Equal, with keys in the same order (the JSON documents are compared byte for byte elsewhere)."""
    return (fast == ref and list(fast) == list(ref)
            and all(list(a) == list(b) for a, b in zip(fast["sections"], ref["sections"], strict=True)))


def big_endian(data: bytes) -> bytes:
    """A little-endian ELF file rewritten big-endian: its header and section header table (what is read)."""
    out = bytearray(data)
    wide = data[4] == 2
    out[5] = 2
    header = "HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"
    out[16:64 if wide else 52] = struct.pack(">" + header, *struct.unpack_from("<" + header, data, 16))
    record = "IIQQQQIIQQ" if wide else "IIIIIIIIII"
    shoff, shnum = (struct.unpack_from("<Q", data, 0x28)[0], struct.unpack_from("<H", data, 0x3C)[0]) if wide else \
        (struct.unpack_from("<I", data, 0x20)[0], struct.unpack_from("<H", data, 0x30)[0])
    size = struct.calcsize(record)
    for i in range(shnum):
        at = shoff + i * size
        out[at : at + size] = struct.pack(">" + record, *struct.unpack_from("<" + record, data, at))
    return bytes(out)


# -- well-formed files -------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", list(ELF_BUILDS))
def test_compiled_reader_gives_read_elfs_meta_for_gcc_builds(gcc_builds, build) -> None:
    if build not in gcc_builds:
        pytest.skip(f"gcc could not build {build} here")
    data = gcc_builds[build]
    fast, ref = compiled(data), reference(data)
    assert fast is not None and ref is not None
    assert same_shape(fast, ref)


@pytest.mark.parametrize("build", ["exe", "module.o", "m32.o"])
def test_compiled_reader_reads_big_endian_files_as_read_elf_does(gcc_builds, build) -> None:
    if build not in gcc_builds:
        pytest.skip(f"gcc could not build {build} here")
    data = big_endian(gcc_builds[build])
    fast, ref = compiled(data), reference(data)
    assert fast is not None and ref is not None
    assert same_shape(fast, ref)
    assert fast["code_bytes"] == compiled(gcc_builds[build])["code_bytes"]  # type: ignore[index]


def test_compiled_reader_gives_the_fixture_builders_elf_with_writable_code_as_read_elf() -> None:
    data = binaries.elf_image(binaries.CONTENT, writable_text=True)
    fast = compiled(data)
    assert fast is not None and same_shape(fast, reference(data))  # type: ignore[arg-type]
    assert fast["writable_code_bytes"] > 0 and any(s.get("writable") for s in fast["sections"])


def test_an_unknown_machine_is_spelt_as_its_number() -> None:
    data = binaries.elf_image(binaries.CONTENT, machine=4242)
    fast = compiled(data)
    assert fast is not None and fast["machine"] == "4242" and same_shape(fast, reference(data))  # type: ignore[arg-type]


# -- what the compiled reader leaves to read_elf -------------------------------------------------------------
def test_a_name_table_that_is_not_ascii_is_left_to_read_elf(gcc_builds) -> None:
    data = bytearray(gcc_builds["exe"])
    at = data.index(b".rodata\0")
    data[at + 2] = 0xE9
    assert compiled(bytes(data)) is None
    assert "\ufffd" in str(reference(bytes(data)))


@pytest.mark.parametrize("lie", [name for name, (make, _field) in binaries.LIES.items() if make()[:4] == b"\x7fELF"])
def test_every_elf_header_lie_is_left_to_read_elf_which_names_the_field(lie) -> None:
    data = binaries.LIES[lie][0]()
    assert compiled(data) is None
    with pytest.raises(BinaryFormatError):
        read_binary("elf", data)


def test_a_file_without_a_section_table_is_left_to_read_elfs_program_headers(gcc_builds) -> None:
    data = bytearray(gcc_builds["exe"])
    struct.pack_into("<Q", data, 0x28, 0)  # e_shoff
    struct.pack_into("<HH", data, 0x3C, 0, 0)  # e_shnum, e_shstrndx
    assert compiled(bytes(data)) is None
    ref = reference(bytes(data))
    assert ref is not None and ref["sections"][0]["flags"] == "segment"


# -- mutants ---------------------------------------------------------------------------------------------------
BOUNDARY = (0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def mutants(data: bytes, seed: str, count: int) -> Iterator[bytes]:
    """``count`` copies of ``data`` with one to four header, section-table or name-table fields changed or cut."""
    rng = random.Random(seed)
    wide = data[4] == 2
    shoff = struct.unpack_from("<Q" if wide else "<I", data, 0x28 if wide else 0x20)[0]
    for _ in range(count):
        out = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4))):
            region = rng.random()
            if region < 0.3:
                at = rng.randrange(64)
            elif region < 0.8:
                at = rng.randrange(shoff, len(out)) if shoff < len(out) else rng.randrange(len(out))
            else:
                at = rng.randrange(len(out))
            if at >= len(out):  # an earlier cut took it
                continue
            op = rng.randrange(4)
            if op == 0:
                out[at] ^= 1 << rng.randrange(8)
            elif op == 1:
                width = rng.choice((2, 4, 8))
                if at + width <= len(out):
                    value = rng.choice(BOUNDARY + (len(out), len(out) - 1, rng.randrange(len(out))))
                    out[at : at + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
            elif op == 2:
                del out[max(at, 16):]
            else:
                out[at] = rng.randrange(256)
        yield bytes(out)


@pytest.mark.parametrize("build", ["exe", "module.o", "m32.o", "big-endian"])
def test_mutants_get_read_elfs_meta_or_none_never_a_meta_read_elf_would_reject(gcc_builds, build) -> None:
    if build == "big-endian":
        original = big_endian(gcc_builds["module.o"])
    elif build in gcc_builds:
        original = gcc_builds[build]
    else:
        pytest.skip(f"gcc could not build {build} here")
    read = left = 0
    for i, data in enumerate(mutants(original, f"elf-native:{build}", 1500)):
        fast, ref = compiled(data), reference(data)
        if fast is None:
            left += 1
            continue
        assert ref is not None, f"mutant {i}: the compiled reader read a file read_elf rejects"
        assert same_shape(fast, ref), f"mutant {i}"
        read += 1
    assert read > 100 and left > 100, (read, left)  # both outcomes are exercised


# -- a spooled executable ------------------------------------------------------------------------------------
def test_a_spooled_file_read_through_its_descriptor_gives_the_same_meta(gcc_builds, tmp_path) -> None:
    data = gcc_builds["exe"]
    with open(tmp_path / "spool", "w+b") as fh, compiled_elf_reader(True):
        fh.write(data + b"stale bytes of a larger executable")
        fh.flush()
        assert binary_meta_file("elf-executable", fh, len(data)) == binary_meta("elf-executable", data)
        assert compiled(fh.fileno(), len(data)) == compiled(data)


def test_a_descriptor_that_holds_fewer_bytes_than_said_is_left_to_read_elf(gcc_builds, tmp_path) -> None:
    data = gcc_builds["exe"]
    with open(tmp_path / "spool", "w+b") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        assert compiled(fh.fileno(), len(data)) is None


# -- whole walks -----------------------------------------------------------------------------------------------
@contextmanager
def compiled_elf_reader(on: bool) -> Iterator[None]:
    saved = native.elf_meta
    native.elf_meta = _native.elf_meta if on else None
    try:
        yield
    finally:
        native.elf_meta = saved


def test_a_walk_is_the_same_with_and_without_the_compiled_reader_in_memory_and_spooled(gcc_builds, tmp_path,
                                                                                       monkeypatch) -> None:
    tar = tmp_path / "bins.tar"
    with tarfile.open(tar, "w") as tf:
        for name, data in [*gcc_builds.items(), ("be.o", big_endian(gcc_builds["module.o"]))]:
            (tmp_path / name).write_bytes(data)
            tf.add(tmp_path / name, arcname=f"bin/{name}")
    monkeypatch.setattr(walker, "IN_MEMORY_MAX", 4096)  # the larger builds go through the spool
    runs = []
    for on in (False, True):
        with compiled_elf_reader(on):
            inv = walk(str(tar))
        runs.append(sorted((e.path, e.sha256, repr(dict(e.meta))) for e in inv.entries))
    assert runs[0] == runs[1]
    assert sum("'binary'" in meta for _p, _s, meta in runs[1]) == len(gcc_builds) + 1


def test_binary_meta_goes_to_the_compiled_reader_when_it_is_switched_on(gcc_builds, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(native, "elf_meta", lambda *args: calls.append(args) or _native.elf_meta(*args))
    assert binary_meta("elf-shared", gcc_builds["lib.so"]) == reference(gcc_builds["lib.so"])
    assert len(calls) == 1
    with compiled_elf_reader(False):
        assert binary_meta("elf-shared", gcc_builds["lib.so"]) == reference(gcc_builds["lib.so"])
    assert len(calls) == 1


def test_the_class_rule_is_asked_once_per_distinct_name_type_and_flags(gcc_builds) -> None:
    elf.section_row_kind.cache_clear()
    compiled(gcc_builds["exe"])
    compiled(gcc_builds["exe"])
    info = elf.section_row_kind.cache_info()
    assert info.misses == len(compiled(gcc_builds["exe"])["sections"])  # type: ignore[index]
    assert info.hits == info.misses
