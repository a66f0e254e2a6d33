"""Putting releases in order: the manifest, else metadata found inside the images, else file names.

The rule used is always reported (``OrderInfo``), because a wrong order silently turns every diff in
the series into nonsense.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from inspector.series.model import OrderInfo, ReleaseFacts, ReleaseSpec

_DIGITS = re.compile(r"(\d+)")


def version_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key comparing digit runs as numbers: ``patch-9`` < ``patch-10``, ``5.0u2`` < ``5.0u10``."""
    key = []
    for part in _DIGITS.split(text):
        if not part:
            continue
        if part.isdigit():
            key.append((0, int(part), part))
        else:
            key.append((1, 0, part.lower()))
    return tuple(key)


def order_releases(
    releases: Sequence[ReleaseSpec], facts: Mapping[str, ReleaseFacts], from_manifest: bool
) -> tuple[list[ReleaseSpec], OrderInfo]:
    """Releases in order, and the rule that ordered them.

    1. A manifest: its dates when every release has one (listed order breaks ties), else listed order.
    2. Metadata in the images: release dates when every release carries one, else versions / build
       numbers when every release carries one.
    3. Version-aware sort of the file names.
    ``facts`` is keyed by ``str(release.file)``.
    """
    items = list(releases)
    if from_manifest:
        if all(r.date is not None for r in items):
            items.sort(key=lambda r: r.date or dt.date.min)
            return items, OrderInfo("manifest", "manifest release dates")
        return items, OrderInfo("manifest", "manifest order (not every release has a date)")
    found = [facts.get(str(r.file)) for r in items]
    if items and all(f is not None and f.dates for f in found):
        dated = sorted(zip(items, found, strict=True),
                       key=lambda p: (p[1].dates[-1], version_key(p[0].file.name)))  # type: ignore[union-attr]
        sources = sorted({f.date_source or "metadata" for f in found if f is not None})
        detail = ("release dates found in the images' metadata" if sources == ["metadata"]
                  else f"release dates found in the images ({', '.join(sources)})")
        return [r for r, _ in dated], OrderInfo("metadata-date", detail)
    if items and all(f is not None and f.version for f in found):
        versioned = sorted(zip(items, found, strict=True),
                           key=lambda p: (version_key(p[1].version or ""),  # type: ignore[union-attr]
                                          version_key(p[0].file.name)))
        return [r for r, _ in versioned], OrderInfo(
            "metadata-version", "versions / build numbers found in the images' metadata")
    items.sort(key=lambda r: version_key(r.file.name))
    return items, OrderInfo("name", "version-aware sort of the file names (no manifest, no dates or versions "
                                    "in every image)")
