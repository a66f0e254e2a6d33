"""Debian binary packages (``.deb``): an ``ar`` archive whose first member is ``debian-binary``.

The members are read by the generic ``ar`` reader (``unpack.ar``) and re-yielded unchanged, so the walker
still walks ``control.tar.*`` and ``data.tar.*`` as usual. On the way, the small ``debian-binary`` and
``control.tar.{gz,xz,zst,bz2}`` members are read (bounded), the ``control`` file is parsed and its
fields (Package, Version, Architecture, Installed-Size in KiB, Depends, ...) go into the package's
metadata, with a label such as ``xen-hypervisor-4.17-amd64 4.17.3 (deb)``.
"""

from __future__ import annotations

import bz2
import io
import lzma
import tarfile
import zlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import zstandard

from inspector.unpack import ar
from inspector.unpack.base import Member, SniffInfo, UnpackContext
from inspector.unpack.bounded import read_bounded, replay

#: Largest control.tar.* read into memory (compressed and decompressed).
MAX_CONTROL = 8 * 1024 * 1024
#: Largest ``control`` file parsed.
MAX_CONTROL_FILE = 1024 * 1024
_FIELDS = {
    "Package": "package", "Version": "version", "Architecture": "architecture", "Source": "source",
    "Maintainer": "maintainer", "Section": "section", "Priority": "priority", "Depends": "depends",
    "Pre-Depends": "pre_depends", "Recommends": "recommends", "Suggests": "suggests",
    "Conflicts": "conflicts", "Breaks": "breaks", "Replaces": "replaces", "Provides": "provides",
    "Multi-Arch": "multi_arch", "Homepage": "homepage",
}


class ControlError(ValueError):
    """control.tar.* could not be read or holds no control file."""


def parse_control(text: str) -> dict[str, str]:
    """Fields of a Debian control paragraph (``Key: value`` lines, continuation lines start with a space)."""
    fields: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # first paragraph only
            continue
        if line[0] in " \t" and key is not None:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    return fields


def _decompress(name: str, data: bytes) -> bytes:
    """Decompress a control.tar.* by its suffix, producing at most MAX_CONTROL bytes."""
    try:
        if name.endswith(".gz"):
            d = zlib.decompressobj(31)
            out = d.decompress(data, MAX_CONTROL + 1)
        elif name.endswith(".xz"):
            out = lzma.LZMADecompressor().decompress(data, MAX_CONTROL + 1)
        elif name.endswith(".zst"):
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
            out = reader.read(MAX_CONTROL + 1)
        elif name.endswith(".bz2"):
            out = bz2.BZ2Decompressor().decompress(data, MAX_CONTROL + 1)
        elif name.endswith(".tar"):
            out = data
        else:
            raise ControlError(f"{name}: unknown compression")
    except (zlib.error, lzma.LZMAError, OSError, EOFError, zstandard.ZstdError, ValueError) as exc:
        raise ControlError(f"{name}: corrupt compressed data ({exc})") from None
    if len(out) > MAX_CONTROL:
        raise ControlError(f"{name}: expands beyond {MAX_CONTROL} bytes; not parsed")
    return out


def read_control(name: str, data: bytes) -> dict[str, str]:
    """The parsed ``control`` file of a control.tar.* member's bytes (``ControlError`` when unreadable)."""
    tar_bytes = _decompress(name, data)
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tf:
            for ti in tf:
                if ti.isfile() and ti.name.removeprefix("./") == "control":
                    if ti.size > MAX_CONTROL_FILE:
                        raise ControlError(f"{name}: control file of {ti.size} bytes not parsed")
                    fh = tf.extractfile(ti)
                    raw = fh.read() if fh is not None else b""
                    return parse_control(raw.decode("utf-8", "replace"))
    except (tarfile.TarError, EOFError) as exc:
        raise ControlError(f"{name}: not a readable tar ({exc})") from None
    raise ControlError(f"{name}: no control file")


def control_meta(fields: dict[str, str]) -> dict[str, Any]:
    """The package metadata kept for a .deb: known fields by snake-case name, sizes as integers."""
    meta: dict[str, Any] = {v: fields[k] for k, v in _FIELDS.items() if k in fields}
    if "Description" in fields:
        meta["description"] = fields["Description"].split("\n", 1)[0]
    size = fields.get("Installed-Size", "").strip()
    if size.isdigit():
        meta["installed_size_kib"] = int(size)
        meta["installed_size"] = int(size) * 1024
    return meta


class DebHandler:
    """A .deb: ar members re-yielded as they are, with the control metadata in the package's meta."""

    name = "deb"
    needs_seekable = False

    def match(self, info: SniffInfo) -> bool:
        """An ar archive whose first member is named ``debian-binary``."""
        h = info.head
        return h.startswith(b"!<arch>\n") and h[8:24].rstrip(b" ").rstrip(b"/") == b"debian-binary"

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """The ar members; ``debian-binary`` and ``control.tar.*`` are read here and replayed from memory."""
        seen_control = False
        for n, member in enumerate(ar.AR.members(stream, ctx)):
            name = member.name
            if n == 0 and name == "debian-binary":
                data = read_bounded(member, 64)
                if data is not None:
                    ctx.meta["format_version"] = data.decode("ascii", "replace").strip()
                    yield replay(member, data)
                    continue
            if name.startswith("control.tar") and not seen_control:
                seen_control = True
                data = read_bounded(member, MAX_CONTROL)
                if data is None:
                    ctx.problem(name, f"larger than {MAX_CONTROL} bytes; control fields not read", "limit")
                    yield member
                    continue
                try:
                    fields = read_control(name, data)
                except ControlError as exc:
                    ctx.problem(name, f"control fields not read: {exc}", "error")
                else:
                    meta = control_meta(fields)
                    ctx.meta["control"] = meta
                    if "package" in meta:
                        ctx.meta["label"] = f"{meta['package']} {meta.get('version', '?')} (deb)"
                yield replay(member, data)
                continue
            yield member
        if not seen_control:
            ctx.problem(None, "no control.tar.* member: not a valid Debian package (control fields unknown)",
                        "error")


DEB = DebHandler()
