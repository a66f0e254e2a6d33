"""ESXi 5+ installer ISOs: boot modules in boot order, tied back to the VIBs they come from.

An ESXi installer ISO is a plain ISO 9660 volume whose root holds ``BOOT.CFG`` (and ``EFI/BOOT/BOOT.CFG``)
listing the kernel and the modules in boot order, the modules themselves (``.B00`` gzip'ed boot modules,
``.V00`` vmtar payloads, ``.T00``/``.TGZ`` tar.gz payloads) and ``IMGDB.TGZ``, the image database with
the image profile and one descriptor per VIB (formats.md §1.4). boot.cfg names are lowercase, the ISO
names uppercase: they are matched case-insensitively (and ``-`` matches ``_``).

This handler is the generic ISO reader (``IsoHandler``) with one addition: when the volume root has a
``BOOT.CFG``, the small files above are read first (bounded), then every member is yielded as the
generic reader yields it, module files carrying ``boot_order``, ``module_kind``, ``vib`` and ``payload``
in ``meta`` and checked against the size and SHA-256 in the VIB's descriptor. Any trouble with the
ESXi extras is reported and the generic listing goes on, so other ISOs are unaffected.
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from inspector.model import EntryKind
from inspector.unpack.base import FormatError, Member, UnpackContext
from inspector.unpack.iso import IsoHandler
from inspector.unpack.iso9660 import DirRecord, IsoFormatError, VolumeDescriptor, read_directory, read_volume
from inspector.unpack.vib import (
    MAX_XML,
    VerifyingReader,
    VibDescriptor,
    check_against,
    descriptor_from_element,
    parse_xml,
    text,
)

#: Largest BOOT.CFG read.
MAX_BOOTCFG = 256 * 1024
#: Largest IMGDB.TGZ read (compressed), and the most bytes it may expand to.
MAX_IMGDB = 64 * 1024 * 1024
MAX_IMGDB_UNPACKED = 256 * 1024 * 1024

_KINDS = (
    (re.compile(r"\.b\d\d$"), "boot module (gzip)"),
    (re.compile(r"\.v\d\d$"), "vmtar payload"),
    (re.compile(r"\.(t\d\d|tgz)$"), "tar.gz payload"),
    (re.compile(r"\.i\d\d$"), "installer payload"),
    (re.compile(r"\.gz$"), "gzip"),
)


def module_kind(name: str) -> str:
    """Classify a boot module by its suffix (``.b00``, ``.v00``, ``.t00``/``.tgz``, ``.gz``)."""
    lower = name.lower()
    for pattern, kind in _KINDS:
        if pattern.search(lower):
            return kind
    return "other"


def norm(name: str) -> str:
    """The comparison key of a module name: no leading ``/``, lowercase, ``-`` as ``_``."""
    return name.strip().lstrip("/").lower().replace("-", "_")


@dataclass(frozen=True)
class BootCfg:
    """What a boot.cfg says: kernel, modules in order, build and the raw keys."""

    kernel: str | None
    modules: tuple[str, ...]
    build: str | None
    title: str | None
    keys: dict[str, str] = field(default_factory=dict)


def parse_boot_cfg(data: bytes) -> BootCfg:
    """Parse ``key=value`` lines (``#`` comments); ``modules`` split on ``---``, first word of each."""
    keys: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        keys[key.strip()] = value.strip()
    prefix = keys.get("prefix", "").strip("/")

    def path(token: str) -> str | None:
        words = token.split()
        if not words:
            return None
        name = words[0].lstrip("/")
        return f"{prefix}/{name}" if prefix and not words[0].startswith("/") else name

    modules = tuple(p for p in (path(t) for t in keys.get("modules", "").split("---")) if p)
    kernel = path(keys.get("kernel", ""))
    return BootCfg(kernel, modules, keys.get("build") or None, keys.get("title") or None, keys)


@dataclass
class ImageDb:
    """IMGDB.TGZ: the image profile(s) and the VIB descriptors."""

    profile: str | None = None
    acceptance_level: str | None = None
    modules: dict[str, tuple[str, str]] = field(default_factory=dict)  # norm(file) -> (vib id, payload)
    vibs: dict[str, VibDescriptor] = field(default_factory=dict)  # vib id -> descriptor


def read_imgdb(data: bytes, problem: Any) -> ImageDb:
    """Parse IMGDB.TGZ bytes (bounded): profiles under ``*/profiles/``, descriptors under ``*/vibs/``."""
    db = ImageDb()
    try:
        raw = zlib.decompressobj(31).decompress(data, MAX_IMGDB_UNPACKED)
    except zlib.error as exc:
        raise FormatError(f"IMGDB.TGZ is not gzip ({exc})") from None
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise FormatError(f"IMGDB.TGZ holds no tar ({exc})") from None
    with tf:
        for info in tf:
            if not info.isfile() or info.size > MAX_XML:
                continue
            name = info.name.lstrip("./")
            fh = tf.extractfile(info)
            if fh is None:
                continue
            body = fh.read()
            where = f"IMGDB.TGZ!/{name}"
            try:
                if "/profiles/" in f"/{name}":
                    _profile(parse_xml(body, name), db)
                elif "/vibs/" in f"/{name}" and name.endswith(".xml"):
                    desc = descriptor_from_element(parse_xml(body, name), name)
                    db.vibs[desc.vib_id] = desc
            except FormatError as exc:
                problem(where, str(exc), "error")
    return db


def _profile(root: Any, db: ImageDb) -> None:
    db.profile = db.profile or text(root, "name")
    db.acceptance_level = db.acceptance_level or text(root, "acceptancelevel") or text(root, "acceptanceLevel")
    for vib in root.iter("vib"):
        vib_id = text(vib, "vib-id")
        if not vib_id:
            continue
        for p in vib.iterfind("payloads/payload"):
            if p.text and p.text.strip():
                db.modules[norm(p.text)] = (vib_id, p.get("payload-name", ""))


class EsxiIsoHandler(IsoHandler):
    """The generic ISO reader, plus boot.cfg / image-database metadata on ESXi installer media."""

    name = "iso9660"

    def members(self, stream: BinaryIO, ctx: UnpackContext) -> Iterator[Member]:
        """Yield the ISO's members; on ESXi media, annotate modules and check them against their VIBs."""
        modules = self._esxi_modules(stream, ctx)
        stream.seek(0)
        if modules is None:
            yield from super().members(stream, ctx)
            return
        found: set[str] = set()
        for member in super().members(stream, ctx):
            info = modules.get(norm(member.name)) if member.kind is EntryKind.FILE else None
            if info is None or member.open is None:
                yield member
                continue
            found.add(norm(member.name))
            meta = {**member.meta, **{k: v for k, v in info.items() if not k.startswith("_")}}
            size, sha = info.get("_size"), info.get("_sha256")
            if size is None and sha is None:
                yield Member(**{**member.__dict__, "meta": meta})
                continue
            box: list[VerifyingReader] = []

            def opener(inner: Any = member.open, box: list[VerifyingReader] = box) -> BinaryIO:
                box.append(VerifyingReader(inner()))
                return box[-1]  # type: ignore[return-value]

            yield Member(**{**member.__dict__, "meta": meta, "open": opener})
            if box:
                check_against(member.name, box[0], size, sha, f"the descriptor of {info.get('vib')}", ctx.problem)
        for key, info in modules.items():
            if key not in found and info.get("boot_order") is not None:
                ctx.problem(info["_listed"], "listed in BOOT.CFG but not on the ISO", "mismatch")

    # -- pre-read -----------------------------------------------------------------------------------
    def _esxi_modules(self, stream: BinaryIO, ctx: UnpackContext) -> dict[str, dict[str, Any]] | None:
        """BOOT.CFG modules annotated from IMGDB.TGZ, or None on media that are not ESXi installers.

        Only the root and ``EFI/BOOT`` directories of the ISO 9660 tree are read (our own record reader),
        so a non-ESXi ISO costs two directory reads, whatever its number of files.
        """
        try:
            volume = read_volume(stream)
        except IsoFormatError:
            return None  # the generic reader reports an unreadable volume
        primary = volume.first("primary")
        if primary is None:
            return None
        root = _root_files(stream, primary)
        if "boot.cfg" not in root:
            return None
        try:
            return self._read_esxi(_RecordReader(stream, primary.block_size), root, ctx)
        except (FormatError, OSError, ValueError, KeyError, IndexError) as exc:
            ctx.problem(None, f"ESXi boot metadata not read: {exc}", "error")
            return None

    def _read_esxi(self, iso: _RecordReader, root: dict[str, DirRecord],
                   ctx: UnpackContext) -> dict[str, dict[str, Any]]:
        cfg = parse_boot_cfg(iso.read(root["boot.cfg"], MAX_BOOTCFG, "BOOT.CFG"))
        efi = None
        if "efi/boot/boot.cfg" in root:
            efi = parse_boot_cfg(iso.read(root["efi/boot/boot.cfg"], MAX_BOOTCFG, "EFI/BOOT/BOOT.CFG"))
        db = ImageDb()
        if "imgdb.tgz" in root:
            try:
                db = read_imgdb(iso.read(root["imgdb.tgz"], MAX_IMGDB, "IMGDB.TGZ"), ctx.problem)
            except FormatError as exc:
                ctx.problem("IMGDB.TGZ", str(exc), "error")
        by_payload = {
            (vib_id, p.name): p for vib_id, d in db.vibs.items() for p in d.payloads
        }
        modules: dict[str, dict[str, Any]] = {}
        order = ([cfg.kernel] if cfg.kernel else []) + list(cfg.modules)
        for n, name in enumerate(order):
            info: dict[str, Any] = {
                "boot_order": n,
                "module_kind": "kernel" if n == 0 and cfg.kernel else module_kind(name),
                "_listed": name.upper(),
            }
            vib_id, payload_name = db.modules.get(norm(name.rsplit("/", 1)[-1]), (None, None))
            if vib_id is None:
                vib_id, payload_name = self._guess_vib(name, db)
            if vib_id:
                info["vib"] = vib_id
                info["payload"] = payload_name
                p = by_payload.get((vib_id, payload_name or ""))
                if p is not None:
                    info["payload_type"] = p.type
                    info["_size"], info["_sha256"] = p.size, p.sha256
            modules[norm(name)] = info
        ctx.meta["esxi"] = {
            "build": cfg.build,
            "title": cfg.title,
            "kernel": cfg.kernel,
            "modules": len(cfg.modules),
            "boot_cfg": ["BOOT.CFG"] + (["EFI/BOOT/BOOT.CFG"] if efi else []),
            "efi_modules_differ": bool(efi and (efi.kernel, efi.modules) != (cfg.kernel, cfg.modules)),
            "image_profile": db.profile,
            "acceptance_level": db.acceptance_level,
            "vibs": sorted(db.vibs),
            "modules_without_vib": sorted(i["_listed"] for i in modules.values() if "vib" not in i),
        }
        ctx.meta["label"] = f"ESXi {cfg.build or '?'} installer" + (f" ({db.profile})" if db.profile else "")
        return modules

    @staticmethod
    def _guess_vib(name: str, db: ImageDb) -> tuple[str | None, str | None]:
        """Without a profile entry: module stem == first 8 characters of a payload name (``-`` as ``_``)."""
        base = norm(name.rsplit("/", 1)[-1])
        stem, _, ext = base.partition(".")
        for vib_id, desc in db.vibs.items():
            for p in desc.payloads:
                if norm(p.name)[:8] == stem and ext[:1] == (p.type[:1] or "?"):
                    return vib_id, p.name
        return None, None


def _shown_name(rec: DirRecord) -> str:
    """An ISO 9660 identifier as a lowercase file name (``BOOT.CFG;1`` -> ``boot.cfg``)."""
    return rec.identifier.decode("ascii", "replace").split(";", 1)[0].rstrip(".").lower()


def _children(stream: BinaryIO, directory: DirRecord, block_size: int) -> list[DirRecord]:
    """The records of one directory (bounded: ESXi's root holds a few hundred), without ``.`` and ``..``."""
    problems: list[str] = []
    records = read_directory(stream, directory.extent * block_size, min(directory.data_length, MAX_ROOT_DIR),
                             problems)
    return [r for r in records if not r.is_self_or_parent]


def _root_files(stream: BinaryIO, primary: VolumeDescriptor) -> dict[str, DirRecord]:
    """Lowercase ``name`` / ``efi/boot/name`` -> the file's record, for the root and ``EFI/BOOT``."""
    out: dict[str, DirRecord] = {}
    bs = primary.block_size
    folders: list[tuple[DirRecord, str]] = [(primary.root, "")]
    root_children = _children(stream, primary.root, bs)
    efi = next((r for r in root_children if r.is_dir and _shown_name(r) == "efi"), None)
    if efi is not None:
        boot = next((r for r in _children(stream, efi, bs) if r.is_dir and _shown_name(r) == "boot"), None)
        if boot is not None:
            folders.append((boot, "efi/boot/"))
    for folder, prefix in folders:
        for rec in root_children if folder is primary.root else _children(stream, folder, bs):
            if not rec.is_dir:
                out[prefix + _shown_name(rec)] = rec
    return out


class _RecordReader:
    """Reads a small file of the ISO 9660 tree whole, bounded by a cap."""

    def __init__(self, stream: BinaryIO, block_size: int) -> None:
        self._stream = stream
        self._block_size = block_size

    def read(self, rec: DirRecord, cap: int, what: str) -> bytes:
        """The content of ``rec``; ``FormatError`` when it is over ``cap`` or runs past the image."""
        if rec.data_length > cap:
            raise FormatError(f"{what} is {rec.data_length} bytes, over the {cap}-byte cap")
        self._stream.seek(rec.extent * self._block_size)
        data = self._stream.read(rec.data_length)
        if len(data) < rec.data_length:
            raise FormatError(f"{what} runs past the end of the image")
        return data


#: Bytes of the root (and EFI/BOOT) directory read when looking for BOOT.CFG.
MAX_ROOT_DIR = 4 * 1024 * 1024
