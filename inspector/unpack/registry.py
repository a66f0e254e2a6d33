"""The one list of unpackers, in the order they are tried (first match wins).

Adding a format = one module in this package + one line here. Order matters where magics overlap: ISO
before the disk-image readers (hybrid ISOs carry an MBR), vmtar before tar (same header layout).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspector.unpack import archive, compressed, deb, depot, disk, esxi, fat, msu, udf, vib, vmtar, wim
from inspector.unpack.base import Handler, SniffInfo

HANDLERS: tuple[Handler, ...] = (
    udf.UdfHandler(),  # before the ISO readers: UDF-only media (a UDF recognition sequence and no CD001)
    esxi.EsxiIsoHandler(),  # every ISO: the ISO reader (iso.IsoHandler) plus ESXi boot.cfg/imgdb metadata
    depot.DepotHandler(),  # every ZIP: the ZIP reader (zip.ZipHandler) plus ESXi offline-bundle metadata
    wim.WimHandler(),
    archive.SEVENZIP,
    msu.MSU,
    msu.UPDATE_CAB,
    archive.CAB,
    archive.RAR,
    archive.XAR,
    archive.RPM,
    deb.DEB,
    vib.VibHandler(),  # before ar: an ar whose first member is descriptor.xml
    archive.AR,
    archive.CPIO,
    vmtar.VmtarHandler(),  # before tar: same header layout, data elsewhere
    archive.TAR,
    disk.DiskHandler(),
    fat.FatHandler(),
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
