"""The one home of the rules that say whether a section is code, data, bss, debug information or other.

The rules follow what a loader does with the section, not its name, except where a name is the only
sign (debug information in sections without their own type, PE base relocations):
- ELF (System V gABI): only PROGBITS-like sections that are loaded (SHF_ALLOC) are code or data; an
  executable one (SHF_EXECINSTR) is code, a writable one data, the others read-only data; NOBITS is
  bss; symbol/string/relocation/hash/note/dynamic tables are other, as are non-loaded sections apart
  from DWARF and stabs (debug).
- PE/COFF (Microsoft PE format, section flags): IMAGE_SCN_CNT_CODE or MEM_EXECUTE is code; uninitialised
  data with no raw bytes is bss; a writable section data; initialised read-only data (``.rdata``,
  ``.rsrc``, ``.pdata``) read-only data; ``.reloc`` and the rest other; ``.debug*`` debug.
- Mach-O (loader.h): sections with the pure/some-instructions attribute are code; zero-fill types are bss;
  the ``__DWARF`` segment or the debug attribute is debug; other ``__TEXT`` sections are read-only data,
  ``__DATA*`` sections data; ``__LINKEDIT`` and the rest other.
"""

from __future__ import annotations

from functools import lru_cache

from inspector.binaries.model import SectionClass

_DEBUG_PREFIXES = (".debug", ".zdebug", ".stab", ".line", ".gnu.debuglto")

# -- ELF -------------------------------------------------------------------------------------------------
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_PROGBITS, SHT_NOBITS = 1, 8
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
_ELF_CONTENT_TYPES = frozenset({SHT_PROGBITS, SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY})
#: readelf's letters for the section flags, in its order.
_ELF_FLAG_LETTERS = ((0x1, "W"), (0x2, "A"), (0x4, "X"), (0x10, "M"), (0x20, "S"), (0x40, "I"), (0x80, "L"),
                     (0x100, "O"), (0x200, "G"), (0x400, "T"), (0x800, "C"), (0x80000000, "E"))


def elf_section_class(name: str, sh_type: int, sh_flags: int) -> SectionClass:
    """Class of an ELF section from its type and flags (and its name, for debug information)."""
    if not sh_flags & SHF_ALLOC:
        return SectionClass.DEBUG if name.startswith(_DEBUG_PREFIXES) else SectionClass.OTHER
    if sh_type == SHT_NOBITS:
        return SectionClass.BSS
    if sh_type not in _ELF_CONTENT_TYPES:
        return SectionClass.OTHER
    if sh_flags & SHF_EXECINSTR:
        return SectionClass.CODE
    return SectionClass.DATA if sh_flags & SHF_WRITE else SectionClass.RODATA


@lru_cache(maxsize=256)  # a few distinct flag words, spelt for every section of every ELF file
def elf_flag_letters(sh_flags: int) -> str:
    """The flags as readelf -S prints them (``AX``, ``WA``...)."""
    return "".join(letter for bit, letter in _ELF_FLAG_LETTERS if sh_flags & bit)


#: PF_X: an executable program segment (used when a stripped ELF has no section table).
PF_X, PF_W = 0x1, 0x2

# -- PE/COFF ---------------------------------------------------------------------------------------------
SCN_CNT_CODE, SCN_CNT_INITIALIZED_DATA, SCN_CNT_UNINITIALIZED_DATA = 0x20, 0x40, 0x80
SCN_MEM_DISCARDABLE, SCN_MEM_EXECUTE, SCN_MEM_READ, SCN_MEM_WRITE = 0x02000000, 0x20000000, 0x40000000, 0x80000000
_PE_FLAG_NAMES = ((SCN_CNT_CODE, "CODE"), (SCN_CNT_INITIALIZED_DATA, "INITIALIZED_DATA"),
                  (SCN_CNT_UNINITIALIZED_DATA, "UNINITIALIZED_DATA"), (SCN_MEM_DISCARDABLE, "DISCARDABLE"),
                  (SCN_MEM_EXECUTE, "EXECUTE"), (SCN_MEM_READ, "READ"), (SCN_MEM_WRITE, "WRITE"))


def pe_section_class(name: str, characteristics: int, raw_size: int) -> SectionClass:
    """Class of a PE/COFF section from its characteristics (and its name, for debug and relocations)."""
    if name.startswith(_DEBUG_PREFIXES):
        return SectionClass.DEBUG
    if characteristics & (SCN_CNT_CODE | SCN_MEM_EXECUTE):
        return SectionClass.CODE
    if characteristics & SCN_CNT_UNINITIALIZED_DATA and not characteristics & SCN_CNT_INITIALIZED_DATA \
            and raw_size == 0:
        return SectionClass.BSS
    if name == ".reloc":
        return SectionClass.OTHER
    if characteristics & SCN_MEM_WRITE:
        return SectionClass.DATA
    if characteristics & SCN_CNT_INITIALIZED_DATA:
        return SectionClass.RODATA
    return SectionClass.OTHER


def pe_flag_names(characteristics: int) -> str:
    """The characteristics that matter for the class, as ``CODE|EXECUTE|READ``."""
    return "|".join(n for bit, n in _PE_FLAG_NAMES if characteristics & bit)


# -- Mach-O ----------------------------------------------------------------------------------------------
S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL = 0x1, 0xC, 0x12
S_ATTR_PURE_INSTRUCTIONS, S_ATTR_SOME_INSTRUCTIONS, S_ATTR_DEBUG = 0x80000000, 0x400, 0x02000000


def macho_section_class(segment: str, flags: int) -> SectionClass:
    """Class of a Mach-O section from its segment, type (low byte of flags) and attributes."""
    if segment == "__DWARF" or flags & S_ATTR_DEBUG:
        return SectionClass.DEBUG
    if flags & (S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS):
        return SectionClass.CODE
    if flags & 0xFF in (S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL):
        return SectionClass.BSS
    if segment == "__TEXT":
        return SectionClass.RODATA
    if segment.startswith(("__DATA", "__OBJC")):
        return SectionClass.DATA
    return SectionClass.OTHER


def macho_zero_fill(flags: int) -> bool:
    """Whether the section occupies memory only (no bytes in the file)."""
    return flags & 0xFF in (S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL)


def macho_writable(segment: str) -> bool:
    """Whether a Mach-O section's segment is mapped writable (the ``__DATA`` family)."""
    return segment.startswith("__DATA")
