"""PE/COFF section tables (Microsoft "PE Format": COFF header, then the section table of 40-byte records).

The table lies right after the optional header; ``check_pe_header`` bounds it first. Read with ``struct``:
LIEF, measured first, costs a 0.35 s import and a copy of each image; pefile stops listing sections after
a few it finds suspicious, silently dropping the one whose lie we report. LIEF and objdump are the
oracles in the tests.
"""

from __future__ import annotations

import struct

from inspector.binaries import classify
from inspector.binaries.blob import Blob, binary_info
from inspector.binaries.headers import check_extent, check_pe_header
from inspector.binaries.model import BinaryInfo, Section

#: COFF Machine values, named as LIEF names them (the rest keep their number).
MACHINES = {0x14C: "I386", 0x8664: "AMD64", 0xAA64: "ARM64", 0x1C0: "ARM", 0x1C4: "ARMNT", 0x200: "IA64",
            0x5064: "RISCV64", 0xEBC: "EBC"}


def read_pe(blob: Blob) -> BinaryInfo:
    """The sections of the PE image or COFF object in ``blob``; ``BinaryFormatError`` names the field that lies."""
    header = check_pe_header(blob)
    table = blob.read(header.table, 40 * header.sections)
    sections = []
    for i in range(header.sections):
        name, vsize, _va, raw, pointer = struct.unpack_from("<8sIIII", table, 40 * i)
        (chars,) = struct.unpack_from("<I", table, 40 * i + 36)
        sections.append(pe_section(blob, name.rstrip(b"\0").decode("utf-8", "replace"), chars, raw, vsize, pointer))
    return binary_info("pe", MACHINES.get(header.machine, str(header.machine)), sections, blob)


def pe_section(blob: Blob, raw_name: str, chars: int, raw: int, vsize: int, pointer: int) -> Section:
    """One PE section header as a ``Section``: its bytes in the file are the raw data up to the virtual size."""
    name = pe_long_name(blob, raw_name)
    file_size = min(raw, vsize) if vsize else raw
    check_extent("PE", name, pointer, file_size, blob.size)
    return Section(name=name, klass=classify.pe_section_class(name, chars, raw), size=vsize or raw,
                   file_size=file_size, offset=pointer, flags=classify.pe_flag_names(chars),
                   writable=bool(chars & classify.SCN_MEM_WRITE))


def pe_long_name(blob: Blob, name: str) -> str:
    """A section name longer than 8 bytes, which the table spells ``/4`` (an offset into the COFF string table).

    MinGW's linker keeps DWARF sections in images under such names (``/4`` is ``.debug_aranges``); read as
    written they would not be known as debug information. objdump resolves them the same way. A name
    whose offset falls outside the file stays as written.
    """
    if not (name.startswith("/") and name[1:].isdigit()):
        return name
    lfanew = struct.unpack_from("<I", blob.read(0x3C, 4))[0]
    pointers = blob.read(lfanew + 12, 8)
    if len(pointers) < 8:
        return name
    symtab, nsyms = struct.unpack_from("<II", pointers)  # PointerToSymbolTable, NumberOfSymbols
    at = symtab + 18 * nsyms + int(name[1:])
    if not symtab or at >= blob.size:
        return name
    text = blob.read(at, 256).split(b"\0", 1)[0]
    return text.decode("utf-8", "replace") or name
