"""The one list of unpackers, in the order they are tried (first match wins).

Adding a format = one module in this package + one line here. Order matters where magics overlap: ISO
before the disk-image readers (hybrid ISOs carry an MBR), vmtar before tar (same header layout).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspector.unpack import archive, compressed, iso, zip
from inspector.unpack.base import Handler, SniffInfo

HANDLERS: tuple[Handler, ...] = (
    iso.IsoHandler(),
    zip.ZipHandler(),
    archive.SEVENZIP,
    archive.CAB,
    archive.RAR,
    archive.XAR,
    archive.RPM,
    archive.AR,
    archive.CPIO,
    archive.TAR,
    compressed.GzipHandler(),
    compressed.Bzip2Handler(),
    compressed.XzHandler(),
    compressed.ZstdHandler(),
)


def find_handler(info: SniffInfo, handlers: Sequence[Handler] = HANDLERS) -> Handler | None:
    """The first handler whose magic test accepts this content, or None for a leaf."""
    for handler in handlers:
        if handler.match(info):
            return handler
    return None
