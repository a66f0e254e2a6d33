"""Executables over the in-memory bound are spooled and read from the spool, giving exactly what reading
them from memory gives; and our ELF/PE record readers agree with LIEF and pyelftools on real builds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import inspector.walker as walker_module
from fixtures import binaries
from fixtures.common import pseudo_random, tar_bytes
from fixtures.executables import elf_image, pe_image
from inspector.binaries.headers import BinaryFormatError
from inspector.binaries.reader import read_binary, read_binary_file
from inspector.sniff import detect_type
from inspector.walker import walk
from tests.test_binary_sections import elf_builds, pe_builds  # noqa: F401 - module fixtures reused here


def _both(tmp_path: Path, name: str, data: bytes) -> tuple[dict, dict]:
    detected = detect_type(data[:4096])
    path = tmp_path / name
    path.write_bytes(data)
    with open(path, "rb") as fh:
        streamed = read_binary_file(detected, fh, len(data)).to_meta()
    return read_binary(detected, data).to_meta(), streamed


@pytest.mark.parametrize("build", ["exe", "lib.so", "module.o", "debug", "m32.o"])
def test_streamed_elf_reading_equals_the_in_memory_one(tmp_path, elf_builds, build) -> None:  # noqa: F811
    if build not in elf_builds:
        pytest.skip(f"gcc could not build {build} here")
    path, _meta = elf_builds[build]
    in_memory, streamed = _both(tmp_path, build, path.read_bytes())
    assert streamed == in_memory


@pytest.mark.parametrize("build", ["prog.exe", "prog.dll"])
def test_streamed_pe_reading_equals_the_in_memory_one(tmp_path, pe_builds, build) -> None:  # noqa: F811
    path, _meta = pe_builds[build]
    in_memory, streamed = _both(tmp_path, build, path.read_bytes())
    assert streamed == in_memory


@pytest.mark.parametrize("name,data", [("fixture.elf", elf_image(pseudo_random("e", 90_000), 100_000)),
                                       ("fixture32.elf", elf_image(pseudo_random("f", 90_000), 100_000, bits=32)),
                                       ("fixture.efi", pe_image(pseudo_random("p", 90_000), 100_000)),
                                       ("fixture32.exe", pe_image(pseudo_random("q", 90_000), 100_000,
                                                                  pe32plus=False))])
def test_streamed_reading_of_fixture_executables_equals_the_in_memory_one(tmp_path, name, data) -> None:
    in_memory, streamed = _both(tmp_path, name, data)
    assert streamed == in_memory


@pytest.mark.parametrize("name", [n for n in binaries.LIES if not n.startswith("macho")])
def test_streamed_reading_names_the_field_of_a_header_lie(tmp_path, name) -> None:
    make, field = binaries.LIES[name]
    data = make()
    path = tmp_path / name
    path.write_bytes(data)
    with open(path, "rb") as fh, pytest.raises(BinaryFormatError, match=field.strip("'")):
        read_binary_file(detect_type(data[:4096]), fh, len(data))


def test_walker_spools_a_large_executable_and_records_the_same_sections(tmp_path, monkeypatch) -> None:
    data = elf_image(pseudo_random("big", 300_000), 400_000)
    image = tmp_path / "bins.tar"
    image.write_bytes(tar_bytes({"usr/lib/libbig.so": data}, compress=None))
    in_memory = walk(image).by_path()["bins.tar!/usr/lib/libbig.so"]
    monkeypatch.setattr(walker_module, "IN_MEMORY_MAX", 100_000)  # this one goes to a spool file
    spooled = walk(image).by_path()["bins.tar!/usr/lib/libbig.so"]
    assert spooled.meta["binary"] == in_memory.meta["binary"]
    assert spooled.sha256 == hashlib.sha256(data).hexdigest()


# -- our record readers against LIEF and pyelftools, on the same gcc/MinGW builds ---------------------------
def _lief_sections(path: Path, fmt: str) -> list[tuple[str, int, int]]:
    lief = pytest.importorskip("lief")
    lief.logging.disable()
    binary = lief.parse(str(path))
    if fmt == "pe":
        return [(s.name, int(s.pointerto_raw_data), int(s.sizeof_raw_data)) for s in binary.sections]
    return [(s.name, int(s.file_offset), int(s.size)) for s in binary.sections if int(s.type.value if hasattr(
        s.type, "value") else s.type) != 0]


@pytest.mark.parametrize("build", ["exe", "lib.so", "module.o", "debug", "m32.o"])
def test_elf_sections_agree_with_lief_and_pyelftools(elf_builds, build) -> None:  # noqa: F811
    from elftools.elf.elffile import ELFFile

    if build not in elf_builds:
        pytest.skip(f"gcc could not build {build} here")
    path, _meta = elf_builds[build]
    ours = read_binary(detect_type(path.read_bytes()[:4096]), path.read_bytes())
    assert [(s.name, s.offset, s.size) for s in ours.sections] == _lief_sections(path, "elf")
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        theirs = [(s.name, s["sh_offset"], s["sh_size"], s["sh_flags"]) for s in elf.iter_sections()][1:]
        assert ours.machine == {"EM_X86_64": "X86_64", "EM_386": "I386"}[elf["e_machine"]]
    assert [(s.name, s.offset, s.size) for s in ours.sections] == [t[:3] for t in theirs]


@pytest.mark.parametrize("build", ["prog.exe", "prog.dll"])
def test_pe_sections_agree_with_lief(pe_builds, build) -> None:  # noqa: F811
    path, _meta = pe_builds[build]
    ours = read_binary("pe", path.read_bytes())
    theirs = _lief_sections(path, "pe")
    # LIEF spells long names as "/4" (ours resolves them like objdump): compare where each section lies
    assert [s.offset for s in ours.sections] == [offset for _name, offset, _raw in theirs]
    assert [s.name for s in ours.sections if not s.name.startswith(".debug")] == [
        name for name, _o, _r in theirs if not name.startswith("/")]
    assert ours.machine == "AMD64"


@pytest.mark.parametrize("in_memory_max", [None, 100_000], ids=["in memory", "spooled"])
def test_an_executable_after_a_larger_one_is_read_from_its_own_bytes(tmp_path, monkeypatch, in_memory_max) -> None:
    # the walk reuses one buffer and one spool file for every executable: what a larger one left there is
    # never read as part of the next
    large, small = elf_image(pseudo_random("large", 300_000), 400_000), elf_image(pseudo_random("small", 150_000),
                                                                                  200_000)
    alone = tmp_path / "alone.tar"
    alone.write_bytes(tar_bytes({"lib/b.so": small}, compress=None))
    both = tmp_path / "both.tar"
    both.write_bytes(tar_bytes({"lib/a.so": large, "lib/b.so": small}, compress=None))
    if in_memory_max is not None:
        monkeypatch.setattr(walker_module, "IN_MEMORY_MAX", in_memory_max)
    after = walk(both).by_path()["both.tar!/lib/b.so"]
    assert after.meta["binary"] == walk(alone).by_path()["alone.tar!/lib/b.so"].meta["binary"]
    assert after.meta["binary"] == read_binary("elf", small).to_meta()
    assert after.sha256 == hashlib.sha256(small).hexdigest()
