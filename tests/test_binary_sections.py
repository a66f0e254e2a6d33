"""Executables' section tables, checked against independent tools, and hostile executables.

Every input is built here: C compiled by gcc (ELF) and MinGW-w64 (PE), the fixture builders' ELF, PE and
Mach-O files, and header lies made from them (``fixtures/binaries.py``). The oracles are binutils'
``readelf -S -W``, ``size -A`` and ``objdump -h`` (which reads PE images as well as ELF) and LLVM's
``llvm-readobj`` for Mach-O (binutils here has no Mach-O target). Each executable goes through the real
walker as a member of a tar, so what is checked is what lands in ``entry.meta["binary"]``.

What the oracles say about sizes, and so which field each is compared with:
- ELF: readelf's Size is ``sh_size``, the section's size in memory; a NOBITS section (``.bss``) has one
  but no bytes in the file: ``size`` equals it, ``file_size`` is 0.
- PE: objdump's Size is not the raw size. BFD (``coff_swap_scnhdr_in`` in peicode.h) reports the
  VirtualSize when the raw data is padded beyond it (``.data``: 0xf0 in memory, 0x200 raw), and also for
  uninitialised data with no raw bytes (``.bss``); otherwise SizeOfRawData. That is ``file_size`` (the
  bytes of the section the file holds, min(raw, virtual)) for a section with raw data, and ``size`` (the
  VirtualSize) for bss.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fixtures import binaries
from fixtures.executables import MACHO_TEXT_VMADDR, elf_image, macho_image, pe_image
from inspector.limits import Limits
from inspector.model import Entry, Inventory, ProblemKind
from inspector.walker import walk

#: A small C program: code, strings, a constant table, initialised and zero-initialised data, a
#: kernel-module-like ``.modinfo`` section and a call through the PLT. No header is included, so it
#: compiles with -m32 where no 32-bit libc headers are installed.
PROGRAM = textwrap.dedent("""\
    extern int printf(const char *, ...);
    static const char banner[] = "inspector binary sections test";
    static const int table[16] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597};
    int counter = 42;
    int zeroes[1024];
    __attribute__((section(".modinfo"), used)) static const char modinfo[] = "license=GPL\\0author=test";
    int work(int x) { return x * counter + banner[x % 8] + table[x % 16] + zeroes[x % 1024]; }
    int report(int x) { return printf("%s %d\\n", banner, work(x)); }
    """)
MAIN = "int report(int);\nint main(int argc, char **argv) { (void)argv; return report(argc) & 1; }\n"

#: ELF builds: file name -> gcc arguments (the source and -o are added).
ELF_BUILDS = {
    "exe": ["-O1"],
    "lib.so": ["-O1", "-shared", "-fPIC"],
    "module.o": ["-O1", "-c"],
    "debug": ["-O1", "-g"],
    "m32.o": ["-O1", "-m32", "-c"],
}
_LINKED = {"exe", "debug"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _walk_in_tar(tmp: Path, members: Mapping[str, bytes], limits: Limits | None = None) -> Inventory:
    """Walk a tar holding ``members`` (under ``bin/``), so each executable is a nested member."""
    tar = tmp / "image.tar"
    with tarfile.open(tar, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"bin/{name}")
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))
    return walk(tar, limits)


def _member(inv: Inventory, name: str) -> Entry:
    return inv.by_path()[f"image.tar!/bin/{name}"]


# -- oracles ---------------------------------------------------------------------------------------------
_READELF_ROW = re.compile(r"^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+"
                          r"\s+([WAXMSILOGTCxoEDlp]*)\s+\d+\s+\d+\s+\d+\s*$")


def readelf_sections(path: Path) -> list[dict[str, Any]]:
    """``readelf -S -W``: every section but the reserved null one, in table order."""
    rows = []
    for line in _run(_tool("readelf"), "-S", "-W", str(path)).splitlines():
        m = _READELF_ROW.match(line)
        if m and m.group(1) != "0":
            rows.append({"name": m.group(2), "type": m.group(3), "offset": int(m.group(4), 16),
                         "size": int(m.group(5), 16), "flags": m.group(6)})
    assert rows, f"readelf printed no section of {path}"
    return rows


def size_a(path: Path) -> dict[str, int]:
    """``size -A``: section name -> size."""
    out = {}
    for line in _run(_tool("size"), "-A", str(path)).splitlines()[2:]:
        parts = line.split()
        if len(parts) == 3 and parts[0] != "Total":
            out[parts[0]] = int(parts[1])
    return out


_CONTENT_TYPES = {"PROGBITS", "INIT_ARRAY", "FINI_ARRAY", "PREINIT_ARRAY"}


def readelf_class(row: Mapping[str, Any]) -> str:
    """The class the rules give a section, from what readelf prints of it (type, flag letters, name)."""
    flags, name = row["flags"], row["name"]
    if "A" not in flags:
        return "debug" if name.startswith((".debug", ".zdebug", ".stab")) else "other"
    if row["type"] == "NOBITS":
        return "bss"
    if row["type"] not in _CONTENT_TYPES:
        return "other"
    return "code" if "X" in flags else "data" if "W" in flags else "rodata"


_OBJDUMP_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+2\*\*\d+\s*(.*)$")


def objdump_sections(path: Path) -> list[dict[str, Any]]:
    """``objdump -h -w``: name, Size, File off and the flag words of every section."""
    rows = []
    for line in _run(_tool("objdump"), "-h", "-w", str(path)).splitlines():
        m = _OBJDUMP_ROW.match(line)
        if m:
            rows.append({"name": m.group(2), "size": int(m.group(3), 16), "offset": int(m.group(4), 16),
                         "flags": {w.strip() for w in m.group(5).split(",")}})
    assert rows, f"objdump printed no section of {path}"
    return rows


def objdump_pe_class(row: Mapping[str, Any]) -> str:
    """The class the rules give a PE section, from objdump's flag words."""
    flags = row["flags"]
    if "DEBUGGING" in flags:
        return "debug"
    if "CODE" in flags:
        return "code"
    if "CONTENTS" not in flags:
        return "bss"
    if row["name"] == ".reloc":
        return "other"
    return "rodata" if "READONLY" in flags else "data"


def llvm_readobj_sections(path: Path) -> list[dict[str, Any]]:
    """``llvm-readobj --sections`` of a Mach-O file: segment,name, size, offset, type."""
    text = _run(_tool("llvm-readobj"), "--sections", str(path))
    rows = []
    for block in text.split("Section {")[1:]:
        field = dict(re.findall(r"^\s*(\w+): (\S+)", block, re.M))
        rows.append({"name": f"{field['Segment']},{field['Name']}", "size": int(field["Size"], 16),
                     "offset": int(field["Offset"]), "type": field["Type"]})
    return rows


# -- ELF built by gcc, against binutils -------------------------------------------------------------------
@pytest.fixture(scope="module")
def elf_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Each ELF build -> (its file, its ``meta["binary"]`` after a walk of a tar holding them all)."""
    gcc = _tool("gcc")
    tmp = tmp_path_factory.mktemp("elf")
    (tmp / "prog.c").write_text(PROGRAM)
    (tmp / "main.c").write_text(MAIN)
    built = {}
    for name, args in ELF_BUILDS.items():
        sources = [str(tmp / "prog.c")] + ([str(tmp / "main.c")] if name in _LINKED else [])
        done = subprocess.run([gcc, *args, *sources, "-o", str(tmp / name)], capture_output=True)
        if done.returncode == 0:
            built[name] = tmp / name
    assert "exe" in built, "gcc could not build an executable"
    inv = _walk_in_tar(tmp, {name: path.read_bytes() for name, path in built.items()})
    assert not inv.problems, [p.line() for p in inv.problems]
    return {name: (path, dict(_member(inv, name).meta["binary"])) for name, path in built.items()}


def _build(elf_builds: Mapping[str, tuple[Path, dict[str, Any]]], name: str) -> tuple[Path, dict[str, Any]]:
    if name not in elf_builds:
        pytest.skip(f"gcc could not build {name} here (gcc {' '.join(ELF_BUILDS[name])})")
    return elf_builds[name]


def _by_name(meta: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in meta["sections"]}


@pytest.mark.parametrize("build", list(ELF_BUILDS))
def test_elf_section_names_sizes_offsets_and_flags_match_readelf(elf_builds, build) -> None:
    path, meta = _build(elf_builds, build)
    ours = [(s["name"], s["size"], s["offset"], s["flags"]) for s in meta["sections"]]
    theirs = [(r["name"], r["size"], r["offset"], r["flags"]) for r in readelf_sections(path)]
    assert ours == theirs


@pytest.mark.parametrize("build", list(ELF_BUILDS))
def test_elf_section_sizes_match_size_dash_a(elf_builds, build) -> None:
    path, meta = _build(elf_builds, build)
    ours = _by_name(meta)
    theirs = size_a(path)
    assert theirs
    assert {name: ours[name]["size"] for name in theirs} == theirs


@pytest.mark.parametrize("build", list(ELF_BUILDS))
def test_elf_section_classes_follow_type_and_flags_as_readelf_prints_them(elf_builds, build) -> None:
    path, meta = _build(elf_builds, build)
    assert {s["name"]: s["class"] for s in meta["sections"]} == \
        {r["name"]: readelf_class(r) for r in readelf_sections(path)}


@pytest.mark.parametrize("build", list(ELF_BUILDS))
def test_elf_code_bytes_are_the_sum_of_the_executable_sections_per_readelf(elf_builds, build) -> None:
    path, meta = _build(elf_builds, build)
    rows = readelf_sections(path)
    code = sum(r["size"] for r in rows if "A" in r["flags"] and "X" in r["flags"] and r["type"] == "PROGBITS")
    assert code > 0 and meta["code_bytes"] == code
    nobits = sum(r["size"] for r in rows if "A" in r["flags"] and r["type"] == "NOBITS")
    assert meta["bss_bytes"] == nobits


def test_elf_module_like_object_has_text_code_rodata_data_bss_and_other_tables(elf_builds) -> None:
    _path, meta = _build(elf_builds, "module.o")
    s = _by_name(meta)
    assert s[".text"]["class"] == "code" and s[".text"]["flags"] == "AX"
    assert s[".rodata"]["class"] == "rodata"
    assert s[".modinfo"]["class"] == "rodata" and s[".modinfo"]["size"] == len("license=GPL\0author=test\0")
    assert s[".data"]["class"] == "data" and s[".data"]["size"] == 4
    assert s[".rela.text"]["class"] == "other" and s[".symtab"]["class"] == "other"


def test_elf_bss_has_a_size_in_memory_and_no_bytes_in_the_file(elf_builds) -> None:
    for name in ("exe", "lib.so", "module.o"):
        bss = _by_name(_build(elf_builds, name)[1])[".bss"]
        assert bss["class"] == "bss" and bss["file_size"] == 0 and bss["size"] >= 4096


def test_elf_debug_build_has_its_dwarf_sections_as_debug(elf_builds) -> None:
    path, meta = _build(elf_builds, "debug")
    debug = {r["name"]: r["size"] for r in readelf_sections(path) if r["name"].startswith(".debug_")}
    assert {".debug_info", ".debug_abbrev", ".debug_line"} <= set(debug)
    s = _by_name(meta)
    assert all(s[name]["class"] == "debug" for name in debug)
    assert meta["debug_bytes"] == sum(debug.values())
    assert _by_name(_build(elf_builds, "exe")[1]).keys().isdisjoint(debug)


def test_elf_debug_build_has_the_same_code_as_the_plain_build(elf_builds) -> None:
    plain, debug = _build(elf_builds, "exe")[1], _build(elf_builds, "debug")[1]
    assert debug["code_bytes"] == plain["code_bytes"] and debug["code_sha256"] == plain["code_sha256"]


def test_elf32_object_is_read_as_i386(elf_builds) -> None:
    path, meta = _build(elf_builds, "m32.o")
    assert path.read_bytes()[4] == 1  # ELFCLASS32
    assert meta["format"] == "elf" and meta["machine"] == "I386"
    assert _by_name(meta)[".text"]["class"] == "code"


# -- PE, against objdump -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pe_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """A MinGW-w64 .exe and .dll of ``PROGRAM`` -> (file, ``meta["binary"]`` after a walk)."""
    mingw = _tool("x86_64-w64-mingw32-gcc")
    tmp = tmp_path_factory.mktemp("pe")
    (tmp / "prog.c").write_text(PROGRAM)
    (tmp / "main.c").write_text(MAIN)
    _run(mingw, "-O1", str(tmp / "prog.c"), str(tmp / "main.c"), "-o", str(tmp / "prog.exe"))
    _run(mingw, "-O1", "-shared", str(tmp / "prog.c"), "-o", str(tmp / "prog.dll"))
    built = {name: tmp / name for name in ("prog.exe", "prog.dll")}
    inv = _walk_in_tar(tmp, {name: path.read_bytes() for name, path in built.items()})
    assert not inv.problems, [p.line() for p in inv.problems]
    return {name: (path, dict(_member(inv, name).meta["binary"])) for name, path in built.items()}


def _objdump_size(section: Mapping[str, Any]) -> int:
    """The field objdump's Size reports for a PE image section (see the module docstring)."""
    return section["file_size"] if section["file_size"] else section["size"]


@pytest.mark.parametrize("build", ["prog.exe", "prog.dll"])
def test_pe_section_names_sizes_and_offsets_match_objdump(pe_builds, build) -> None:
    path, meta = pe_builds[build]
    ours = [(s["name"], _objdump_size(s), s["offset"]) for s in meta["sections"]]
    theirs = [(r["name"], r["size"], r["offset"]) for r in objdump_sections(path)]
    assert ours == theirs


@pytest.mark.parametrize("build", ["prog.exe", "prog.dll"])
def test_pe_section_classes_agree_with_objdumps_flags(pe_builds, build) -> None:
    path, meta = pe_builds[build]
    assert [(s["name"], s["class"]) for s in meta["sections"]] == \
        [(r["name"], objdump_pe_class(r)) for r in objdump_sections(path)]


def test_pe_long_section_names_are_resolved_from_the_coff_string_table(pe_builds) -> None:
    path, meta = pe_builds["prog.exe"]
    names = [s["name"] for s in meta["sections"]]
    assert ".debug_info" in names and not any(n.startswith("/") for n in names)
    assert meta["debug_bytes"] == sum(r["size"] for r in objdump_sections(path) if "DEBUGGING" in r["flags"]) > 0


def test_pe_objdump_size_is_the_virtual_size_where_the_raw_data_is_padded(pe_builds) -> None:
    """mingw pads .data to the 0x200 file alignment: objdump and ``file_size`` give the virtual size."""
    path, meta = pe_builds["prog.exe"]
    data = _by_name(meta)[".data"]
    assert data["file_size"] == data["size"] < 0x200
    assert next(r for r in objdump_sections(path) if r["name"] == ".data")["size"] == data["file_size"]


def test_pe_text_is_code_and_bss_has_no_file_bytes(pe_builds) -> None:
    s = _by_name(pe_builds["prog.exe"][1])
    assert s[".text"]["class"] == "code" and s[".text"]["flags"].startswith("CODE")
    assert s[".bss"]["class"] == "bss" and s[".bss"]["file_size"] == 0 and s[".bss"]["size"] >= 4096
    assert s[".rdata"]["class"] == "rodata" and s[".data"]["class"] == "data" and s[".reloc"]["class"] == "other"


def test_pe_code_bytes_are_the_code_sections_per_objdump(pe_builds) -> None:
    path, meta = pe_builds["prog.dll"]
    assert meta["code_bytes"] == sum(r["size"] for r in objdump_sections(path) if "CODE" in r["flags"]) > 0


@pytest.mark.parametrize("pe32plus", [True, False], ids=["pe32plus", "pe32"])
def test_fixture_pe_image_sections_match_objdump(tmp_path, pe32plus) -> None:
    data = pe_image(binaries.CONTENT, pe32plus=pe32plus)
    (tmp_path / "fixture.exe").write_bytes(data)
    meta = _member(_walk_in_tar(tmp_path, {"fixture.exe": data}), "fixture.exe").meta["binary"]
    ours = [(s["name"], _objdump_size(s), s["offset"], s["class"]) for s in meta["sections"]]
    rows = objdump_sections(tmp_path / "fixture.exe")
    theirs = [(r["name"], r["size"], r["offset"], objdump_pe_class(r)) for r in rows]
    assert ours == theirs
    assert meta["machine"] == ("AMD64" if pe32plus else "I386")


def test_fixture_elf_image_sections_match_readelf(tmp_path) -> None:
    data = elf_image(binaries.CONTENT, bits=32)
    (tmp_path / "fixture").write_bytes(data)
    meta = _member(_walk_in_tar(tmp_path, {"fixture": data}), "fixture").meta["binary"]
    rows = readelf_sections(tmp_path / "fixture")
    assert [(s["name"], s["size"], s["offset"], s["flags"], s["class"]) for s in meta["sections"]] == \
        [(r["name"], r["size"], r["offset"], r["flags"], readelf_class(r)) for r in rows]


# -- Mach-O: the builder's layout, and llvm-readobj ---------------------------------------------------------
def test_macho_sections_are_read_as_the_builder_laid_them_out(tmp_path) -> None:
    data = macho_image(b"0123456789", 1496, bss=8192)
    assert len(data) == 1496
    meta = _member(_walk_in_tar(tmp_path, {"tool": data}), "tool").meta["binary"]
    assert meta["format"] == "mach-o" and meta["machine"] == "X86_64"
    got = [(s["name"], s["class"], s["size"], s["file_size"], s["offset"]) for s in meta["sections"]]
    assert got == [("__TEXT,__text", "code", 500, 500, 496),
                   ("__TEXT,__cstring", "rodata", 300, 300, 996),
                   ("__DATA,__data", "data", 200, 200, 1296),
                   ("__DATA,__bss", "bss", 8192, 0, 0)]
    assert (meta["code_bytes"], meta["rodata_bytes"], meta["rwdata_bytes"], meta["bss_bytes"]) == (500, 300, 200, 8192)
    assert meta["code_sha256"] == hashlib.sha256(data[496:996]).hexdigest()


def test_macho_sections_match_llvm_readobj(tmp_path) -> None:
    data = macho_image(binaries.CONTENT)
    (tmp_path / "tool").write_bytes(data)
    meta = _member(_walk_in_tar(tmp_path, {"tool": data}), "tool").meta["binary"]
    rows = llvm_readobj_sections(tmp_path / "tool")
    assert [(s["name"], s["size"], s["offset"]) for s in meta["sections"]] == \
        [(r["name"], r["size"], r["offset"]) for r in rows]
    assert [r["type"] for r in rows] == ["Regular", "CStringLiterals", "Regular", "ZeroFill"]


def test_macho_text_segment_is_mapped_at_the_usual_base(tmp_path) -> None:
    data = macho_image(binaries.CONTENT)
    (tmp_path / "tool").write_bytes(data)
    text = re.search(r"Name: __text .*?Address: (0x[0-9A-F]+)", _run(_tool("llvm-readobj"), "--sections",
                                                                       str(tmp_path / "tool")), re.S)
    assert text and int(text.group(1), 16) == MACHO_TEXT_VMADDR + 496


# -- hostile headers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(binaries.LIES))
def test_header_lie_is_one_mismatch_naming_the_field_and_the_file_is_still_listed(tmp_path, name) -> None:
    make, field = binaries.LIES[name]
    data = make()
    inv = _walk_in_tar(tmp_path, {name: data})
    entry = _member(inv, name)
    [problem] = inv.problems
    assert problem.kind is ProblemKind.MISMATCH and problem.path == entry.path
    assert field in problem.reason and "code/data sections are not measured" in problem.reason
    assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
    assert "binary" not in entry.meta


def test_the_well_formed_originals_of_the_lies_are_read_without_problems(tmp_path) -> None:
    members = {"elf": binaries.good_elf(), "pe.exe": binaries.good_pe(), "macho": binaries.good_macho()}
    inv = _walk_in_tar(tmp_path, members)
    assert not inv.problems
    assert {_member(inv, n).meta["binary"]["format"] for n in members} == {"elf", "pe", "mach-o"}


def test_hostile_executables_fixture_holds_every_lie_and_the_originals(built) -> None:
    names = {p.name for p in built("hostile-executables")}
    assert names == set(binaries.LIES) | {"good-elf", "good-pe.exe", "good-macho"}


def test_elf_section_of_a_type_lief_has_no_name_for_is_read_by_its_number(tmp_path) -> None:
    """0x6fff4700 lies in the OS-specific range (readelf calls it GNU_INCREMENTAL_INPUTS; LIEF has no name)."""
    data = bytearray(binaries.good_elf())
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    struct.pack_into("<I", data, shoff + 3 * 64 + 4, 0x6FFF4700)  # sh_type of .data
    (tmp_path / "odd").write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # LIEF's RuntimeWarning for the unnamed value stays inside the reader
        inv = _walk_in_tar(tmp_path, {"odd": bytes(data)})
    assert not inv.problems
    sections = _by_name(_member(inv, "odd").meta["binary"])
    assert sections[".data"]["class"] == "other" and sections[".data"]["flags"] == "WA"
    assert [(s["name"], s["size"], s["offset"]) for s in sections.values()] == \
        [(r["name"], r["size"], r["offset"]) for r in readelf_sections(tmp_path / "odd")]


@pytest.mark.parametrize(("stored", "read"), [(b".r\xc3\xa9ata", ".r\u00e9ata"), (b".r\xffdata", ".r\ufffddata")])
def test_elf_section_name_that_is_not_ascii_is_read_as_utf8_with_replacement_characters(tmp_path, stored: bytes,
                                                                                        read: str) -> None:
    data = bytearray(binaries.good_elf())
    at = data.index(b".rodata\0")
    data[at : at + 7] = stored  # the same length: the other names keep their offsets
    inv = _walk_in_tar(tmp_path, {"odd": bytes(data)})
    assert not inv.problems
    names = [s["name"] for s in _member(inv, "odd").meta["binary"]["sections"]]
    assert read in names and ".data" in names and ".text" in names


def test_pe_section_name_that_is_not_utf8_is_read_with_replacement_characters(tmp_path) -> None:
    data = bytearray(binaries.good_pe())
    data[0x80 + 24 + 240 : 0x80 + 24 + 248] = b".t\xffxt\0\0\0"
    inv = _walk_in_tar(tmp_path, {"odd.exe": bytes(data)})
    assert not inv.problems
    first = _member(inv, "odd.exe").meta["binary"]["sections"][0]
    assert first["name"] == ".t\ufffdxt" and first["class"] == "code"


def test_macho_section_flags_with_undefined_attribute_bits_are_a_mismatch_naming_flags(tmp_path) -> None:
    data = bytearray(binaries.good_macho())
    struct.pack_into("<I", data, 32 + 72 + 64, 0x80000400 | 0x1000)  # __text's flags, plus an undefined bit
    inv = _walk_in_tar(tmp_path, {"odd": bytes(data)})
    [problem] = inv.problems
    assert problem.kind is ProblemKind.MISMATCH and "flags carry attribute bits" in problem.reason
    assert "binary" not in _member(inv, "odd").meta


def test_macho_segment_name_that_is_not_text_is_a_mismatch_naming_segname(tmp_path) -> None:
    data = bytearray(binaries.good_macho())
    data[32 + 8 : 32 + 24] = b"__TE" + b"\xff" * 12  # __TEXT's segname: 16 bytes, no NUL, not UTF-8
    inv = _walk_in_tar(tmp_path, {"odd": bytes(data)})
    [problem] = inv.problems
    assert problem.kind is ProblemKind.MISMATCH and "segname or sectname" in problem.reason


# -- fuzz: LIEF is C++, so mutations run in a child process that must survive them ------------------------
MUTATIONS = 300
FUZZ_SCRIPT = textwrap.dedent("""\
    import json, os, random, struct, sys, time
    from inspector.binaries.reader import read_binary
    from inspector.binaries.model import BinaryInfo

    BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)

    def mutate(rng, data):
        data = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 4))):
            region = rng.random()
            if region < 0.5:  # headers and load commands / the PE section table
                at = rng.randrange(min(len(data), 1024))
            elif region < 0.75:  # the tail: where ELF keeps its section header table
                at = rng.randrange(max(0, len(data) - 2048), len(data))
            else:
                at = rng.randrange(len(data))
            op = rng.randrange(5)
            if op == 0:
                data[at] = rng.randrange(256)
            elif op == 1:
                data[at] ^= 1 << rng.randrange(8)
            elif op == 2:
                width = rng.choice((2, 4, 8))
                if at + width <= len(data):
                    data[at : at + width] = (rng.choice(BOUNDARY) & ((1 << 8 * width) - 1)).to_bytes(width, "little")
            elif op == 3:
                del data[max(at, 64):]
            else:
                data[at : at + 4] = struct.pack("<I", len(data) + rng.randrange(-64, 64) & 0xFFFFFFFF)
        return bytes(data)

    seed, count, samples = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    summary = {}
    for label, (detected, path) in samples.items():
        original = open(path, "rb").read()
        rng = random.Random(f"{seed}:{label}")
        read, raised, start, slowest = 0, {}, time.perf_counter(), (0.0, -1)
        for i in range(count):
            data = mutate(rng, original)
            os.write(2, f"{label} {i}\\n".encode())  # the last line names the input if LIEF dies
            began = time.perf_counter()
            try:
                info = read_binary(detected, data)
            except Exception as exc:
                raised[type(exc).__name__] = raised.get(type(exc).__name__, 0) + 1
                if os.environ.get("FUZZ_VERBOSE") and type(exc).__name__ != "BinaryFormatError":
                    print(label, i, repr(exc)[:200], file=sys.stderr)
                continue
            finally:
                slowest = max(slowest, (time.perf_counter() - began, i))
            assert isinstance(info, BinaryInfo)
            # every byte measured lies in the file (an empty section may name any offset: readelf agrees)
            assert all(s.offset + s.file_size <= len(data) for s in info.sections if s.file_size), (label, i)
            read += 1
        summary[label] = {"read": read, "raised": raised, "seconds": round(time.perf_counter() - start, 3),
                          "slowest": [round(slowest[0], 3), slowest[1]]}
    print(json.dumps(summary))
    """)


def test_mutated_executables_are_read_or_rejected_never_crash_the_process(tmp_path) -> None:
    samples = {"pe": ("pe", tmp_path / "fixture.exe"), "mach-o": ("mach-o", tmp_path / "fixture.macho")}
    (tmp_path / "fixture.exe").write_bytes(pe_image(binaries.CONTENT))
    (tmp_path / "fixture.macho").write_bytes(macho_image(binaries.CONTENT))
    gcc = shutil.which("gcc")
    if gcc is not None:
        (tmp_path / "prog.c").write_text(PROGRAM)
        (tmp_path / "main.c").write_text(MAIN)
        _run(gcc, "-O1", str(tmp_path / "prog.c"), str(tmp_path / "main.c"), "-o", str(tmp_path / "gcc.elf"))
        samples["elf"] = ("elf-shared", tmp_path / "gcc.elf")
    else:
        (tmp_path / "fixture.elf").write_bytes(elf_image(binaries.CONTENT))
        samples["elf"] = ("elf-executable", tmp_path / "fixture.elf")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", FUZZ_SCRIPT, "20251203", str(MUTATIONS),
                           json.dumps({k: (d, str(p)) for k, (d, p) in samples.items()})],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)
    elapsed = time.perf_counter() - started
    last = done.stderr.strip().splitlines()[-3:]
    assert done.returncode == 0, f"reader died (exit {done.returncode}) after: {last}"
    summary = json.loads(done.stdout)
    for label, result in summary.items():
        assert result["read"] + sum(result["raised"].values()) == MUTATIONS
        assert result["read"] > 0, f"{label}: no mutation was read (the mutations are too coarse)"
        assert result["raised"], f"{label}: no mutation was rejected (the mutations are too gentle)"
    assert elapsed < 30, f"{3 * MUTATIONS} mutations took {elapsed:.1f} s: {summary}"


# -- the walker's limit ----------------------------------------------------------------------------------------
def test_executable_over_max_binary_bytes_is_a_limit_problem_and_not_measured(tmp_path) -> None:
    """Small members reach the walker read whole (``_take_small_leaf``): the limit holds there too."""
    big, small = elf_image(binaries.CONTENT, 20_000), elf_image(binaries.CONTENT, 5_000)
    inv = _walk_in_tar(tmp_path, {"big": big, "small": small}, Limits(max_binary_bytes=16_384))
    [problem] = inv.problems
    entry = _member(inv, "big")
    assert problem.kind is ProblemKind.LIMIT and problem.limit == "max_binary_bytes" and problem.path == entry.path
    assert "larger than 16,384 bytes" in problem.reason
    assert "binary" not in entry.meta and entry.sha256 == hashlib.sha256(big).hexdigest()
    assert _member(inv, "small").meta["binary"]["code_bytes"] > 0


def test_streamed_executable_over_max_binary_bytes_is_a_limit_problem_and_not_measured(tmp_path) -> None:
    """A member too large to be read whole with its header is streamed (``_hash_rest``): the same limit."""
    big = elf_image(binaries.CONTENT, 3 * 1024 * 1024)
    inv = _walk_in_tar(tmp_path, {"big": big}, Limits(max_binary_bytes=2 * 1024 * 1024))
    [problem] = inv.problems
    entry = _member(inv, "big")
    assert problem.kind is ProblemKind.LIMIT and problem.limit == "max_binary_bytes"
    assert "larger than 2 MiB" in problem.reason
    assert "binary" not in entry.meta and entry.sha256 == hashlib.sha256(big).hexdigest()


def test_a_section_record_is_the_section_the_constructor_makes() -> None:
    from inspector.binaries.model import Section, SectionClass

    made = Section(".data", SectionClass.DATA, 64, 64, 4096, "WA", True)
    record = Section.record(".data", SectionClass.DATA, 64, 64, 4096, "WA", True)
    assert record == made and hash(record) == hash(made) and repr(record) == repr(made)
    assert record.to_meta() == made.to_meta()
    with pytest.raises(AttributeError):  # as frozen as the constructor's
        record.size = 1  # type: ignore[misc]
