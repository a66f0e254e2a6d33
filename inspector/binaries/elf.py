"""ELF section tables (System V gABI, "Sections"), read from the header and the section header table only.

The table is an array of fixed-size records at ``e_shoff``; names come from the section named by
``e_shstrndx``. That is all a code/data split needs, so this reads those bytes and nothing else, from
memory or from a spool file, at about 20 us a file. LIEF, measured first, took 0.25 ms a file plus a
0.35 s import and a copy of every binary (the 9,280 libraries of a tar.gz: 3.7 s against 1.9 s for the
same walk without sections); pyelftools took 1.35 ms a file. Both serve as oracles in the tests, with
readelf and size(1). Extended numbering (``e_shnum``/``e_shstrndx`` in section 0) is followed; a binary
without a section table falls back to its loadable segments (executable ones are code).

``read_elf`` is the reference. The walker goes through ``elf_meta`` first: the compiled reader
(``inspector/_native.c``) builds the same ``meta["binary"]`` for the common shapes, about twice as fast and
hashing without the GIL, and leaves everything else (and every lie) to ``read_elf``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator
from typing import Any

from inspector import native
from inspector.binaries import classify
from inspector.binaries.blob import Blob, binary_info
from inspector.binaries.headers import BinaryFormatError, check_elf_header, check_extent
from inspector.binaries.model import BinaryInfo, Section, SectionClass

#: e_machine values, named as LIEF and readelf's short names have them (the rest keep their number).
MACHINES = {2: "SPARC", 3: "I386", 8: "MIPS", 20: "PPC", 21: "PPC64", 22: "S390", 40: "ARM", 43: "SPARCV9",
            50: "IA_64", 62: "X86_64", 183: "AARCH64", 243: "RISCV", 258: "LOONGARCH"}
SHN_XINDEX = 0xFFFF
PT_LOAD = 1
#: Most a name is read for (a longer one is cut there; real section names are a few dozen bytes).
MAX_NAME = 4096


def read_elf(blob: Blob) -> BinaryInfo:
    """The sections of the ELF file in ``blob``; ``BinaryFormatError`` names the field that lies."""
    h = check_elf_header(blob)
    end, shoff, shentsize, shnum, shstrndx = h.end, h.shoff, h.shentsize, h.shnum, h.shstrndx
    record = end + ("IIQQQQIIQQ" if h.wide else "IIIIIIIIII")  # name type flags addr offset size link info ...
    name = MACHINES.get(h.machine, str(h.machine))
    if shoff == 0:
        return binary_info("elf", name, list(_segments(blob, h.wide, end, h.phoff, h.phentsize, h.phnum)), blob)
    if shstrndx == SHN_XINDEX:  # extended numbering: section 0's sh_link (its sh_size, the count, is in h)
        shstrndx = struct.unpack_from(record, blob.read(shoff, shentsize))[6]
    table = blob.read(shoff, shnum * shentsize)
    headers = list(struct.iter_unpack(record, table))  # check_elf_header: e_shentsize is the record's size
    names = _names(blob, headers, shstrndx)
    total = blob.size
    sections: list[Section] = []
    append, section = sections.append, elf_section  # a loop over every section of every object file
    for r in headers:
        section_name = names(r[0])  # every entry's name is checked, SHT_NULL ones (type 0, no section) too
        if r[1]:
            append(section(section_name, r[1], r[2], r[5], r[4], total))
    if not sections:
        sections = list(_segments(blob, h.wide, end, h.phoff, h.phentsize, h.phnum))
    return binary_info("elf", name, sections, blob)


def elf_meta(data: bytes | bytearray | memoryview | int, size: int = -1) -> dict[str, Any] | None:
    """``read_elf(...).to_meta()`` of the ELF file in ``data`` by the compiled reader, for the common shapes it
    reads (a plain section table, an ASCII name table, every section inside the file); None when it is not
    built or the file is not of those shapes: then ``read_elf`` reads it, and names what lies.

    The 131,000 sections of a tar.gz of libraries cost about 1.6 us each as ``Section`` objects and dicts;
    the compiled reader builds the meta dicts straight from the table, asks ``section_row_kind`` (the class
    rule's home) once per distinct (name, type, flags), and hashes the code and data without the GIL.
    ``data`` may also be the descriptor of a file whose first ``size`` bytes are the executable (a spool),
    which is read, not mapped: its pages are not the process's memory.
    """
    if native.elf_meta is None:
        return None
    return native.elf_meta(data, section_row_kind, MACHINES, size)


#: Each class's position in ``SectionClass`` (the compiled reader sums bytes by it).
_CLASS_INDEX = {klass: i for i, klass in enumerate(SectionClass)}


@functools.lru_cache(maxsize=16384)
def section_row_kind(name: str, sh_type: int, flags: int) -> tuple[int, str, str, bool]:
    """``_section_kind`` as the compiled reader takes it: (class index in ``SectionClass``, class name, flag
    letters, writable)."""
    klass, letters, writable = _section_kind(name, sh_type, flags)
    return _CLASS_INDEX[klass], klass.value, letters, writable


def _names(blob: Blob, headers: list[tuple[int, ...]], shstrndx: int) -> Callable[[int], str]:
    """A function from sh_name to the name in the section-name string table."""
    if not 0 < shstrndx < len(headers):
        if any(r[0] for r in headers):
            raise BinaryFormatError(f"ELF e_shstrndx is {shstrndx}, not a section of the {len(headers)}-entry table")
        return lambda _offset: ""
    strtab = headers[shstrndx]
    base, size = strtab[4], strtab[5]
    check_extent("ELF", "section-name string table (e_shstrndx)", base, size, blob.size)
    table = blob.read(base, min(size, 16 * 1024 * 1024))
    size = len(table)

    def name(offset: int) -> str:
        if offset >= size:
            raise BinaryFormatError(f"ELF sh_name {offset} lies past the end of the section-name string table")
        end = table.find(b"\0", offset, offset + MAX_NAME)
        return table[offset : end if end >= 0 else offset + MAX_NAME].decode("utf-8", "replace")

    if not table.isascii():
        return name
    # Almost every table is ASCII: decoded once, each name is a slice of the text (the same string).
    text = table.decode("ascii")
    find = text.find

    def ascii_name(offset: int) -> str:
        if offset >= size:
            return name(offset)  # raises
        end = find("\0", offset, offset + MAX_NAME)
        return text[offset : end if end >= 0 else offset + MAX_NAME]

    return ascii_name


def elf_section(name: str, sh_type: int, flags: int, size: int, offset: int, total: int) -> Section:
    """One ELF section header (not SHT_NULL, the table's reserved entries) as a ``Section``."""
    file_size = 0 if sh_type == classify.SHT_NOBITS else size
    if file_size and (offset < 0 or offset + file_size > total):
        check_extent("ELF", name, offset, file_size, total)  # raises, naming the section
    klass, letters, writable = _section_kind(name, sh_type, flags)
    return Section.record(name, klass, size, file_size, offset, letters, writable)


@functools.lru_cache(maxsize=16384)
def _section_kind(name: str, sh_type: int, flags: int) -> tuple[SectionClass, str, bool]:
    """A section's class, flag letters and writability: they follow from its name, type and flags only, and
    object files repeat those (131,000 sections of a tar.gz of libraries have 4,800 distinct ones)."""
    return (classify.elf_section_class(name, sh_type, flags), classify.elf_flag_letters(flags),
            bool(flags & classify.SHF_WRITE))


def _segments(blob: Blob, wide: bool, end: str, phoff: int, phentsize: int, phnum: int) -> Iterator[Section]:
    """A binary without a section table: its loadable segments stand in (executable ones are code)."""
    want = 56 if wide else 32
    if phnum == 0:
        return
    if phentsize != want or phoff + phnum * want > blob.size:
        raise BinaryFormatError(f"ELF program header table (e_phoff={phoff}, e_phnum={phnum}, e_phentsize="
                                f"{phentsize}) does not fit the file ({blob.size} bytes)")
    table = blob.read(phoff, phnum * want)
    for i in range(phnum):
        if wide:
            p_type, flags, offset, _va, _pa, filesz, memsz, _al = struct.unpack_from(end + "IIQQQQQQ", table, i * want)
        else:
            p_type, offset, _va, _pa, filesz, memsz, flags, _al = struct.unpack_from(end + "IIIIIIII", table, i * want)
        if p_type != PT_LOAD:
            continue
        klass = SectionClass.CODE if flags & classify.PF_X else (
            SectionClass.DATA if flags & classify.PF_W else SectionClass.RODATA)
        check_extent("ELF", f"LOAD[{i}]", offset, filesz, blob.size)
        yield Section(name=f"LOAD[{i}]", klass=klass, size=filesz, file_size=filesz, offset=offset, flags="segment",
                      writable=bool(flags & classify.PF_W))
        if memsz > filesz:
            yield Section(name=f"LOAD[{i}].bss", klass=SectionClass.BSS, size=memsz - filesz, file_size=0,
                          offset=offset + filesz, flags="segment")
