"""Plain data for one executable's sections, and their round trip through an entry's ``meta``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The key of an entry's ``meta`` that holds ``BinaryInfo.to_meta()``.
META_KEY = "binary"


class SectionClass(enum.StrEnum):
    """What a section's bytes are, whatever the executable format."""

    CODE = "code"
    #: Read-only initialised data (constants, strings, resources, unwind tables).
    RODATA = "rodata"
    #: Writable initialised data.
    DATA = "data"
    #: Zero-initialised data: occupies memory, not the file.
    BSS = "bss"
    DEBUG = "debug"
    #: Everything else: symbol and string tables, relocations, notes, signatures, headers.
    OTHER = "other"


#: The classes whose bytes are "data" for churn: initialised data the file carries (bss carries none).
DATA_CLASSES = (SectionClass.RODATA, SectionClass.DATA)
#: Every class, in order (iterating the enum itself is slow, and ``class_bytes`` runs for every executable).
_CLASSES = tuple(SectionClass)


@dataclass(frozen=True)
class Section:
    """One section: ``size`` in memory (or as declared), ``file_size`` the bytes it occupies in the file."""

    name: str
    klass: SectionClass
    size: int
    file_size: int
    offset: int
    #: The format's flags, spelt as its own tools spell them (``AX`` for ELF as readelf, ``CODE|EXECUTE|READ``
    #: for PE, the Mach-O section type and attributes).
    flags: str
    #: Writable when loaded. A writable code section (ELF ``WAX``, PE ``EXECUTE|WRITE``) mixes code and data
    #: in a way the section table cannot split: flattened boot images such as Xen's multiboot ELF are one.
    writable: bool = False

    @classmethod
    def record(cls, name: str, klass: SectionClass, size: int, file_size: int, offset: int, flags: str,
               writable: bool) -> Section:
        """The ``Section`` the constructor makes, without going through the frozen ``__init__`` (one
        ``object.__setattr__`` per field, about a microsecond a section): record readers make one for
        every section of every object file, over 100,000 for the libraries of one tar.gz."""
        section = object.__new__(cls)
        section.__dict__.update(name=name, klass=klass, size=size, file_size=file_size, offset=offset, flags=flags,
                                writable=writable)
        return section

    def to_meta(self) -> dict[str, Any]:
        """A JSON-ready dict (the inventory's documented shape; ``writable`` only when true)."""
        d: dict[str, Any] = {"name": self.name, "class": str(self.klass), "size": self.size,
                             "file_size": self.file_size, "offset": self.offset, "flags": self.flags}
        if self.writable:
            d["writable"] = True
        return d


@dataclass(frozen=True)
class BinaryInfo:
    """An executable's format, machine and sections, with digests of its code and its data bytes.

    ``code_sha256`` hashes the file bytes of the code sections in table order (``data_sha256`` those of the
    read-only and writable data sections): equal digests mean the code (data) did not change, however
    much the file around it did.
    """

    format: str
    machine: str
    sections: tuple[Section, ...]
    code_sha256: str
    data_sha256: str

    def bytes_of(self, *classes: SectionClass) -> int:
        """Bytes the file carries for sections of the given classes; bss counts the memory it reserves.

        A PE section whose virtual size exceeds its raw data counts its raw data (the rest is zero fill).
        """
        by_class = self.class_bytes()
        return sum(by_class[c] for c in classes)

    @property
    def code_bytes(self) -> int:
        """Bytes of executable code."""
        return self.bytes_of(SectionClass.CODE)

    @property
    def writable_code_bytes(self) -> int:
        """Code bytes in sections that are also writable: code and data there cannot be told apart."""
        return sum(s.file_size for s in self.sections if s.klass is SectionClass.CODE and s.writable)

    @property
    def data_bytes(self) -> int:
        """Bytes of initialised data, read-only and writable (bss is not data the file carries)."""
        return self.bytes_of(*DATA_CLASSES)

    def class_bytes(self) -> dict[SectionClass, int]:
        """The bytes of each class (see ``bytes_of``), in one pass over the sections; 0 for a class without any."""
        out = dict.fromkeys(_CLASSES, 0)
        bss = SectionClass.BSS
        for s in self.sections:
            out[s.klass] += s.size if s.klass is bss else s.file_size
        return out

    def to_meta(self) -> dict[str, Any]:
        """The ``meta["binary"]`` value: JSON-ready, with the per-class totals spelled out."""
        by_class = self.class_bytes()
        rodata, rwdata = by_class[SectionClass.RODATA], by_class[SectionClass.DATA]
        return {
            "format": self.format,
            "machine": self.machine,
            "code_bytes": by_class[SectionClass.CODE],
            "data_bytes": rodata + rwdata,
            "writable_code_bytes": self.writable_code_bytes,
            "rodata_bytes": rodata,
            "rwdata_bytes": rwdata,
            "bss_bytes": by_class[SectionClass.BSS],
            "debug_bytes": by_class[SectionClass.DEBUG],
            "other_bytes": by_class[SectionClass.OTHER],
            "code_sha256": self.code_sha256,
            "data_sha256": self.data_sha256,
            "sections": [s.to_meta() for s in self.sections],
        }


def _recorded(meta: Mapping[str, Any], key: str) -> Any:
    """One figure of ``meta["binary"]`` (None when the entry is no analysed executable, or lacks it)."""
    d = meta.get(META_KEY)
    return d.get(key) if isinstance(d, Mapping) else None


def code_bytes_of(meta: Mapping[str, Any]) -> int | None:
    """The code bytes recorded in an entry's meta (cheap: no section list is rebuilt), if any."""
    value = _recorded(meta, "code_bytes")
    return None if value is None else int(value)


def data_bytes_of(meta: Mapping[str, Any]) -> int | None:
    """The initialised data bytes recorded in an entry's meta, if any."""
    value = _recorded(meta, "data_bytes")
    return None if value is None else int(value)


def writable_code_bytes_of(meta: Mapping[str, Any]) -> int:
    """Code bytes recorded in writable+executable sections (0 for anything else, or older inventories)."""
    return int(_recorded(meta, "writable_code_bytes") or 0)


def code_sha256_of(meta: Mapping[str, Any]) -> str | None:
    """The digest of the code sections' bytes recorded in an entry's meta (cheap), if any."""
    value = _recorded(meta, "code_sha256")
    return None if value is None else str(value)


def data_sha256_of(meta: Mapping[str, Any]) -> str | None:
    """The digest of the initialised data sections' bytes recorded in an entry's meta, if any."""
    value = _recorded(meta, "data_sha256")
    return None if value is None else str(value)


#: Where a set of sections' bytes are in the file: (offset, file size) of each, in section-table order.
Extents = tuple[tuple[int, int], ...]


def _extents_of(meta: Mapping[str, Any], classes: tuple[SectionClass, ...]) -> Extents | None:
    d = meta.get(META_KEY)
    if not isinstance(d, Mapping):
        return None
    names = {str(c) for c in classes}
    return tuple((int(s["offset"]), int(s["file_size"])) for s in d.get("sections", ())
                 if s.get("class") in names and int(s.get("file_size", 0)) > 0)


def code_extents_of(meta: Mapping[str, Any]) -> Extents | None:
    """Where the code sections' bytes are in the file (the bytes ``code_sha256`` hashes), if recorded."""
    return _extents_of(meta, (SectionClass.CODE,))


def data_extents_of(meta: Mapping[str, Any]) -> Extents | None:
    """Where the initialised data sections' bytes are (the bytes ``data_sha256`` hashes), if recorded."""
    return _extents_of(meta, DATA_CLASSES)


def read_extents(path: Path, extents: Extents) -> bytes:
    """The bytes at ``extents`` of the file at ``path``, concatenated in order: an executable's code (or
    data) as one stream, to estimate a delta over it alone."""
    out = bytearray()
    with open(path, "rb") as fh:
        for offset, length in extents:
            fh.seek(offset)
            out += fh.read(length)
    return bytes(out)
