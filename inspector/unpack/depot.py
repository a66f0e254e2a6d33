"""ESXi offline bundles (depot ZIPs): bulletins, image profiles and VIBs located through the metadata.

A depot is a ZIP with ``index.xml`` / ``vendor-index.xml`` at the root and a nested ``metadata.zip``
(``vmware.xml``, ``bulletins/*.xml``, ``vibs/*.xml``; formats.md §2.3). The ZIP central directory is at
the end of the file, so whether a ZIP is a depot is decided inside ``members`` (after the generic ZIP
reader has the directory), not from the first 64 KiB: this handler replaces the generic one for every
ZIP and behaves exactly like it for ZIPs that are not depots.

For a depot, the metadata is read first (bounded), then every member is yielded as the ZIP reader
yields it; a VIB member found at a ``<relativePath>`` gets its VIB ID, bulletin ids and reboot flag in
``meta`` and is checked against the declared packed size and SHA-256. VIBs that the metadata names but
the ZIP lacks are reported as ``mismatch`` problems. Vendor downloads that wrap a depot in another ZIP
need nothing special: the walker recurses into the inner ZIP, which is read by this handler again.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from inspector.limits import WalkError
from inspector.names import display_name
from inspector.unpack.base import FormatError, Member, UnpackContext
from inspector.unpack.zip import ZipHandler, checked_directory, open_member
from inspector.unpack.zipcentral import CentralRecord, Directory, directory_contains, locate, records, stored_name

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from inspector.unpack.vib import VerifyingReader

#: Largest nested metadata.zip read into memory.
MAX_METADATA_ZIP = 64 * 1024 * 1024
#: Largest vmware.xml (a full patch depot lists every VIB of every bulletin).
MAX_VMWARE_XML = 32 * 1024 * 1024
#: Most XML documents parsed from one metadata.zip.
MAX_XML_FILES = 20_000


@dataclass
class VibRef:
    """What the metadata says about one VIB file of the depot."""

    vib_id: str
    relative_path: str | None = None
    packed_size: int | None = None
    sha256: str | None = None
    reboot_required: bool | None = None
    bulletins: list[str] = field(default_factory=list)


@dataclass
class Bulletin:
    """One bulletin (patch or extension) of the depot."""

    id: str
    vendor: str | None = None
    summary: str | None = None
    release_date: str | None = None
    severity: str | None = None
    category: str | None = None
    release_type: str | None = None
    reboot_required: bool | None = None
    vibs: list[str] = field(default_factory=list)

    def to_meta(self) -> dict[str, Any]:
        return {
            "id": self.id, "vendor": self.vendor, "summary": self.summary, "release_date": self.release_date,
            "severity": self.severity, "category": self.category, "release_type": self.release_type,
            "reboot_required": self.reboot_required, "vibs": list(self.vibs),
        }


@dataclass
class DepotMeta:
    """Everything read from a depot's metadata."""

    metadata: list[str] = field(default_factory=list)
    bulletins: dict[str, Bulletin] = field(default_factory=dict)
    vibs: dict[str, VibRef] = field(default_factory=dict)
    profiles: list[dict[str, Any]] = field(default_factory=list)

    def by_path(self) -> dict[str, VibRef]:
        return {v.relative_path.lstrip("/"): v for v in self.vibs.values() if v.relative_path}

    def to_meta(self) -> dict[str, Any]:
        return {
            "metadata": self.metadata,
            "bulletins": [b.to_meta() for b in self.bulletins.values()],
            "image_profiles": self.profiles,
            "vibs": len(self.vibs),
        }

    @property
    def label(self) -> str:
        if self.profiles and self.profiles[0].get("name"):
            return f"{self.profiles[0]['name']} (offline bundle)"
        if len(self.bulletins) == 1:
            return f"{next(iter(self.bulletins))} (offline bundle)"
        return f"offline bundle, {len(self.bulletins)} bulletins"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_depot(names: set[str]) -> bool:
    """A depot has index.xml or vendor-index.xml at the root and at least one nested ZIP of metadata."""
    return bool({"index.xml", "vendor-index.xml"} & names) and any(
        n.lower().endswith(".zip") and "/" not in n for n in names
    )


#: Root-level names a depot check looks at (besides any root-level ``*.zip``).
_DEPOT_NAMES = ("index.xml", "vendor-index.xml", "metadata.zip")


def _root_names(stream: BinaryIO, directory: Directory) -> dict[str, CentralRecord]:
    """The records of the root-level names a depot check needs: index files, metadata.zip, one other ``*.zip``.

    One pass over the directory holding only these few records (the last of each name, as a name lookup
    finds it), never a set of every member name.
    """
    found: dict[str, CentralRecord] = {}
    for record in records(stream, directory):
        raw = record.name
        if b"/" in raw or not (raw.lower().endswith(b".zip") or raw.endswith(b".xml")):
            continue
        name = stored_name(record)
        if not isinstance(name, str):
            continue
        if name in _DEPOT_NAMES or (name.lower().endswith(".zip") and not any(
                n.lower().endswith(".zip") for n in found)):
            found[name] = record
    return found


def _named(stream: BinaryIO, directory: Directory, names: set[str]) -> dict[str, CentralRecord]:
    """The records (the last of each name) of a few names, from one pass over the directory."""
    found: dict[str, CentralRecord] = {}
    for record in records(stream, directory):
        name = stored_name(record)
        if name in names:
            found[cast(str, name)] = record
    return found


def _read_small(stream: BinaryIO, record: CentralRecord, name: str, cap: int, window: int) -> bytes:
    """A small member's whole content (an index, a metadata ZIP, an XML document), refused over ``cap``."""
    if record.file_size > cap:
        raise FormatError(f"{name} is {record.file_size} bytes, over the {cap}-byte cap")
    try:
        return open_member(stream, record, name, window).read(cap + 1)[:cap]
    except WalkError as exc:
        raise FormatError(f"{name} unreadable: {exc}") from None


def _vib() -> ModuleType:
    """The VIB reader (its XML parsing and checks), imported once a ZIP turns out to be a depot: xml and
    defusedxml cost every other ZIP about 4 ms of start-up."""
    from inspector.unpack import vib

    return vib


class DepotHandler(ZipHandler):
    """The ZIP reader, plus depot metadata when the ZIP is an ESXi offline bundle."""

    name = "zip"

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the ZIP's members; for a depot, tag VIBs and check them against the metadata."""
        depot = self._read_metadata(stream, ctx)
        stream.seek(0)
        if depot is None:
            yield from super().members(stream, ctx)
            return
        ctx.meta["depot"] = depot.to_meta()
        ctx.meta["label"] = depot.label
        wanted = depot.by_path()
        vib = _vib()
        found: set[str] = set()
        for member in super().members(stream, ctx):
            ref = wanted.get(member.name)
            if ref is None or member.open is None:
                yield member
                continue
            found.add(member.name)
            meta = dict(member.meta)
            meta.update({"vib_id": ref.vib_id, "bulletins": list(ref.bulletins),
                         "reboot_required": ref.reboot_required})
            box: list[VerifyingReader] = []
            inner_open = member.open

            def opener(inner_open: Any = inner_open, box: list[VerifyingReader] = box) -> BinaryIO:
                box.append(vib.VerifyingReader(inner_open()))
                return box[-1]  # type: ignore[return-value]

            yield Member(**{**member.__dict__, "meta": meta, "open": opener})
            if box:
                vib.check_against(member.name, box[0], ref.packed_size, ref.sha256, "the bundle metadata", ctx.problem)
        for path, ref in sorted(wanted.items()):
            if path not in found:
                where = f" (bulletin {', '.join(ref.bulletins)})" if ref.bulletins else ""
                ctx.problem(path, f"VIB {ref.vib_id} named in the bundle metadata{where} is missing from the "
                            "bundle", "mismatch")

    # -- metadata -----------------------------------------------------------------------------------
    def _read_metadata(self, stream: BinaryIO, ctx: UnpackContext) -> DepotMeta | None:
        try:
            directory = locate(stream)
            # One C-speed scan of the directory's bytes settles almost every ZIP that is not a depot.
            if not directory_contains(stream, directory, b"index.xml"):
                return None
            roots = _root_names(stream, directory)
        except FormatError:
            return None  # the generic path reports the unreadable ZIP
        if not is_depot(set(roots)):
            return None
        window = ctx.budget.limits.max_window_bytes
        depot = DepotMeta()
        for url, record in self._metadata_urls(stream, directory, roots, window, ctx):
            try:
                self._read_metadata_zip(_read_small(stream, record, url, MAX_METADATA_ZIP, window), url, depot,
                                        window, ctx)
                depot.metadata.append(url)
            except FormatError as exc:
                ctx.problem(url, f"bundle metadata not read: {exc}", "error")
        if not depot.metadata:
            return None
        self._finish(depot)
        return depot

    def _metadata_urls(self, stream: BinaryIO, directory: Directory, roots: dict[str, CentralRecord], window: int,
                       ctx: UnpackContext) -> list[tuple[str, CentralRecord]]:
        vib = _vib()
        urls: list[str] = []
        if "vendor-index.xml" in roots:
            try:
                index = _read_small(stream, roots["vendor-index.xml"], "vendor-index.xml", vib.MAX_XML, window)
                root = vib.parse_xml(index, "vendor-index.xml")
                for meta in root.iter("metadata"):
                    url = vib.text(meta, "url")
                    if url:
                        url = url.rsplit("/", 1)[-1] if "://" in url else url.lstrip("./")
                        if url not in urls:
                            urls.append(url)
            except FormatError as exc:
                ctx.problem("vendor-index.xml", str(exc), "error")
        found = _named(stream, directory, set(urls)) if urls else {}
        chosen = [(url, found[url]) for url in urls if url in found]
        if not chosen and "metadata.zip" in roots:
            chosen.append(("metadata.zip", roots["metadata.zip"]))
        return chosen

    def _read_metadata_zip(self, data: bytes, url: str, depot: DepotMeta, window: int, ctx: UnpackContext) -> None:
        vib = _vib()
        mz = io.BytesIO(data)
        try:
            directory = checked_directory(cast(BinaryIO, mz))
        except FormatError as exc:
            raise FormatError(f"not a readable ZIP ({exc})") from None
        xml = (r for r in records(cast(BinaryIO, mz), directory) if r.name.endswith(b".xml"))
        for record in islice(xml, MAX_XML_FILES):
            name = stored_name(record)
            if isinstance(name, bytes):
                name = display_name(name)
            where = f"{url}!/{name}"
            cap = MAX_VMWARE_XML if name == "vmware.xml" else vib.MAX_XML
            try:
                root = vib.parse_xml(_read_small(cast(BinaryIO, mz), record, name, cap, window), name)
            except FormatError as exc:
                ctx.problem(where, str(exc), "error")
                continue
            if name == "vmware.xml":
                self._vmware_xml(root, depot)
            elif name.startswith("bulletins/"):
                self._bulletin(root, depot)
            elif name.startswith("vibs/"):
                self._vib_xml(root, depot)
            elif name.startswith("profiles/"):
                self._profile(root, depot)

    def _vmware_xml(self, root: Element, depot: DepotMeta) -> None:
        vib = _vib()
        for b in root.iter("bulletin"):
            bul = self._bulletin(b, depot)
            for v in b.iterfind("vibList/vib"):
                vib_id = vib.text(v, "vibID")
                if not vib_id:
                    continue
                ref = depot.vibs.setdefault(vib_id, VibRef(vib_id))
                ref.relative_path = vib.text(v, "vibFile/relativePath", ref.relative_path)
                ref.packed_size = _int(vib.text(v, "vibFile/packedSize")) or ref.packed_size
                for c in v.iterfind("vibFile/checksum"):
                    if (vib.text(c, "checksumType") or "").lower() == "sha-256":
                        ref.sha256 = (vib.text(c, "checksum") or "").lower() or ref.sha256
                reboot = vib.flag(v, "postInstall/rebootRequired")
                if reboot is not None:
                    ref.reboot_required = reboot
                if bul is not None and vib_id not in bul.vibs:
                    bul.vibs.append(vib_id)
        for p in root.iter("imageProfile"):
            self._profile(p, depot)

    @staticmethod
    def _bulletin(b: Element, depot: DepotMeta) -> Bulletin | None:
        vib = _vib()
        bid = vib.text(b, "id")
        if not bid:
            return None
        bul = depot.bulletins.setdefault(bid, Bulletin(bid))
        for attr, tag in (("vendor", "vendor"), ("summary", "summary"), ("release_date", "releaseDate"),
                          ("severity", "severity"), ("category", "category"), ("release_type", "releaseType")):
            value = vib.text(b, tag)
            if value is not None:
                setattr(bul, attr, value)
        reboot = vib.flag(b, "rebootRequired")
        if reboot is not None:
            bul.reboot_required = reboot
        for vid in b.iterfind("vibList/vibID"):
            if vid.text and vid.text.strip() not in bul.vibs:
                bul.vibs.append(vid.text.strip())
        return bul

    @staticmethod
    def _vib_xml(root: Element, depot: DepotMeta) -> None:
        vib = _vib()
        if root.tag != "vib":
            return
        vib_id = "_".join(vib.text(root, tag, "") or "" for tag in ("vendor", "type", "name", "version"))
        ref = depot.vibs.setdefault(vib_id, VibRef(vib_id))
        ref.relative_path = ref.relative_path or vib.text(root, "relative-path")
        ref.packed_size = ref.packed_size or _int(vib.text(root, "packed-size"))
        for c in root.findall("checksum"):
            if c.get("checksum-type") == "sha-256" and c.text and not ref.sha256:
                ref.sha256 = c.text.strip().lower()
        live = vib.flag(root, "live-install-allowed")
        if ref.reboot_required is None and live is not None:
            ref.reboot_required = not live

    @staticmethod
    def _profile(p: Element, depot: DepotMeta) -> None:
        vib = _vib()
        name = vib.text(p, "name")
        if any(x.get("name") == name for x in depot.profiles):
            return
        vibs = [t.text.strip() for t in p.iter("vibID") if t.text] or [
            t.text.strip() for t in p.iter("vib-id") if t.text]
        depot.profiles.append({
            "name": name,
            "creator": vib.text(p, "creator"),
            "acceptance_level": vib.text(p, "acceptanceLevel") or vib.text(p, "acceptancelevel"),
            "vibs": len(vibs),
        })

    @staticmethod
    def _finish(depot: DepotMeta) -> None:
        for bul in depot.bulletins.values():
            for vib_id in bul.vibs:
                ref = depot.vibs.setdefault(vib_id, VibRef(vib_id))
                if bul.id not in ref.bulletins:
                    ref.bulletins.append(bul.id)
            if bul.reboot_required is None:
                flags = [depot.vibs[v].reboot_required for v in bul.vibs if depot.vibs[v].reboot_required is not None]
                bul.reboot_required = any(flags) if flags else None
