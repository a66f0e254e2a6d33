"""Microsoft update packages: the MSU (a four-member CAB) and the update CAB inside it.

Both are cabinets read by the generic libarchive CAB reader (MSZIP and LZX); these handlers wrap it,
read a few small text/XML members themselves (bounded) and re-yield them from memory.

* **MSU** (``Windows6.0-KB958644-x64.msu``): ``WSUSSCAN.cab`` (applicability data), the update
  ``<pkg>.cab``, ``<pkg>.xml`` (unattend: package identity, source) and ``<pkg>-pkgProperties.txt``
  (``Key="Value"`` lines). KB number, applicability and the properties go into the container's meta.
* **Update CAB**: ``update.mum`` (package identity, KB, release type), ``.cat`` catalogs, one
  ``<identity>.manifest`` per component and one folder per component named by its identity
  (``amd64_microsoft-windows-foo_31bf3856ad364e35_6.0.6001.22389_none_0123456789abcdef``). Each member
  is tagged with its component identity so reports can group by component; the container's meta
  summarises the components (files, bytes).

Delta files (PA19/PA30/PA31, optionally CRC32-prefixed) and DCM manifests are not expanded: the
walker's content sniffing names them (``msdelta-*``) and they are sized like any leaf.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any, BinaryIO

from inspector.limits import WalkError
from inspector.names import member_path
from inspector.unpack import archive
from inspector.unpack.base import Member, SniffInfo, UnpackContext
from inspector.unpack.bounded import read_bounded, replay

#: Largest text/XML member read to parse metadata (properties, unattend XML, update.mum).
MAX_TEXT = 1024 * 1024
_KB = re.compile(r"KB(\d{5,8})", re.IGNORECASE)
_IDENTITY = re.compile(
    r"^(?P<arch>[a-z0-9]+)_(?P<name>.+)_(?P<token>[0-9a-f]{16})_(?P<version>\d+(?:\.\d+){1,3})_"
    r"(?P<culture>[^_]+)_(?P<hash>[0-9a-f]{16})$",
    re.IGNORECASE,
)


def cab_names(head: bytes) -> list[str]:
    """Member names of a CAB from its CFFILE entries, as far as they lie within ``head`` (lowercased)."""
    if len(head) < 36 or not head.startswith(b"MSCF\x00\x00\x00\x00"):
        return []
    (coff_files,) = struct.unpack_from("<I", head, 16)
    (count,) = struct.unpack_from("<H", head, 28)
    names = []
    pos = coff_files
    for _ in range(count):
        end = head.find(b"\x00", pos + 16, pos + 16 + 512)
        if pos + 16 > len(head) or end < 0:
            break
        names.append(head[pos + 16 : end].decode("latin-1").replace("\\", "/").lower())
        pos = end + 1
    return names


def cab_directory(stream: BinaryIO) -> list[tuple[str, int]]:
    """(name, size) of every CFFILE entry of a seekable CAB, read from its header (bounded: 64 Ki entries)."""
    stream.seek(0)
    head = stream.read(36)
    if len(head) < 36 or not head.startswith(b"MSCF"):
        return []
    (coff_files,) = struct.unpack_from("<I", head, 16)
    (count,) = struct.unpack_from("<H", head, 28)
    stream.seek(coff_files)
    table = stream.read(count * (16 + 257))
    out = []
    pos = 0
    for _ in range(count):
        end = table.find(b"\x00", pos + 16, pos + 16 + 257)
        if pos + 16 > len(table) or end < 0:
            break
        (size,) = struct.unpack_from("<I", table, pos)
        attribs = struct.unpack_from("<H", table, pos + 14)[0]
        raw = table[pos + 16 : end]
        name = raw.decode("utf-8" if attribs & 0x80 else "latin-1", "replace").replace("\\", "/")
        out.append((member_path(name), size))
        pos = end + 1
    return out


def cab_members(stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
    """The generic CAB reader's members; when it fails part-way (bad checksum, truncation), the failure is
    reported and the members it did not reach are still listed, with their sizes, from the CAB's file
    table (their content is not read)."""
    seen: list[str] = []
    try:
        for member in archive.CAB.members(stream, ctx):
            seen.append(member.name)
            yield member
        return
    except WalkError as exc:
        ctx.problem(None, str(exc), exc.kind)
        ctx.meta["incomplete"] = True
    try:
        directory = cab_directory(stream)
    except (OSError, ValueError, struct.error):
        return
    done = set(seen)
    for name, size in directory:
        if name not in done:
            yield Member(name, size=size, meta={"unread": True})


def parse_properties(text: str) -> dict[str, str]:
    """``Key="Value"`` lines of a ``-pkgProperties.txt`` file (quotes optional, blank lines skipped)."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            props[key.strip()] = value.strip().strip('"')
    return props


def decode_text(data: bytes) -> str:
    """Text of a small Microsoft text/XML file: UTF-16 with a BOM, else UTF-8 (BOM optional)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def _xml(text: str) -> ET.Element | None:
    """Parse small XML, refusing DTDs/entities (no expansion games); ``None`` when it does not parse."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        return ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def _identity(el: ET.Element | None) -> dict[str, str]:
    keys = ("name", "version", "processorArchitecture", "language", "publicKeyToken")
    return {k: el.get(k, "") for k in keys if el is not None and el.get(k)}


def parse_unattend(text: str) -> dict[str, Any]:
    """The package identity and source location of an MSU's unattend ``<pkg>.xml``."""
    root = _xml(text)
    if root is None:
        return {}
    out: dict[str, Any] = {}
    ident = _identity(_find(root, "assemblyIdentity"))
    if ident:
        out["identity"] = ident
    src = _find(root, "source")
    if src is not None and src.get("location"):
        out["source"] = src.get("location")
    pkg = _find(root, "package")
    if pkg is not None and pkg.get("action"):
        out["action"] = pkg.get("action")
    return out


def parse_mum(text: str) -> dict[str, Any]:
    """Package identity, KB (``package identifier``), release type and updated components of update.mum."""
    root = _xml(text)
    if root is None:
        return {}
    out: dict[str, Any] = {}
    top = next((el for el in root if _local(el.tag) == "assemblyIdentity"), None)
    if top is not None:
        out["identity"] = _identity(top)
    pkg = _find(root, "package")
    if pkg is not None:
        for attr, key in (("identifier", "kb"), ("releaseType", "release_type"), ("restart", "restart")):
            if pkg.get(attr):
                out[key] = pkg.get(attr)
        updates = [u for u in pkg.iter() if _local(u.tag) == "update"]
        out["updates"] = len(updates)
        comps = []
        for u in updates:
            for el in u.iter():
                if _local(el.tag) == "assemblyIdentity" and el.get("name"):
                    comps.append(el.get("name"))
        if comps:
            out["components"] = comps
    return out


def component_of(name: str) -> str | None:
    """Component identity of an update-CAB member: its top folder, or a ``.manifest`` file's base name."""
    first, sep, _rest = name.partition("/")
    if sep:
        return first
    if name.lower().endswith(".manifest"):
        return name[: -len(".manifest")]
    return None


def identity_fields(identity: str) -> dict[str, str]:
    """Split ``arch_name_token_version_culture_hash`` (empty when the name does not follow the pattern)."""
    m = _IDENTITY.match(identity)
    return {k: v for k, v in m.groupdict().items() if k != "hash"} if m else {}


class MsuHandler:
    """An MSU: the CAB's members re-yielded, with KB, properties and package identity in the meta."""

    name = "msu"
    needs_seekable = True  # to list the members past a damaged block from the CAB's file table

    def match(self, info: SniffInfo) -> bool:
        """A CAB holding ``WSUSSCAN.cab`` or a ``-pkgProperties.txt`` member."""
        names = cab_names(info.head)
        return any(n.rsplit("/", 1)[-1] == "wsusscan.cab" or n.endswith("-pkgproperties.txt") for n in names)

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """The CAB members; the ``.txt`` and ``.xml`` members are parsed and replayed from memory."""
        names: list[str] = []
        for member in cab_members(stream, ctx):
            names.append(member.name)
            low = member.name.lower()
            if low.endswith((".txt", ".xml")) and member.open is not None:
                data = read_bounded(member, MAX_TEXT)
                if data is None:
                    ctx.problem(member.name, f"larger than {MAX_TEXT} bytes; not parsed", "limit")
                    yield member
                    continue
                text = decode_text(data)
                if low.endswith("-pkgproperties.txt"):
                    props = parse_properties(text)
                    ctx.meta["properties"] = props
                    for key in ("Applies to", "Processor Architecture", "Package Type", "Installation Type"):
                        if key in props:
                            ctx.meta.setdefault("applicability", {})[key] = props[key]
                    kb = props.get("KB Article Number", "").strip()
                    if kb.isdigit():
                        ctx.meta["kb"] = f"KB{kb}"
                elif low.endswith(".xml"):
                    unattend = parse_unattend(text)
                    if unattend:
                        ctx.meta["unattend"] = unattend
                yield replay(member, data)
                continue
            yield member
        if "kb" not in ctx.meta:
            m = next((_KB.search(n) for n in [ctx.name, *names] if _KB.search(n)), None)
            if m:
                ctx.meta["kb"] = f"KB{m.group(1)}"
        if "kb" in ctx.meta:
            ctx.meta["label"] = f"{ctx.meta['kb']} (msu)"
        ctx.meta["members"] = len(names)
        lower = [n.lower() for n in names]
        missing = [what for what, ok in (
            ("WSUSSCAN.cab", "wsusscan.cab" in lower),
            ("update .cab", any(n.endswith(".cab") and n != "wsusscan.cab" for n in lower)),
            ("-pkgProperties.txt", any(n.endswith("-pkgproperties.txt") for n in lower)),
        ) if not ok]
        if missing:
            ctx.problem(None, f"MSU without {', '.join(missing)}", "mismatch")


class UpdateCabHandler:
    """An update CAB: members tagged with their component identity; update.mum parsed into the meta."""

    name = "cab"
    needs_seekable = True  # to list the members past a damaged block from the CAB's file table

    def match(self, info: SniffInfo) -> bool:
        """A CAB holding a ``.mum`` package manifest (``update.mum``)."""
        return any(n.endswith(".mum") for n in cab_names(info.head))

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """The CAB members with ``component`` in their meta; ``update.mum`` parsed and replayed."""
        components: dict[str, dict[str, Any]] = {}
        for member in cab_members(stream, ctx):
            comp = component_of(member.name)
            extra = {"component": comp} if comp else {}
            if comp:
                summary = components.setdefault(comp, {"identity": comp, **identity_fields(comp),
                                                       "files": 0, "bytes": 0})
                if member.size is not None and not member.name.lower().endswith(".manifest"):
                    summary["files"] += 1
                    summary["bytes"] += member.size
            if member.name.lower() == "update.mum" and member.open is not None:
                data = read_bounded(member, MAX_TEXT)
                if data is None:
                    ctx.problem(member.name, f"larger than {MAX_TEXT} bytes; not parsed", "limit")
                    yield member
                    continue
                mum = parse_mum(decode_text(data))
                if mum:
                    ctx.meta["update"] = mum
                    kb = mum.get("kb", "")
                    if kb:
                        ctx.meta["kb"] = kb if kb.upper().startswith("KB") else f"KB{kb}"
                else:
                    ctx.problem(member.name, "update.mum is not readable XML", "warning")
                yield replay(member, data, **extra)
                continue
            yield Member(name=member.name, kind=member.kind, size=member.size, stored_size=member.stored_size,
                         mode=member.mode, mtime=member.mtime, link_target=member.link_target,
                         meta={**member.meta, **extra}, open=member.open)
        if components:
            ctx.meta["components"] = sorted(components.values(), key=lambda c: c["identity"])
        if "kb" not in ctx.meta:
            m = _KB.search(ctx.name)
            if m:
                ctx.meta["kb"] = f"KB{m.group(1)}"


MSU = MsuHandler()
UPDATE_CAB = UpdateCabHandler()
