"""Cheap checks of an executable's own header fields before a parser trusts them.

A crafted header can declare 65,535 sections, a section table past the end of the file or sections
that lie outside it. Parsers tolerate most of that silently (LIEF logs and carries on, pefile stops listing
sections), which would turn a lie into a wrong code figure; here each such field is checked against the
file and named in the error.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from inspector.binaries.blob import Blob


class BinaryFormatError(ValueError):
    """An executable's header or section table disagrees with its content; the message names the field."""


#: The PE specification's limit on NumberOfSections for images (the Windows loader's too).
PE_MAX_SECTIONS = 96


class ElfHeader(NamedTuple):
    """The ELF header fields the section reader needs, as checked (``shnum`` after extended numbering)."""

    wide: bool
    end: str
    machine: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int


class PeHeader(NamedTuple):
    """The COFF fields the section reader needs, as checked: Machine, NumberOfSections, the table's offset."""

    machine: int
    sections: int
    table: int


def check_elf_header(blob: Blob) -> ElfHeader:
    """The ELF header, once its section header table is known to be sized as the class says and to lie
    inside the file."""
    data, total = blob.read(0, 64), blob.size
    if len(data) < 52 or data[4] not in (1, 2) or data[5] not in (1, 2):
        raise BinaryFormatError("ELF header truncated or its class/data byte invalid (e_ident)")
    end = "<" if data[5] == 1 else ">"
    wide = data[4] == 2
    (machine,) = struct.unpack_from(end + "H", data, 0x12)
    if wide:
        if len(data) < 64:
            raise BinaryFormatError("ELF64 header truncated (64 bytes needed)")
        phoff, shoff = struct.unpack_from(end + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x36)
        want = 64
    else:
        phoff, shoff = struct.unpack_from(end + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(end + "HHHHH", data, 0x2A)
        want = 40
    header = ElfHeader(wide, end, machine, phoff, phentsize, phnum, shoff, shentsize, shnum, shstrndx)
    if shoff == 0 and shnum == 0:
        return header  # no section table (a stripped-to-the-bone binary): program headers are used instead
    if shentsize != want:
        raise BinaryFormatError(f"ELF e_shentsize is {shentsize}, not {want}")
    if shnum == 0:  # extended numbering: the count is section 0's sh_size
        if shoff + want > total:
            raise BinaryFormatError(f"ELF section header table at e_shoff={shoff} lies past the end of "
                                    f"the file ({total} bytes)")
        first = blob.read(shoff, want)
        shnum = struct.unpack_from(end + ("Q" if want == 64 else "I"), first, 32 if want == 64 else 20)[0]
    if shoff + shnum * want > total:
        raise BinaryFormatError(f"ELF section header table (e_shoff={shoff}, e_shnum={shnum}) ends past the "
                                f"end of the file ({total} bytes)")
    return header._replace(shnum=shnum)


def check_pe_header(blob: Blob) -> PeHeader:
    """The COFF fields, once NumberOfSections is within the loader's limit and the table inside the file."""
    data, total = blob.read(0, 0x40), blob.size
    if len(data) < 0x40:
        raise BinaryFormatError("PE: DOS header truncated")
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    coff = blob.read(lfanew, 24)
    if len(coff) < 24 or coff[:4] != b"PE\0\0":
        raise BinaryFormatError(f"PE: e_lfanew={lfanew} does not point at a PE signature inside the file")
    machine, nsections = struct.unpack_from("<HH", coff, 4)
    (opt_size,) = struct.unpack_from("<H", coff, 20)
    if nsections > PE_MAX_SECTIONS:
        raise BinaryFormatError(f"PE NumberOfSections is {nsections}, over the format's limit of {PE_MAX_SECTIONS}")
    table = lfanew + 24 + opt_size
    if table + 40 * nsections > total:
        raise BinaryFormatError(f"PE section table ({nsections} sections at offset {table}) ends past the end "
                                f"of the file ({total} bytes)")
    return PeHeader(machine, nsections, table)


def check_extent(fmt: str, name: str, offset: int, file_size: int, total: int) -> None:
    """A section's bytes must lie inside the file."""
    if file_size and (offset < 0 or offset + file_size > total):
        raise BinaryFormatError(f"{fmt} section '{name}' (offset {offset}, {file_size} bytes) lies past the end "
                                f"of the file ({total} bytes)")
