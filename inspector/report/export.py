"""Exports of one inventory for other tools: a CycloneDX SBOM and an ncdu-browsable JSON tree.

* CycloneDX 1.5 JSON: the image is ``metadata.component``; every file is a ``file`` component with its
  SHA-256, nested inside the component of the container it came from (so an ISO holding a tarball holding
  a binary reads as three levels), with sizes and the logical path as ``inspector:*`` properties.
* ncdu export format (version 1.2, what ``ncdu -o`` writes and ``ncdu -f`` reads): the image is the root
  directory and every opened container is a directory, so ncdu browses the unpacked footprint across all
  nesting levels. ``asize`` is a file's content size; ``dsize`` what it occupies stored in its container
  (compressed, for ZIP members), falling back to ``asize``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from inspector import __version__
from inspector.model import NEST, Entry, EntryKind, Inventory
from inspector.report.purl import PackageFinder

CYCLONEDX_SPEC = "1.5"


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
    finder = PackageFinder()  # purls of the packages recognised (deb, rpm, wheel/sdist, npm, VIB)
    finder.see(root)
    for e in inv.entries[1:]:
        finder.see(e)
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
    for pkg in finder.packages():
        if pkg.path in comps:
            comps[pkg.path]["purl"] = pkg.purl
            if pkg.version:
                comps[pkg.path]["version"] = pkg.version
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


def ncdu_total(tree: list[Any]) -> int:
    """Sum of ``asize`` over an ncdu export (what ncdu shows as the root's apparent size)."""

    def walk(node: Any) -> int:
        if isinstance(node, list):
            return sum(walk(n) for n in node)
        return int(node.get("asize", 0)) if isinstance(node, dict) else 0

    return walk(tree[3])


__all__ = ["to_cyclonedx", "to_ncdu", "ncdu_total", "NEST"]
