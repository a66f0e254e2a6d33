"""VMware VIBs (ESXi 5+ ``.vib``): an ``ar`` archive whose first member is ``descriptor.xml``.

The ar members carry mtime/uid/gid/mode ``0`` (formats.md §2.1). We read the 60-byte headers ourselves
rather than through libarchive: the reader is twenty lines, needs no seeking, keeps member names exactly
as stored, and lets us read ``descriptor.xml`` (bounded) before the payloads stream past, so each
payload's stored size and SHA-256 are checked against the descriptor while the walker reads it.

``descriptor.xml`` is parsed with defusedxml (no entity expansion, no external entities). The parsed
descriptor is also used by the depot and ESXi ISO readers (``vibs/*.xml``, ``IMGDB.TGZ``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from inspector.model import EntryKind
from inspector.names import member_path
from inspector.streams import CHUNK
from inspector.unpack.base import ExactSlice, FormatError, Member, SniffInfo, UnpackContext

AR_MAGIC = b"!<arch>\n"
#: Largest XML document (descriptor, bulletin, profile) read into memory.
MAX_XML = 4 * 1024 * 1024


# -- XML ------------------------------------------------------------------------------------------
def parse_xml(data: bytes, what: str) -> Element:
    """Parse a small XML document safely (no DTD entities); FormatError with a one-line reason."""
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise FormatError(f"{what} uses forbidden XML constructs ({type(exc).__name__})") from None
    except SyntaxError as exc:  # ParseError subclasses SyntaxError
        raise FormatError(f"{what} is not well-formed XML ({exc})") from None


def text(elem: Element | None, path: str, default: str | None = None) -> str | None:
    """Stripped text of the first ``path`` below ``elem`` (``default`` when absent or empty)."""
    if elem is None:
        return default
    found = elem.find(path)
    if found is None or found.text is None:
        return default
    value = found.text.strip()
    return value if value else default


def flag(elem: Element | None, path: str) -> bool | None:
    """``true``/``false`` text as a bool (None when absent)."""
    value = text(elem, path)
    return None if value is None else value.lower() in ("true", "1", "yes")


# -- descriptor -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    """One payload as the descriptor declares it."""

    name: str
    type: str
    size: int | None
    sha256: str | None
    checksums: tuple[tuple[str, str, str], ...]  # (type, verify-process, hex)


@dataclass(frozen=True)
class VibDescriptor:
    """The facts of a VIB descriptor that matter for inventories and patch analysis."""

    name: str
    version: str
    vendor: str
    type: str
    acceptance_level: str | None
    release_date: str | None
    live_install_allowed: bool | None
    live_remove_allowed: bool | None
    maintenance_mode: bool | None
    summary: str | None
    tags: tuple[str, ...]
    files: int
    payloads: tuple[Payload, ...]

    @property
    def vib_id(self) -> str:
        """``<vendor>_<type>_<name>_<version>``, the ID depots and image profiles use."""
        return f"{self.vendor}_{self.type}_{self.name}_{self.version}"

    @property
    def label(self) -> str:
        """Short human label for tables: ``net-ixgbe 3.7.13-1OEM.500.0.0.472560 (VIB)``."""
        return f"{self.name} {self.version} (VIB)"

    def to_meta(self) -> dict[str, Any]:
        """JSON-able metadata for an inventory entry."""
        return {
            "vib_id": self.vib_id,
            "name": self.name,
            "version": self.version,
            "vendor": self.vendor,
            "type": self.type,
            "acceptance_level": self.acceptance_level,
            "release_date": self.release_date,
            "live_install_allowed": self.live_install_allowed,
            "live_remove_allowed": self.live_remove_allowed,
            "reboot_required": None if self.live_install_allowed is None else not self.live_install_allowed,
            "maintenance_mode": self.maintenance_mode,
            "tags": list(self.tags),
            "files": self.files,
            "payloads": [
                {"name": p.name, "type": p.type, "size": p.size,
                 "checksums": [{"type": t, "verify_process": v, "value": h} for t, v, h in p.checksums]}
                for p in self.payloads
            ],
        }


def descriptor_from_element(root: Element, what: str = "descriptor.xml") -> VibDescriptor:
    """Read a ``<vib>`` element (a descriptor, or a ``vibs/*.xml`` / imgdb copy of one)."""
    if root.tag != "vib":
        raise FormatError(f"{what}: root element is <{root.tag}>, not <vib>")
    name = text(root, "name")
    version = text(root, "version")
    if not name or not version:
        raise FormatError(f"{what}: no <name> or <version>")
    payloads = []
    for p in root.iterfind("payloads/payload"):
        sums = tuple(
            (c.get("checksum-type", ""), c.get("verify-process", ""), (c.text or "").strip().lower())
            for c in p.iterfind("checksum")
        )
        sha = next((h for t, v, h in sums if t == "sha-256" and not v), None)
        size_text = p.get("size")
        try:
            size = int(size_text) if size_text is not None else None
        except ValueError:
            raise FormatError(f"{what}: payload {p.get('name')!r} has a non-numeric size {size_text!r}") from None
        payloads.append(Payload(p.get("name", ""), p.get("type", ""), size, sha, sums))
    return VibDescriptor(
        name=name,
        version=version,
        vendor=text(root, "vendor", "") or "",
        type=text(root, "type", "") or "",
        acceptance_level=text(root, "acceptance-level"),
        release_date=text(root, "release-date"),
        live_install_allowed=flag(root, "live-install-allowed"),
        live_remove_allowed=flag(root, "live-remove-allowed"),
        maintenance_mode=flag(root, "system-requires/maintenance-mode"),
        summary=text(root, "summary"),
        tags=tuple((t.text or "").strip() for t in root.iterfind("software-tags/tag")),
        files=sum(1 for _ in root.iterfind("file-list/file")),
        payloads=tuple(payloads),
    )


def parse_descriptor(data: bytes, what: str = "descriptor.xml") -> VibDescriptor:
    """Parse descriptor bytes (bounded by the caller) into a VibDescriptor."""
    return descriptor_from_element(parse_xml(data, what), what)


# -- verification while streaming ---------------------------------------------------------------------
class VerifyingReader(io.RawIOBase):
    """Pass-through that hashes and counts what the consumer reads; ``finish`` reads the rest.

    Used to check a member against a size and SHA-256 declared elsewhere (VIB descriptor, depot
    metadata, image database) in the same single pass the walker makes.
    """

    def __init__(self, inner: BinaryIO) -> None:
        super().__init__()
        self._inner = inner
        self._sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        if hasattr(self._inner, "readinto"):
            n = self._inner.readinto(view) or 0
        else:  # pragma: no cover
            data = self._inner.read(len(view))
            n = len(data)
            view[:n] = data
        if n:
            self._sha.update(view[:n])
            self.count += n
        return n

    def finish(self) -> str:
        """Read whatever is left (hashing it) and return the hex SHA-256 of the whole content."""
        buf = bytearray(CHUNK)
        while self.readinto(buf):
            pass
        return self._sha.hexdigest()


def check_against(
    name: str, reader: VerifyingReader, size: int | None, sha256: str | None, source: str,
    problem: Callable[[str | None, str, str], None],
) -> bool:
    """Finish ``reader`` and report a ``mismatch`` when its size or SHA-256 differ from the declaration."""
    try:
        actual = reader.finish()
    except Exception:  # noqa: BLE001 - the read error itself is reported by the walker
        return False
    ok = True
    if size is not None and reader.count != size:
        problem(name, f"size {reader.count} differs from {size} declared in {source}", "mismatch")
        ok = False
    if sha256 and actual != sha256.lower():
        problem(name, f"sha-256 {actual[:16]}... differs from {sha256[:16]}... declared in {source}", "mismatch")
        ok = False
    return ok


# -- ar -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArHeader:
    """One 60-byte ar member header."""

    name: str
    size: int
    mtime: int
    mode: int


def read_ar_header(block: bytes, offset: int) -> ArHeader:
    """Parse a 60-byte header (SysV/BSD; GNU trailing ``/`` dropped); FormatError on garbage."""
    if len(block) < 60:
        raise FormatError(f"ar ends inside a member header at byte {offset}")
    if block[58:60] != b"`\n":
        raise FormatError(f"ar member header at byte {offset} has no end marker (corrupt)")
    raw = block[0:16].rstrip(b" ")
    if raw.endswith(b"/") and raw not in (b"/", b"//"):
        raw = raw[:-1]

    def num(field: bytes, base: int, what: str) -> int:
        t = field.strip(b" ")
        try:
            return int(t, base) if t else 0
        except ValueError:
            raise FormatError(f"ar member {raw!r} at byte {offset}: {what} field is not a number") from None

    return ArHeader(
        name=member_path(raw),
        size=num(block[48:58], 10, "size"),
        mtime=num(block[16:28], 10, "mtime"),
        mode=num(block[40:48], 8, "mode"),
    )


class _Limited(ExactSlice):
    """The next ``size`` bytes of an ar archive: one member's content."""

    def __init__(self, src: BinaryIO, size: int, name: str) -> None:
        super().__init__(src, size, lambda missing: f"ar member {name} is truncated ({missing} bytes missing)")
        self._name = name

    def skip_rest(self) -> None:
        while self.remaining > 0:
            chunk = self._src.read(min(self.remaining, CHUNK))
            if not chunk:
                raise FormatError(f"ar member {self._name} is truncated ({self.remaining} bytes missing)")
            self.remaining -= len(chunk)


def ar_members(stream: BinaryIO) -> Iterator[tuple[ArHeader, _Limited]]:
    """Iterate an ar archive forward: (header, content stream valid until the next step)."""
    magic = stream.read(8)
    if magic != AR_MAGIC:
        raise FormatError("not an ar archive")
    offset = 8
    while True:
        block = stream.read(60)
        if not block:
            return
        if block == b"\n" or not block.strip(b"\n"):  # lenient: stray padding at the end
            return
        hdr = read_ar_header(block, offset)
        body = _Limited(stream, hdr.size, hdr.name)
        yield hdr, body
        body.skip_rest()
        if hdr.size % 2:
            stream.read(1)
        offset += 60 + hdr.size + hdr.size % 2


# -- handler ----------------------------------------------------------------------------------------
class VibHandler:
    """ar archives whose first member is ``descriptor.xml`` (registered before the generic ar)."""

    name = "vib"
    needs_seekable = False

    def match(self, info: SniffInfo) -> bool:
        """A VIB: ar magic, then a first member called ``descriptor.xml``."""
        h = info.head
        return h.startswith(AR_MAGIC) and h[8:24].rstrip(b" /") == b"descriptor.xml"

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the ar members; descriptor first (parsed into ``ctx.meta``), payloads verified."""
        desc: VibDescriptor | None = None
        seen: set[str] = set()
        for hdr, body in ar_members(stream):
            seen.add(hdr.name)
            if hdr.name == "descriptor.xml" and desc is None:
                data = self._read_descriptor(hdr, body, ctx)
                if data is not None:
                    try:
                        desc = parse_descriptor(data)
                    except FormatError as exc:
                        ctx.problem("descriptor.xml", str(exc), "error")
                    else:
                        ctx.meta["vib"] = desc.to_meta()
                        ctx.meta["label"] = desc.label
                if data is None:
                    yield self._member(hdr, lambda b=body: b, {})  # type: ignore[misc]
                else:
                    yield self._member(hdr, lambda d=data: io.BytesIO(d), {})  # type: ignore[misc]
                continue
            payload = next((p for p in desc.payloads if p.name == hdr.name), None) if desc else None
            if payload is None:
                yield self._member(hdr, lambda b=body: b, {})  # type: ignore[misc]
                continue
            reader = VerifyingReader(body)  # type: ignore[arg-type]
            meta = {"payload_type": payload.type, "vib": desc.vib_id}  # type: ignore[union-attr]
            yield self._member(hdr, lambda r=reader: r, meta)  # type: ignore[misc]
            check_against(hdr.name, reader, payload.size, payload.sha256, "descriptor.xml", ctx.problem)
        if desc is not None:
            for p in desc.payloads:
                if p.name not in seen:
                    ctx.problem(p.name, "payload declared in descriptor.xml is missing from the VIB", "mismatch")

    @staticmethod
    def _read_descriptor(hdr: ArHeader, body: _Limited, ctx: UnpackContext) -> bytes | None:
        if hdr.size > MAX_XML:
            ctx.problem("descriptor.xml", f"descriptor is {hdr.size} bytes, over the {MAX_XML}-byte cap; "
                        "not parsed", "limit")
            return None
        data = body.read(hdr.size)
        if len(data) < hdr.size:
            raise FormatError(f"ar member descriptor.xml is truncated ({hdr.size - len(data)} bytes missing)")
        return data

    @staticmethod
    def _member(hdr: ArHeader, opener: Callable[[], Any], meta: dict[str, Any]) -> Member:
        return Member(
            name=hdr.name,
            kind=EntryKind.FILE,  # VIB members carry mode 0 (no type bits): always regular files
            size=hdr.size,
            stored_size=hdr.size,
            mode=(hdr.mode & 0o7777) or None,
            mtime=float(hdr.mtime) if hdr.mtime else None,
            meta=meta,
            open=opener,
        )
