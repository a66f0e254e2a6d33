"""Structural checks against hostile containers that no single member read would notice.

A ZIP's central directory may list many entries whose local data overlap (David Fifield's "better zip
bomb": every entry reuses one highly compressed kernel, so a 46 MB file expands to 4.5 PB while each
member on its own looks ordinary). Honest writers lay local records out one after another, so any
overlap is refused before a single member is decompressed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence

#: Fixed part of a ZIP local file header (APPNOTE 4.3.7), before the name and extra field.
ZIP_LOCAL_HEADER = 30


def _stored_name_length(info: zipfile.ZipInfo) -> int:
    """Length in bytes of the name as stored (the local header repeats the central directory's name)."""
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    try:
        return len(info.orig_filename.encode(encoding))
    except UnicodeEncodeError:
        return 0  # a lower bound is enough: it can only hide an overlap, never invent one


def zip_overlap(infos: Sequence[zipfile.ZipInfo]) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo] | None:
    """The first pair ``(earlier, later)`` of entries whose local records overlap, or None.

    Each entry occupies at least ``[header_offset, header_offset + 30 + name + compressed size)``; the
    local extra field and a data descriptor only make it longer, so this lower bound never reports an
    overlap that is not there.
    """
    spans = sorted(
        (info.header_offset, info.header_offset + ZIP_LOCAL_HEADER + _stored_name_length(info) + info.compress_size,
         n)
        for n, info in enumerate(infos)
    )
    for (_, prev_end, prev_n), (start, _, n) in zip(spans, spans[1:], strict=False):
        if start < prev_end:
            return infos[prev_n], infos[n]
    return None
