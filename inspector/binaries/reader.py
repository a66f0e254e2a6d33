"""Which reader takes which executable, from memory or from a spool file.

ELF and PE/COFF section tables are read by our own record readers (``elf``, ``pe``) straight from the
bytes or the spool, so memory never follows a binary's size; Mach-O goes to LIEF (``macho``). The walker asks
for the meta itself (``binary_meta``), which lets an ELF file go to the compiled reader where it is built.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from inspector.binaries.blob import Blob
from inspector.binaries.elf import elf_meta, read_elf
from inspector.binaries.headers import BinaryFormatError
from inspector.binaries.macho import read_macho
from inspector.binaries.model import BinaryInfo
from inspector.binaries.pe import read_pe

#: ``sniff.detect_type`` names of the content read here.
ANALYSED_TYPES = frozenset({"elf", "elf-relocatable", "elf-executable", "elf-shared", "pe", "mach-o"})
#: Executables up to this size are kept in memory while the walker reads them; larger ones go to a spool.
IN_MEMORY_MAX = 4 * 1024 * 1024


def read_binary(detected: str, data: bytes | bytearray | memoryview) -> BinaryInfo:
    """The sections of the executable ``data`` (whose content sniffed as ``detected``).

    Raises ``BinaryFormatError`` naming the field when the header or a section disagrees with the file.
    """
    return _read(detected, Blob(data))


def read_binary_file(detected: str, fh: BinaryIO, size: int) -> BinaryInfo:
    """The sections of the ``size``-byte executable spooled in the seekable file ``fh``."""
    return _read(detected, Blob(fh=fh, size=size))


def binary_meta(detected: str, data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """An entry's ``meta["binary"]`` for the executable ``data``: ``read_binary(...).to_meta()``, by the
    compiled ELF reader where it reads the file. Raises ``BinaryFormatError`` as ``read_binary`` does."""
    if detected.startswith("elf"):
        meta = elf_meta(data)
        if meta is not None:
            return meta
    return read_binary(detected, data).to_meta()


def binary_meta_file(detected: str, fh: BinaryIO, size: int) -> dict[str, Any]:
    """``binary_meta`` of the ``size``-byte executable spooled in the file ``fh`` (flushed)."""
    if detected.startswith("elf"):
        meta = elf_meta(fh.fileno(), size)
        if meta is not None:
            return meta
    return read_binary_file(detected, fh, size).to_meta()


def _read(detected: str, blob: Blob) -> BinaryInfo:
    if detected.startswith("elf"):
        return read_elf(blob)
    if detected == "pe":
        return read_pe(blob)
    if detected == "mach-o":
        return read_macho(blob.read(0, blob.size))
    raise BinaryFormatError(f"not an executable format read here: {detected}")
