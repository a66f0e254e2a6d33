"""Section tables of large executables, read from a spool file without holding the file in memory.

LIEF (``lief_reader``) copies a whole binary into memory before parsing: fine for the many small
executables, but a 117 MB libLLVM in a WIM took 450 MB of RSS. Above ``IN_MEMORY_MAX`` the walker spools
an executable to its private temp directory instead, and this module reads only the headers from there:
pyelftools (public domain) reads ELF section headers lazily from a seekable file; a PE section table is a
fixed-size array where the COFF header says, read with ``struct`` (pefile drops sections it finds
suspicious, which would hide the lies we report). Mach-O stays with LIEF (bounded by
``Limits.max_binary_bytes``; no large Mach-O appears in the media this tool reads). The same header
checks, section builders and classification as the in-memory path are used, so both paths give the same
``BinaryInfo`` for the same bytes (a test holds them to it).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from inspector.binaries.headers import BinaryFormatError, Blob, check_elf_header, check_pe_header
from inspector.binaries.lief_reader import binary_info, elf_section, pe_section, read_binary
from inspector.binaries.model import BinaryInfo, Section

#: Executables up to this size are parsed in memory by LIEF; larger ones are spooled and read here.
IN_MEMORY_MAX = 16 * 1024 * 1024

#: pyelftools' names for e_machine values that LIEF spells otherwise (the rest only lose their ``EM_``).
_ELF_MACHINES = {"EM_386": "I386"}


def read_binary_file(detected: str, path: Path, fh: BinaryIO, size: int) -> BinaryInfo:
    """The sections of the executable spooled at ``path`` (open as ``fh``, ``size`` bytes long).

    Raises ``BinaryFormatError`` naming the field when the header or a section disagrees with the file.
    """
    blob = Blob(fh=fh, size=size)
    if detected.startswith("elf"):
        check_elf_header(blob)
        return _elf(blob, fh)
    if detected == "pe":
        check_pe_header(blob)
        return _pe(blob)
    return read_binary(detected, blob.read(0, size))


def _elf(blob: Blob, fh: BinaryIO) -> BinaryInfo:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(fh)
        sections: list[Section] = []
        for i in range(elf.num_sections()):
            header = elf._get_section_header(i)  # the header alone: no section object, no data read
            sec = elf_section(elf._get_section_name(header), _sh_type(header["sh_type"]), int(header["sh_flags"]),
                              int(header["sh_size"]), int(header["sh_offset"]), blob.size)
            if sec is not None:
                sections.append(sec)
        machine = str(elf["e_machine"])
    except (ELFError, ValueError, KeyError, UnicodeDecodeError) as exc:
        raise BinaryFormatError(f"ELF section table unreadable ({exc})") from None
    if not sections:  # only program headers: the in-memory reader knows how to use them
        return read_binary("elf", blob.read(0, blob.size))
    return binary_info("elf", _ELF_MACHINES.get(machine, machine.removeprefix("EM_")), sections, blob)


def _sh_type(value: object) -> int:
    """pyelftools names known section types: back to the number (an unknown name is no content type)."""
    if isinstance(value, int):
        return value
    from elftools.elf import enums

    return int(enums.ENUM_SH_TYPE_BASE.get(str(value), -1))


#: COFF Machine values, named as LIEF names them (the rest keep their number).
_PE_MACHINES = {0x14C: "I386", 0x8664: "AMD64", 0xAA64: "ARM64", 0x1C0: "ARM", 0x1C4: "ARMNT", 0x200: "IA64"}


def _pe(blob: Blob) -> BinaryInfo:
    """The section table read where the COFF header puts it (``check_pe_header`` has bounded it).

    Forty bytes a section (Microsoft PE format, "Section Table"); read here rather than with pefile, which
    stops listing sections after a few it finds suspicious and so would drop the very lies we report.
    """
    lfanew = struct.unpack_from("<I", blob.read(0x3C, 4))[0]
    coff = blob.read(lfanew, 24)
    machine, count = struct.unpack_from("<HH", coff, 4)
    (opt_size,) = struct.unpack_from("<H", coff, 20)
    table = blob.read(lfanew + 24 + opt_size, 40 * count)
    sections = []
    for i in range(count):
        name, vsize, _va, raw, pointer = struct.unpack_from("<8sIIII", table, 40 * i)
        (chars,) = struct.unpack_from("<I", table, 40 * i + 36)
        sections.append(pe_section(blob, name.rstrip(b"\0").decode("utf-8", "replace"), chars, raw, vsize, pointer))
    return binary_info("pe", _PE_MACHINES.get(machine, str(machine)), sections, blob)
