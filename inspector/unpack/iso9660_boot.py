"""El Torito boot catalog (the boot entries of a bootable CD/DVD image)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from inspector.unpack.iso9660 import SECTOR

PLATFORMS = {0: "bios", 1: "powerpc", 2: "mac", 0xEF: "efi"}
EMULATION = {0: "none", 1: "floppy-1.2M", 2: "floppy-1.44M", 3: "floppy-2.88M", 4: "hard-disk"}
#: A catalog is one sector on every real disc; more than this is not read.
MAX_CATALOG_BYTES = 16 * SECTOR


@dataclass(frozen=True)
class BootEntry:
    """One boot entry: which platform boots what image, from which sector."""

    platform: int
    bootable: bool
    media_type: int
    sector_count: int
    load_rba: int


def read_catalog(stream: BinaryIO, sector: int) -> tuple[list[BootEntry], str | None]:
    """The entries of the boot catalog at ``sector`` and a problem (None if the catalog is sound).

    Layout (El Torito 1.0): a validation entry (header id 1, platform, key bytes 55 AA), the initial
    entry, then section headers (0x90 more follow, 0x91 last) each followed by its section entries;
    extension entries (0x44) are skipped.
    """
    stream.seek(sector * SECTOR)
    data = stream.read(MAX_CATALOG_BYTES)
    if len(data) < 64 or data[0] != 1 or data[30:32] != b"\x55\xaa":
        return [], f"El Torito boot catalog at sector {sector} has no valid validation entry"
    entries = [_entry(data, 32, data[1])]
    pos = 64
    while pos + 32 <= len(data):
        header = data[pos]
        if header not in (0x90, 0x91):
            break
        platform, count = data[pos + 1], struct.unpack_from("<H", data, pos + 2)[0]
        pos += 32
        n = 0
        while n < count and pos + 32 <= len(data):
            if data[pos] == 0x44:  # extension entry of the previous section entry
                pos += 32
                continue
            entries.append(_entry(data, pos, platform))
            pos += 32
            n += 1
        if header == 0x91:
            break
    return entries, None


def _entry(data: bytes, pos: int, platform: int) -> BootEntry:
    count, rba = struct.unpack_from("<HI", data, pos + 6)
    return BootEntry(platform=platform, bootable=data[pos] == 0x88, media_type=data[pos + 1] & 0x0F,
                     sector_count=count, load_rba=rba)
