"""Mach-O section tables, read by LIEF (Apache-2.0): the first slice of a fat file, its segments' sections.

LIEF is imported on the first Mach-O met (about 0.35 s), so walks of Linux and Windows media never pay it.
It reads a file whole from memory; Mach-O files are rare on the media this tool reads and bounded by
``Limits.max_binary_bytes``.
"""

from __future__ import annotations

import io
import warnings
from functools import cache
from typing import Any

from inspector.binaries import classify
from inspector.binaries.blob import Blob, binary_info
from inspector.binaries.headers import BinaryFormatError, check_extent
from inspector.binaries.model import BinaryInfo, Section


@cache
def _lief() -> Any:
    import lief

    lief.logging.disable()
    return lief


def _number(value: Any) -> int:
    """An enum member's value, or the plain int LIEF gives for a value its enum has no name for."""
    return int(getattr(value, "value", value))


def _text(name: Any) -> str:
    """A name: LIEF gives bytes for one that is not UTF-8."""
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)


def _enum_name(value: Any) -> str:
    return str(value).rsplit(".", 1)[-1]


def read_macho(data: bytes) -> BinaryInfo:
    """The sections of the (first slice of a fat) Mach-O file ``data``; ``BinaryFormatError`` names the field."""
    lief = _lief()
    with warnings.catch_warnings():  # LIEF warns of every value its enums have no name for: said by number
        warnings.simplefilter("ignore", RuntimeWarning)
        return _sections(lief, data)


def _sections(lief: Any, data: bytes) -> BinaryInfo:
    fat = lief.MachO.parse(io.BytesIO(data), lief.MachO.ParserConfig.quick)
    if fat is None or len(fat) == 0:
        raise BinaryFormatError("Mach-O: load commands unreadable")
    binary = fat.at(0)
    base = int(getattr(binary, "fat_offset", 0) or 0)
    sections: list[Section] = []
    for s in binary.sections:
        try:  # LIEF's flag enum is strict: a bit loader.h does not define raises
            flags = int(s.flags) | _number(s.type)
        except ValueError:
            raise BinaryFormatError(f"Mach-O section {len(sections)}: flags carry attribute bits loader.h does "
                                    "not define") from None
        try:  # LIEF decodes these names itself, and raises on bytes that are not UTF-8
            seg, name = _text(s.segment_name), _text(s.name)
        except UnicodeDecodeError:
            raise BinaryFormatError(f"Mach-O section {len(sections)}: segname or sectname is not text") from None
        file_size = 0 if classify.macho_zero_fill(flags) else int(s.size)
        offset = base + int(s.offset)
        check_extent("Mach-O", f"{seg},{name}", offset, file_size, len(data))
        sections.append(Section(name=f"{seg},{name}", klass=classify.macho_section_class(seg, flags),
                                size=int(s.size), file_size=file_size, offset=offset, flags=f"0x{flags:08x}",
                                writable=classify.macho_writable(seg)))
    return binary_info("mach-o", _enum_name(binary.header.cpu_type), sections, Blob(data))
