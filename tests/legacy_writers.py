"""Today's whole-document writers, kept verbatim (from before the streaming writers) as the reference.

The streaming writers must produce byte-identical documents; tests compare against these. Copied from
``inspector/inventory.py``, ``serialize.py``, ``portable.py``, ``report/export.py`` and
``report/inventory_text.py`` as they were before entries could spill to disk.
"""
# ruff: noqa

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
import uuid
from collections import defaultdict
from typing import Any

import zstandard

from inspector import __version__
from inspector.inventory import ContainerSummary, Totals
from inspector.model import SCHEMA_VERSION, Entry, EntryKind, Inventory
from inspector.portable import _COLUMNS, FORMAT_VERSION, MAGIC
from inspector.report.export import CYCLONEDX_SPEC
from inspector.report.export import CSV_FIELDS
from inspector.serialize import entry_to_dict, problem_to_dict

def totals(inv: Inventory) -> Totals:
    """Image-wide totals of ``inv``."""
    files = dirs = links = other = containers = unopened = unread = 0
    unpacked = executables = code = data = writable_code = 0
    max_depth = 0
    for e in inv.entries:
        max_depth = max(max_depth, e.depth)
        if e.kind is EntryKind.DIR:
            dirs += 1
        elif e.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
            links += 1
        elif e.kind is not EntryKind.FILE:
            other += 1
        if e.container:
            if e.opened:
                containers += 1
            else:
                unopened += 1
        if e.is_leaf_file:
            if e.unread:
                unread += 1
                continue
            files += 1
            unpacked += e.size or 0
            if "binary" in e.meta:  # the whole-list figure of the code in executables, independently
                executables += 1
                code += sum(s["file_size"] for s in e.meta["binary"]["sections"] if s["class"] == "code")
                data += sum(s["file_size"] for s in e.meta["binary"]["sections"] if s["class"] in ("rodata", "data"))
                writable_code += sum(s["file_size"] for s in e.meta["binary"]["sections"]
                                     if s["class"] == "code" and s.get("writable"))
    return Totals(
        download_size=inv.root.size or 0,
        unpacked_size=unpacked,
        files=files,
        dirs=dirs,
        symlinks=links,
        other=other,
        containers=containers,
        unopened_containers=unopened,
        max_depth=max_depth,
        problems=len(inv.problems),
        complete=inv.complete,
        unread_files=unread,
        executables=executables,
        code_bytes=code,
        data_bytes=data,
        writable_code_bytes=writable_code,
    )


def container_summaries(inv: Inventory) -> list[ContainerSummary]:
    """A summary row per opened container, in inventory order (outermost first)."""
    opened = {e.path: e for e in inv.entries if e.container and e.opened}
    members: dict[str, int] = defaultdict(int)
    stored: dict[str, int] = defaultdict(int)
    unpacked: dict[str, int] = defaultdict(int)
    files: dict[str, int] = defaultdict(int)
    for e in inv.entries:
        parent = e.parent
        if parent is None:
            continue
        members[parent] += 1
        if e.kind is EntryKind.FILE:
            stored[parent] += e.stored_size if e.stored_size is not None else (e.size or 0)
        if e.is_leaf_file and not e.unread:
            for anc in ancestors(e):
                unpacked[anc] += e.size or 0
                files[anc] += 1
    return [
        ContainerSummary(
            path=p,
            format=e.container or "",
            depth=e.depth,
            size=e.size,
            members=members[p],
            stored_size=stored[p],
            unpacked_size=unpacked[p],
            files=files[p],
            label=str(e.meta["label"]) if e.meta.get("label") else None,
        )
        for p, e in opened.items()
    ]


def ancestors(entry: Entry) -> list[str]:
    """Logical paths of every container enclosing ``entry``, innermost first."""
    out = []
    path = entry.path
    while "!/" in path:
        path = path.rsplit("!/", 1)[0]
        out.append(path)
    return out
def inventory_to_dict(inv: Inventory, *, with_entries: bool = True) -> dict[str, Any]:
    """The whole inventory: schema tag, totals, container summaries, entries and problems."""
    return {
        "schema": "inspector.inventory",
        "schema_version": SCHEMA_VERSION,
        "source": inv.source,
        "complete": inv.complete,
        "totals": dataclasses.asdict(totals(inv)),
        "containers": [dataclasses.asdict(c) for c in container_summaries(inv)],
        "entries": [entry_to_dict(e) for e in inv.entries] if with_entries else None,
        "problems": [problem_to_dict(p) for p in inv.problems],
    }



def json_text(inv: Inventory) -> str:
    """What ``inspector inventory --json`` printed: the document and a newline."""
    return json.dumps(inventory_to_dict(inv), indent=1, sort_keys=False, default=str) + "\n"


def encode(inv: Inventory, level: int = 3) -> bytes:
    """The ``.inv`` bytes of ``inv`` (deterministic for a given inventory and zstd level)."""
    header = {
        "format": "inspector.inv",
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "created_by": f"inspector {__version__}",
        "source": inv.source,
        "root_sha256": inv.entries[0].sha256 if inv.entries else None,
        "entries": len(inv.entries),
        "complete": inv.complete,
        "totals": dataclasses.asdict(totals(inv)),
        "problems": [[p.path, p.reason, p.kind] for p in inv.problems],
    }
    entries = inv.entries
    columns: dict[str, list[Any]] = {name: [getattr(e, name) for e in entries] for name in _COLUMNS}
    columns["kind"] = [k.value for k in columns["kind"]]
    meta = [[i, dict(e.meta)] for i, e in enumerate(entries) if e.meta]
    out = io.BytesIO()
    out.write(MAGIC)
    cctx = zstandard.ZstdCompressor(level=level)
    with cctx.stream_writer(out, closefd=False) as zw:
        for obj in (header, columns, meta):
            zw.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))
            zw.write(b"\n")
    return out.getvalue()


# -- CycloneDX ------------------------------------------------------------------------------------------
def _props(e: Entry) -> list[dict[str, str]]:
    props = [{"name": "inspector:path", "value": e.path}]
    if e.size is not None:
        props.append({"name": "inspector:size", "value": str(e.size)})
    if e.stored_size is not None:
        props.append({"name": "inspector:stored_size", "value": str(e.stored_size)})
    if e.container:
        props.append({"name": "inspector:container", "value": e.container})
        props.append({"name": "inspector:opened", "value": "true" if e.opened else "false"})
    if e.detected:
        props.append({"name": "inspector:detected", "value": e.detected})
    if e.link_target:
        props.append({"name": "inspector:link_target", "value": e.link_target})
    return props


def _component(e: Entry) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "file", "bom-ref": e.path, "name": e.name}
    if e.sha256:
        comp["hashes"] = [{"alg": "SHA-256", "content": e.sha256}]
    comp["properties"] = _props(e)
    return comp


def to_cyclonedx(inv: Inventory, *, serial: str | None = None, timestamp: float | None = None) -> dict[str, Any]:
    """The inventory as a CycloneDX SBOM (a JSON-able dict): files with hashes, nested by container.

    Directories are not components (their files carry the full path); symlinks and other non-regular
    entries are listed with their link target and no hash.
    """
    root = inv.root
    comps: dict[str, dict[str, Any]] = {root.path: _component(root)}
    top: list[dict[str, Any]] = []
    for e in inv.entries[1:]:
        if e.kind is EntryKind.DIR:
            continue
        comp = _component(e)
        comps[e.path] = comp
        parent = e.parent
        holder = comps.get(parent) if parent is not None else None
        if holder is None or parent == root.path:
            top.append(comp)
        else:
            holder.setdefault("components", []).append(comp)
    when = time.gmtime(timestamp if timestamp is not None else time.time())
    return {
        "bomFormat": "CycloneDX",
        "specVersion": CYCLONEDX_SPEC,
        "serialNumber": serial or f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", when),
            "tools": {"components": [{"type": "application", "name": "inspector", "version": __version__}]},
            "component": comps[root.path],
            "properties": [{"name": "inspector:complete", "value": "true" if inv.complete else "false"}],
        },
        "components": top,
    }


# -- ncdu -----------------------------------------------------------------------------------------------
class _Dir:
    """A directory being assembled for the ncdu tree: its info object and its children by name."""

    __slots__ = ("info", "children")

    def __init__(self, name: str) -> None:
        self.info: dict[str, Any] = {"name": name, "asize": 0, "dsize": 0}
        self.children: dict[str, _Dir | dict[str, Any]] = {}

    def subdir(self, name: str) -> _Dir:
        child = self.children.get(name)
        if isinstance(child, _Dir):
            return child
        made = _Dir(name)
        self.children[name] = made  # a file of the same name (odd archive) is shadowed by the directory
        return made

    def to_json(self) -> list[Any]:
        return [self.info, *(c.to_json() if isinstance(c, _Dir) else c for c in self.children.values())]


def _split(name: str) -> list[str]:
    return [p for p in name.split("/") if p and p != "."]


def to_ncdu(inv: Inventory, *, timestamp: float | None = None) -> list[Any]:
    """The inventory as an ncdu export (``ncdu -f FILE`` browses it): containers become directories."""
    root = inv.root
    top = _Dir(root.path)
    dirs: dict[str, _Dir] = {root.path: top}  # opened container logical path -> its directory
    for e in inv.entries[1:]:
        parent = e.parent
        holder = dirs.get(parent) if parent is not None else None
        if holder is None:
            continue  # members of an unlisted container cannot occur; be safe on odd inventories
        parts = _split(e.name) or ["(unnamed)"]
        where = holder
        for part in parts[:-1]:
            where = where.subdir(part)
        leaf = parts[-1]
        if e.kind is EntryKind.DIR:
            d = where.subdir(leaf)
            if e.mtime is not None:
                d.info["mtime"] = int(e.mtime)
            continue
        if e.container and e.opened:
            dirs[e.path] = where.subdir(leaf)
            continue
        info: dict[str, Any] = {"name": leaf}
        if e.kind is EntryKind.FILE:
            info["asize"] = e.size or 0
            info["dsize"] = e.stored_size if e.stored_size is not None else (e.size or 0)
        else:
            info["asize"] = 0
            info["dsize"] = 0
            info["notreg"] = True
        if e.mtime is not None:
            info["mtime"] = int(e.mtime)
        where.children[leaf] = info
    if root.kind is EntryKind.FILE and not (root.container and root.opened):
        top.children[root.name] = {"name": root.name, "asize": root.size or 0, "dsize": root.size or 0}
        top.info["name"] = f"{root.path}.d"
    meta = {"progname": "inspector", "progver": __version__,
            "timestamp": int(timestamp if timestamp is not None else time.time())}
    return [1, 2, meta, top.to_json()]



def export_text(doc: Any) -> str:
    """What ``inventory -o FILE --format cyclonedx|ncdu`` wrote."""
    return json.dumps(doc, indent=None, separators=(",", ":")) + "\n"


def to_csv(inv: Inventory) -> str:
    """One CSV row per entry (RFC 4180, header row first)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for e in inv.entries:
        row = []
        for f in CSV_FIELDS:
            v = getattr(e, f)
            if f == "kind":
                v = e.kind.value
            elif f == "mode" and v is not None:
                v = oct(v)
            row.append("" if v is None else v)
        w.writerow(row)
    return buf.getvalue()
