"""Release dates a release file carries in its own format, where the unpackers' metadata has none.

Used when no release date is recorded in the inventory's metadata (VIB descriptors and bulletins record
theirs; ``facts.harvest`` finds them). Each reader is bounded and returns None on anything it cannot
read, because a missing date only changes the order rule, while a wrong one reorders the series:

* Debian package: the date on the first trailer line (`` -- Name <mail>  Tue, 04 Jul 2023 ...``) of
  ``usr/share/doc/PACKAGE/changelog.Debian.gz`` (or ``changelog.gz``) inside ``data.tar.*``: the date
  the maintainer released that version. The data tar is streamed up to that member, never extracted.
* ISO 9660 image: the primary volume descriptor's volume creation date.
* CAB / MSU: the newest time stamp of the cabinet's own members (CAB stores one per file).
"""

from __future__ import annotations

import bz2
import datetime as dt
import email.utils
import gzip
import lzma
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from inspector.model import Inventory

#: Most bytes of a data.tar decompressed while looking for the changelog.
MAX_DATA_BYTES = 4 * 1024**3
#: Most tar members looked at while looking for the changelog.
MAX_TAR_MEMBERS = 500_000
#: Largest changelog member read (compressed), and most of it decompressed.
MAX_CHANGELOG = 4 * 1024 * 1024
MAX_CHANGELOG_TEXT = 1024 * 1024
_TRAILER = re.compile(r"^ -- .*?>\s+(.+?)\s*$", re.MULTILINE)
_SECTOR = 2048


@dataclass(frozen=True)
class FoundDate:
    """A release date and where it was read (said in the report's notes)."""

    date: dt.date
    source: str  # "Debian changelog" | "ISO volume creation date" | "CAB time stamps"


class _Budget:
    """A read-only stream that stops (raises) after ``limit`` bytes: bounds a decompression."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.left = raw, limit

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n is not None and n >= 0 else 1 << 20)
        self.left -= len(data)
        if self.left < 0:
            raise OSError("decompressed size budget exhausted")
        return data


class _Slice:
    """The ``size`` bytes of an ar member, read from the file's current position."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left = fh, size

    def read(self, n: int = -1) -> bytes:
        want = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(want) if want > 0 else b""
        self.left -= len(data)
        return data

    def readable(self) -> bool:
        return True


def _ar_members(fh: BinaryIO) -> Iterator[tuple[str, int]]:
    """(name, size) of each ar member, leaving ``fh`` at the member's data."""
    if fh.read(8) != b"!<arch>\n":
        return
    for _ in range(64):
        head = fh.read(60)
        if len(head) < 60 or head[58:60] != b"`\n":
            return
        name = head[:16].decode("ascii", "replace").rstrip().rstrip("/")
        try:
            size = int(head[48:58].decode("ascii").strip())
        except ValueError:
            return
        start = fh.tell()
        yield name, size
        fh.seek(start + size + (size & 1))


def _decompressed(name: str, raw: Any) -> Any:
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if name.endswith(".xz"):
        return lzma.LZMAFile(raw)
    if name.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(raw)
    if name.endswith(".bz2"):
        return bz2.BZ2File(raw)
    if name.endswith(".tar"):
        return raw
    return None


def changelog_date(text: str) -> dt.date | None:
    """The date of the newest entry of a Debian changelog: its first `` -- maintainer  date`` line."""
    m = _TRAILER.search(text)
    if m is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(m.group(1)).date()
    except (TypeError, ValueError, IndexError):
        return None


def debian_changelog_date(path: Path, package: str) -> dt.date | None:
    """The release date of a .deb from its own changelog (see the module docstring); None if unreadable."""
    wanted = {f"usr/share/doc/{package}/changelog.Debian.gz", f"usr/share/doc/{package}/changelog.gz"}
    try:
        with path.open("rb") as fh:
            for name, size in _ar_members(fh):
                if not name.startswith("data.tar"):
                    continue
                stream = _decompressed(name, _Slice(fh, size))
                if stream is None:
                    return None
                budget: Any = _Budget(stream, MAX_DATA_BYTES)
                with tarfile.open(fileobj=budget, mode="r|") as tf:
                    for n, ti in enumerate(tf):
                        if n > MAX_TAR_MEMBERS:
                            return None
                        if ti.name.removeprefix("./") in wanted and ti.isfile() and ti.size <= MAX_CHANGELOG:
                            member = tf.extractfile(ti)
                            if member is None:
                                return None
                            text = zlib.decompressobj(31).decompress(member.read(ti.size), MAX_CHANGELOG_TEXT)
                            return changelog_date(text.decode("utf-8", "replace"))
                return None
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError, zlib.error, zstandard.ZstdError, ValueError):
        return None
    return None


def iso_volume_date(path: Path) -> dt.date | None:
    """The volume creation date of an ISO 9660 image's primary volume descriptor (None if absent/unset)."""
    try:
        with path.open("rb") as fh:
            fh.seek(16 * _SECTOR)
            pvd = fh.read(_SECTOR)
    except OSError:
        return None
    if len(pvd) < 830 or pvd[0] != 1 or pvd[1:6] != b"CD001":
        return None
    stamp = pvd[813:829].decode("ascii", "replace")
    if not stamp[:8].isdigit() or stamp[:8] == "00000000":
        return None
    try:
        return dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
    except ValueError:
        return None


def cab_stamp_date(inv: Inventory) -> dt.date | None:
    """The newest time stamp among a CAB/MSU root's own members (None for other roots or no stamps)."""
    if not inv.entries or inv.root.container not in ("cab", "msu"):
        return None
    stamps = [e.mtime for e in inv.entries if e.depth == 1 and e.mtime]
    if not stamps:
        return None
    try:
        return dt.datetime.fromtimestamp(max(stamps), dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def own_release_date(path: Path | None, inv: Inventory, product_kind: str | None,
                     product_name: str | None) -> FoundDate | None:
    """The release date ``path`` carries in its own format, by the product kind identified (or None)."""
    if product_kind == "deb" and path is not None and product_name:
        d = debian_changelog_date(path, product_name)
        return FoundDate(d, "Debian changelog") if d else None
    if product_kind == "iso" and path is not None:
        d = iso_volume_date(path)
        return FoundDate(d, "ISO volume creation date") if d else None
    d = cab_stamp_date(inv)
    return FoundDate(d, "CAB time stamps") if d else None
