"""Exports of one inventory for other tools: a CycloneDX SBOM and an ncdu-browsable JSON tree.

* CycloneDX 1.5 JSON: the image is ``metadata.component``; every file is a ``file`` component with its
  SHA-256, nested inside the component of the container it came from (so an ISO holding a tarball holding
  a binary reads as three levels), with sizes and the logical path as ``inspector:*`` properties.
* ncdu export format (version 1.2, what ``ncdu -o`` writes and ``ncdu -f`` reads): the image is the root
  directory and every opened container is a directory, so ncdu browses the unpacked footprint across all
  nesting levels. ``asize`` is a file's content size; ``dsize`` what it occupies stored in its container
  (compressed, for ZIP members), falling back to ``asize``.
* CSV: one row per entry, the columns of ``inventory --csv``.

Each format has a ``write_*`` function that writes the document to an open file entry by entry, so
an inventory whose entries stream from disk is never held whole (nor is the document); the ``to_*``
functions return the same document as plain data for callers that want it in memory.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any, TextIO

from inspector import __version__
from inspector.model import NEST, Entry, EntryKind, Inventory
from inspector.report.purl import Package, PackageFinder

#: Columns of ``inventory --csv``, one row per entry.
CSV_FIELDS = ["path", "kind", "size", "stored_size", "sha256", "detected", "container", "opened", "depth",
              "mode", "mtime", "link_target"]

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


def package_index(inv: Inventory) -> dict[str, Package]:
    """The packages recognised in ``inv`` (deb, rpm, wheel/sdist, npm, VIB) by entry path: one pass over the
    entries, kept apart from the components so that those can still be written as the entries stream."""
    finder = PackageFinder()
    for e in inv.entries:
        finder.see(e)
    return {pkg.path: pkg for pkg in finder.packages()}


def _component(e: Entry, packages: dict[str, Package]) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "file", "bom-ref": e.path, "name": e.name}
    if e.sha256:
        comp["hashes"] = [{"alg": "SHA-256", "content": e.sha256}]
    comp["properties"] = _props(e)
    pkg = packages.get(e.path)
    if pkg is not None:
        comp["purl"] = pkg.purl
        if pkg.version:
            comp["version"] = pkg.version
    return comp


def _cyclonedx_head(inv: Inventory, serial: str | None, timestamp: float | None,
                    packages: dict[str, Package]) -> dict[str, Any]:
    """The SBOM document without its components (the image is ``metadata.component``)."""
    when = time.gmtime(timestamp if timestamp is not None else time.time())
    return {
        "bomFormat": "CycloneDX",
        "specVersion": CYCLONEDX_SPEC,
        "serialNumber": serial or f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", when),
            "tools": {"components": [{"type": "application", "name": "inspector", "version": __version__}]},
            "component": _component(inv.root, packages),
            "properties": [{"name": "inspector:complete", "value": "true" if inv.complete else "false"}],
        },
        "components": [],
    }


def _cyclonedx_tree(inv: Inventory, packages: dict[str, Package]) -> list[dict[str, Any]]:
    """The nested components built in memory (for an inventory whose entries are not in walk order)."""
    root = inv.root
    comps: dict[str, dict[str, Any]] = {root.path: _component(root, packages)}
    top: list[dict[str, Any]] = []
    for e in inv.entries[1:]:
        if e.kind is EntryKind.DIR:
            continue
        comp = _component(e, packages)
        comps[e.path] = comp
        parent = e.parent
        holder = comps.get(parent) if parent is not None else None
        if holder is None or parent == root.path:
            top.append(comp)
        else:
            holder.setdefault("components", []).append(comp)
    return top


class _NotWalkOrder(Exception):
    """A member comes after its container's subtree was closed: the tree cannot be written as it streams."""


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _stream_components(inv: Inventory, out: TextIO, packages: dict[str, Package]) -> None:
    """Write the components array's items, nesting each member inside its container as entries arrive.

    Entries come in walk order (a container, then its whole subtree), so an open path of components is
    enough: a member closes the components below its container, then opens inside it.
    """
    root = inv.root.path
    containers: set[str] = {root}  # paths that may hold members (small: containers only)
    stack: list[list[Any]] = []  # open components: [path, has children]
    first_top = True
    for e in inv.entries[1:]:
        if e.kind is EntryKind.DIR:
            continue
        parent = e.parent
        if parent is not None and parent != root and any(item[0] == parent for item in stack):
            while stack[-1][0] != parent:
                _close(stack.pop(), out)
            holder = stack[-1]
            out.write("," if holder[1] else ',"components":[')
            holder[1] = True
        else:
            if parent is not None and parent != root and parent in containers:
                raise _NotWalkOrder(e.path)  # its container's components were already closed
            while stack:
                _close(stack.pop(), out)
            out.write("" if first_top else ",")
            first_top = False
        out.write(_compact(_component(e, packages))[:-1])
        stack.append([e.path, False])
        if e.container:
            containers.add(e.path)
    while stack:
        _close(stack.pop(), out)


def _close(item: list[Any], out: TextIO) -> None:
    out.write("]}" if item[1] else "}")


def write_cyclonedx(inv: Inventory, out: TextIO, *, serial: str | None = None, timestamp: float | None = None) -> None:
    """Write the CycloneDX SBOM of ``inv`` to ``out`` (compact JSON and a newline), component by component.

    ``out`` must be seekable in the unexpected case that entries are not in walk order: the document is
    then rewritten from a tree built in memory, so the output is the same either way.
    """
    packages = package_index(inv)
    head = _compact(_cyclonedx_head(inv, serial, timestamp, packages))
    assert head.endswith('"components":[]}')
    start = out.tell() if out.seekable() else None
    out.write(head[:-2])
    try:
        _stream_components(inv, out, packages)
    except _NotWalkOrder:
        if start is None:
            raise
        out.seek(start)
        out.truncate()
        out.write(head[:-2] + _compact(_cyclonedx_tree(inv, packages))[1:-1])
    out.write("]}\n")


def to_cyclonedx(inv: Inventory, *, serial: str | None = None, timestamp: float | None = None) -> dict[str, Any]:
    """The inventory as a CycloneDX SBOM (a JSON-able dict): files with hashes, nested by container.

    Directories are not components (their files carry the full path); symlinks and other non-regular
    entries are listed with their link target and no hash.
    """
    packages = package_index(inv)
    doc = _cyclonedx_head(inv, serial, timestamp, packages)
    doc["components"] = _cyclonedx_tree(inv, packages)
    return doc


# -- ncdu -----------------------------------------------------------------------------------------------
class _NcduTree:
    """The ncdu directory tree, assembled with its files in a temporary SQLite file rather than in memory.

    Directories (few) are kept in memory: their info object and, per name, the directory it now holds.
    Every child (file or directory) is a row keyed by (directory, name) that keeps the position where the
    name first appeared and the last value given to it, which is how a dict of children behaves: a file
    and a directory of the same name (odd archives) replace each other in place.
    """

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # a private on-disk temporary database, deleted when closed
        self.db.execute("CREATE TABLE child (dir INTEGER, name TEXT, pos INTEGER, sub INTEGER, payload TEXT,"
                        " PRIMARY KEY (dir, name))")
        self.infos: list[dict[str, Any]] = []
        self.subdirs: dict[tuple[int, str], int] = {}
        self.pending: list[tuple[int, str, int, int | None, str | None]] = []
        self.pos = 0

    def new_dir(self, name: str) -> int:
        """A directory not yet placed anywhere (the top one)."""
        self.infos.append({"name": name, "asize": 0, "dsize": 0})
        return len(self.infos) - 1

    def subdir(self, parent: int, name: str) -> int:
        """The directory ``name`` in ``parent``, made (in place of a file of that name) if needed."""
        key = (parent, name)
        found = self.subdirs.get(key)
        if found is not None:
            return found
        made = self.new_dir(name)
        self.subdirs[key] = made
        self._put(parent, name, made, None)
        return made

    def file(self, parent: int, name: str, info: dict[str, Any]) -> None:
        """Put a non-directory child (replacing a directory or file of that name in place)."""
        self.subdirs.pop((parent, name), None)
        self._put(parent, name, None, json.dumps(info, separators=(",", ":")))

    def _put(self, parent: int, name: str, sub: int | None, payload: str | None) -> None:
        self.pos += 1
        self.pending.append((parent, name, self.pos, sub, payload))
        if len(self.pending) >= 4096:
            self._flush()

    def _flush(self) -> None:
        self.db.executemany(
            "INSERT INTO child VALUES (?, ?, ?, ?, ?) ON CONFLICT (dir, name) DO UPDATE"
            " SET sub = excluded.sub, payload = excluded.payload", self.pending)
        self.pending.clear()

    def write(self, top: int, out: TextIO) -> None:
        """Write the tree under ``top`` as ncdu's nested arrays, one child at a time."""
        self._flush()
        self.db.execute("CREATE INDEX child_order ON child (dir, pos)")
        out.write("[" + json.dumps(self.infos[top], separators=(",", ":")))
        stack: list[Iterator[tuple[int | None, str | None]]] = [self._children(top)]
        while stack:
            row = next(stack[-1], None)
            if row is None:
                stack.pop()
                out.write("]")
                continue
            sub, payload = row
            if sub is None:
                out.write("," + str(payload))
            else:
                out.write(",[" + json.dumps(self.infos[sub], separators=(",", ":")))
                stack.append(self._children(sub))

    def _children(self, parent: int) -> Iterator[tuple[int | None, str | None]]:
        return iter(self.db.execute("SELECT sub, payload FROM child WHERE dir = ? ORDER BY pos", (parent,)))

    def close(self) -> None:
        """Drop the temporary database."""
        self.db.close()


def _split(name: str) -> list[str]:
    return [p for p in name.split("/") if p and p != "."]


def write_ncdu(inv: Inventory, out: TextIO, *, timestamp: float | None = None) -> None:
    """Write the ncdu export of ``inv`` to ``out`` (compact JSON and a newline): containers become directories.

    Members of a directory may come from anywhere in the walk (an archive lists files in any order), so
    the tree is gathered in a temporary database first and written out directory by directory.
    """
    root = inv.root
    tree = _NcduTree()
    try:
        top = tree.new_dir(root.path)
        dirs: dict[str, int] = {root.path: top}  # opened container logical path -> its directory
        for e in inv.entries[1:]:
            parent = e.parent
            holder = dirs.get(parent) if parent is not None else None
            if holder is None:
                continue  # members of an unlisted container cannot occur; be safe on odd inventories
            parts = _split(e.name) or ["(unnamed)"]
            where = holder
            for part in parts[:-1]:
                where = tree.subdir(where, part)
            leaf = parts[-1]
            if e.kind is EntryKind.DIR:
                d = tree.subdir(where, leaf)
                if e.mtime is not None:
                    tree.infos[d]["mtime"] = int(e.mtime)
                continue
            if e.is_opened_container:
                dirs[e.path] = tree.subdir(where, leaf)
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
            tree.file(where, leaf, info)
        if root.kind is EntryKind.FILE and not root.is_opened_container:
            tree.file(top, root.name, {"name": root.name, "asize": root.size or 0, "dsize": root.size or 0})
            tree.infos[top]["name"] = f"{root.path}.d"
        meta = {"progname": "inspector", "progver": __version__,
                "timestamp": int(timestamp if timestamp is not None else time.time())}
        out.write("[1,2," + json.dumps(meta, separators=(",", ":")) + ",")
        tree.write(top, out)
        out.write("]\n")
    finally:
        tree.close()


def to_ncdu(inv: Inventory, *, timestamp: float | None = None) -> list[Any]:
    """The inventory as an ncdu export (``ncdu -f FILE`` browses it): containers become directories."""
    buf = io.StringIO()
    write_ncdu(inv, buf, timestamp=timestamp)
    doc: list[Any] = json.loads(buf.getvalue())
    return doc


# -- CSV ------------------------------------------------------------------------------------------------
def write_csv(inv: Inventory, out: TextIO) -> None:
    """Write one CSV row per entry to ``out`` (RFC 4180, header row first), as ``inventory --csv`` prints."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    w.writerows(_csv_row(e) for e in inv.entries)


def _csv_row(e: Entry) -> list[Any]:
    row: list[Any] = []
    for f in CSV_FIELDS:
        v = getattr(e, f)
        if f == "kind":
            v = e.kind.value
        elif f == "mode" and v is not None:
            v = oct(v)
        row.append("" if v is None else v)
    return row


def ncdu_total(tree: list[Any]) -> int:
    """Sum of ``asize`` over an ncdu export (what ncdu shows as the root's apparent size)."""

    def walk(node: Any) -> int:
        if isinstance(node, list):
            return sum(walk(n) for n in node)
        return int(node.get("asize", 0)) if isinstance(node, dict) else 0

    return walk(tree[3])


__all__ = ["to_cyclonedx", "to_ncdu", "ncdu_total", "write_cyclonedx", "write_ncdu", "write_csv", "NEST"]
