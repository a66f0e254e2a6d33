"""Pairing the entries of two inventories: by path, by content, then by version-normalised name.

Both inventories become a trie of path segments, where a segment is entered through ``/`` (a directory
level) or ``!/`` (a container boundary). Interior nodes (directories, opened containers) are paired top
down: same name, else (containers only) same SHA-256, else same version-normalised name, so the members
of a renamed container (``a-1.0.tgz!/a-1.0.tar!/bin/x`` vs ``a-1.1.tgz!/a-1.1.tar!/bin/x``) meet by
their inner paths. Leaf files left over are then paired globally: same SHA-256 at another path (a
rename or move), then same version-normalised path (``xen-4.17.3`` vs ``xen-4.17.5``). Every step is a
dict lookup or a bucket, never a pairwise comparison, so pairing is linear in the number of entries.

Subtrees that a side could not read completely (a problem, a container marked incomplete, a member
whose content is unknown) are not compared: they are listed instead of being reported as removed/added.
"""

from __future__ import annotations

import gc
import re
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from inspector.diff.versions import natural_key, normalise_name
from inspector.model import NEST, Entry, EntryKind, Inventory

TOP_LEVEL = "/"
_INTERIOR, _FILE, _LINK, _OTHER = "interior", "file", "link", "other"


@dataclass(frozen=True)
class Paired:
    """One entry of either side with its counterpart, if any, and how they relate."""

    old: Entry | None
    new: Entry | None
    #: Path changed in a way that is not explained by a version-renamed container above it.
    renamed: bool
    component: str


@dataclass(frozen=True)
class Pairing:
    """All pairs (root excluded), subtrees not compared, and renamed containers: the image itself when its
    name changed, and every container whose path inside the image changed (logical paths, old -> new)."""

    pairs: tuple[Paired, ...]
    not_compared: tuple[str, ...]
    renamed_containers: tuple[tuple[str, str], ...]


class _Node:
    __slots__ = ("sep", "name", "parent", "children", "entry", "path", "partner", "how", "marked", "bad",
                 "nkey", "tpath", "moved", "old_side", "cls", "is_container")

    def __init__(self, sep: str, name: str, parent: _Node | None, path: str, old_side: bool) -> None:
        self.sep = sep
        self.name = name
        self.parent = parent
        self.children: dict[tuple[str, str], _Node] = {}
        self.entry: Entry | None = None
        self.path = path
        self.partner: _Node | None = None
        self.how = ""
        self.marked = False
        self.bad = False
        self.nkey: str | None = None
        self.tpath: str | None = None
        self.moved = False
        self.old_side = old_side
        self.cls = _INTERIOR  # until an entry says otherwise (implicit directories stay interior)
        self.is_container = False

    def set_entry(self, e: Entry) -> None:
        self.entry = e
        self.is_container = e.kind is EntryKind.FILE and bool(e.container) and e.opened
        if e.kind is EntryKind.DIR or self.is_container:
            self.cls = _INTERIOR
        elif e.kind is EntryKind.FILE:
            self.cls = _FILE
        elif e.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
            self.cls = _LINK
        else:
            self.cls = _OTHER


@dataclass
class _Side:
    root: _Node
    nodes: list[_Node]  # parents before children
    index: dict[str, _Node]  # relative path -> node
    members: dict[str, int]  # container relative path -> number of direct members


def _relative(path: str, root: str) -> str | None:
    prefix = root + NEST
    return path[len(prefix):] if path.startswith(prefix) else None


def _build(inv: Inventory, old_side: bool) -> _Side:
    root = _Node("", "", None, "", old_side)
    root.set_entry(inv.root)
    nodes = [root]
    index = {"": root}
    members: dict[str, int] = defaultdict(int)
    root_path = inv.root.path

    def node_at(rel: str) -> _Node:
        """The node for ``rel``, creating it (and any missing ancestors) on the way."""
        node = index.get(rel)
        if node is not None:
            return node
        pos = rel.rfind("/")
        if pos > 0 and rel[pos - 1] == "!":
            parent, sep, name = node_at(rel[: pos - 1]), NEST, rel[pos + 1:]
        elif pos >= 0:
            parent, sep, name = node_at(rel[:pos]), "/", rel[pos + 1:]
        else:
            parent, sep, name = root, "/", rel
        node = _Node(sep, name, parent, rel, old_side)
        parent.children[(sep, name)] = node
        nodes.append(node)
        index[rel] = node
        return node

    for e in inv.entries[1:]:
        rel = _relative(e.path, root_path)
        if not rel:
            continue
        node_at(rel).set_entry(e)  # a duplicate member name: the last one wins, as on extraction
        members[rel.rsplit(NEST, 1)[0] if NEST in rel else ""] += 1
    return _Side(root, nodes, index, members)


def _container_of(node: _Node) -> _Node:
    """The innermost container node holding ``node`` (the root for top-level members)."""
    x = node
    while x.sep != NEST and x.parent is not None:
        x = x.parent
    return x.parent if x.parent is not None else x


def _pair(o: _Node, n: _Node, how: str) -> None:
    o.partner, n.partner = n, o
    o.how = n.how = how


def _pair_buckets(olds: list[_Node], news: list[_Node], key, how: str) -> list[tuple[_Node, _Node]]:  # noqa: ANN001
    """Pair nodes with equal ``key`` (in natural order within a bucket); return the new pairs."""
    buckets: dict[object, tuple[list[_Node], list[_Node]]] = defaultdict(lambda: ([], []))
    for x in olds:
        k = key(x)
        if k is not None:
            buckets[k][0].append(x)
    for x in news:
        k = key(x)
        if k is not None and k in buckets:
            buckets[k][1].append(x)
    made = []
    for os_, ns in buckets.values():
        if not ns:
            continue
        if len(os_) > 1 or len(ns) > 1:
            os_.sort(key=lambda x: natural_key(x.path))
            ns.sort(key=lambda x: natural_key(x.path))
        for o, n in zip(os_, ns, strict=False):
            if o.partner is None and n.partner is None:
                _pair(o, n, how)
                made.append((o, n))
    return made


def _sha(node: _Node) -> str | None:
    return node.entry.sha256 if node.entry is not None else None


def _pair_interior(old: _Side, new: _Side) -> None:
    """Top-down pairing of the two tries (exact names, container content, version-normalised names)."""
    _pair(old.root, new.root, "path")
    queue: deque[tuple[_Node, _Node]] = deque([(old.root, new.root)])
    while True:
        while queue:
            o, n = queue.popleft()
            un_o = []
            for key, oc in o.children.items():
                nc = n.children.get(key)
                if nc is not None and nc.partner is None and oc.partner is None and oc.cls == nc.cls:
                    _pair(oc, nc, "path")
                    if oc.cls == _INTERIOR:
                        queue.append((oc, nc))
                elif oc.partner is None and oc.cls == _INTERIOR:
                    un_o.append(oc)
            if len(o.children) == 1 and len(n.children) == 1 and o.is_container and n.is_container:
                # a wrapper's one payload (named after the wrapper: same-a.tgz!/same-a.tar): same place
                (oc,), (nc,) = o.children.values(), n.children.values()
                if oc.partner is None and nc.partner is None and oc.cls == nc.cls and oc.sep == nc.sep:
                    _pair(oc, nc, "path")
                    if oc.cls == _INTERIOR:
                        queue.append((oc, nc))
                    continue
            if not un_o:
                continue
            un_n = [nc for nc in n.children.values() if nc.partner is None and nc.cls == _INTERIOR]
            if not un_n:
                continue
            made = _pair_buckets([x for x in un_o if x.is_container], [x for x in un_n if x.is_container],
                                 _sha, "content")
            made += _pair_buckets(un_o, un_n, lambda x: (x.sep, _norm(x.name), x.is_container), "version")
            queue.extend(made)
        # Containers moved elsewhere with identical content: outermost first, then recurse into them.
        made = _pair_moved_containers(old, new)
        if not made:
            return
        queue.extend(made)


def _pair_moved_containers(old: _Side, new: _Side) -> list[tuple[_Node, _Node]]:
    """Pair still unpaired containers by SHA-256 anywhere in the tree, skipping any whose enclosing
    container was paired in the same round (its members are paired through it)."""
    by_sha: dict[str, deque[_Node]] = defaultdict(deque)
    for x in new.nodes:
        if x.is_container and x.partner is None and not x.bad and x.entry and x.entry.sha256:
            by_sha[x.entry.sha256].append(x)
    if not by_sha:
        return []
    made: list[tuple[_Node, _Node]] = []
    fresh: set[int] = set()
    cands = [x for x in old.nodes if x.is_container and x.partner is None and x.entry and x.entry.sha256]
    cands.sort(key=lambda x: x.path.count(NEST))
    for o in cands:
        if o.partner is not None or _in_fresh(o, fresh):
            continue
        n = _pop_free(by_sha.get(o.entry.sha256), fresh)  # type: ignore[union-attr]
        if n is not None:
            _pair(o, n, "content")
            fresh.add(id(o))
            fresh.add(id(n))
            made.append((o, n))
    return made


def _in_fresh(node: _Node, fresh: set[int]) -> bool:
    x = _container_of(node)
    while x.parent is not None:
        if id(x) in fresh:
            return True
        x = _container_of(x)
    return False


@lru_cache(maxsize=65536)
def _norm(name: str) -> str:
    return normalise_name(name)


def _mark_unreadable(side: _Side, inv: Inventory) -> None:
    """Mark the nodes a side could not read completely (their subtrees will not be compared)."""
    root_path = inv.root.path
    for p in inv.problems:
        if not p.makes_incomplete:
            continue
        rel = "" if p.path == root_path else _relative(p.path, root_path)
        node = _locate(side, rel or "")
        e = node.entry
        if e is not None and e.is_leaf_file and e.sha256 is not None and node.path == rel:
            continue  # read completely as a blob (e.g. an unopened container): still comparable
        node.marked = True
    for node in side.nodes:
        e = node.entry
        if e is not None and (e.meta.get("incomplete") or (e.is_leaf_file and e.sha256 is None)):
            node.marked = True


_LAST_SEG = re.compile(r"(?:!/|/)(?!.*(?:!/|/))")


def _locate(side: _Side, rel: str) -> _Node:
    """The node at ``rel`` or, if there is none (a skipped member), its nearest existing ancestor."""
    while rel not in side.index or side.index[rel].entry is None:
        m = _LAST_SEG.search(rel)
        rel = rel[: m.start()] if m else ""
    return side.index[rel]


def _propagate_bad(old: _Side, new: _Side) -> None:
    for side in (old, new):
        for node in side.nodes:
            node.bad = (node.marked or (node.partner is not None and node.partner.marked)
                        or (node.parent is not None and node.parent.bad))


def _tpath(node: _Node) -> str:
    """An old node's path in the new release's namespace (through its paired ancestors)."""
    if node.tpath is None:
        if node.partner is not None:
            node.tpath = node.partner.path
        else:
            assert node.parent is not None
            parent = _tpath(node.parent)
            node.tpath = f"{parent}{node.sep}{node.name}" if parent else node.name
    return node.tpath


def _nkey(node: _Node) -> str:
    """Version-normalised path (old nodes through their paired ancestors, in the new namespace)."""
    if node.nkey is None:
        if node.old_side and node.partner is not None:
            node.nkey = _nkey(node.partner)
        elif node.parent is None:
            node.nkey = ""
        else:
            parent = _nkey(node.parent)
            name = _norm(node.name)
            node.nkey = f"{parent}{node.sep}{name}" if parent else name
    return node.nkey


def _pair_leaves(old: _Side, new: _Side) -> None:
    """Global passes over unpaired leaves: same content elsewhere, then same normalised path."""
    def free(side: _Side, classes: tuple[str, ...]) -> list[_Node]:
        return [x for x in side.nodes if x.partner is None and not x.bad and x.entry is not None
                and x.cls in classes]

    olds, news = free(old, (_FILE,)), free(new, (_FILE,))
    if olds and news:
        by_name: dict[tuple[str, str], deque[_Node]] = defaultdict(deque)
        by_sha: dict[str, deque[_Node]] = defaultdict(deque)
        for n in news:
            if n.entry and n.entry.sha256 and n.entry.size:
                by_name[(n.entry.sha256, n.name)].append(n)
                by_sha[n.entry.sha256].append(n)
        for o in olds:
            sha = o.entry.sha256 if o.entry else None
            if not sha or not (o.entry and o.entry.size):
                continue
            pick = _pop_free(by_name.get((sha, o.name))) or _pop_free(by_sha.get(sha))
            if pick is not None:
                _pair(o, pick, "content")
    olds, news = free(old, (_FILE, _LINK)), free(new, (_FILE, _LINK))
    if olds and news:
        _pair_buckets(olds, news, lambda x: (x.cls, _nkey(x)), "version")


def _pop_free(q: deque[_Node] | None, fresh: set[int] | None = None) -> _Node | None:
    while q:
        x = q.popleft()
        if x.partner is None and not (fresh and _in_fresh(x, fresh)):
            return x
    return None


def _moved(old: _Side) -> None:
    """Flag old nodes whose path changed other than through a version-renamed container."""
    for node in old.nodes:
        if node.partner is None or node.parent is None:
            continue
        if node.how == "content" or (node.how == "version" and node.cls != _INTERIOR):
            node.moved = True
        elif node.how == "path":
            node.moved = node.parent.moved


class _Components:
    """Component of an entry: innermost labelled container, else the innermost container (compression
    wrappers folded into their parent), else the top-level directory; always in the new namespace."""

    def __init__(self, old: _Side, new: _Side) -> None:
        self.old, self.new = old, new
        self.memo: dict[int, str] = {}

    def of(self, node: _Node) -> str:
        cont = _container_of(node)
        comp = self.container(cont) if cont.parent is not None else ""
        if comp:
            return comp
        # directly in the image (or in its only payload): the top-level directory, or the two top levels
        # when everything sits in one directory (``app-1.1/bin``), as in most source tarballs
        path = _tpath(node) if node.old_side else node.path
        inner = path.rsplit(NEST, 1)[-1] if cont.parent is not None else path
        parts = inner.split("/")
        if len(parts) == 1:
            return TOP_LEVEL
        top = cont.children.get(("/" if cont.parent is None else NEST, parts[0])) if not node.old_side else None
        if node.old_side and cont.partner is not None:
            top = cont.partner.children.get(("/" if cont.parent is None else NEST, parts[0]))
        if top is not None and len(parts) > 2 and len(cont.children) == 1:
            return f"{parts[0]}/{parts[1]}"
        return parts[0]

    def container(self, cont: _Node) -> str:
        key = id(cont)
        if key not in self.memo:
            self.memo[key] = self._container(cont)
        return self.memo[key]

    def _container(self, cont: _Node) -> str:
        if cont.old_side and cont.partner is not None:
            return self.container(cont.partner)
        side = self.old if cont.old_side else self.new
        x: _Node | None = cont
        while x is not None and x.parent is not None:
            label = x.entry.meta.get("label") if x.entry is not None else None
            if label:
                return str(label)
            x = _container_of(x)
        a = cont
        while True:
            parent = _container_of(a)
            if parent.parent is None or side.members.get(parent.path, 0) != 1:
                break
            a = parent
        if _container_of(a).parent is None and side.members.get("", 0) == 1:
            return ""  # the image's one payload (a tarball's tar): components are its top directories
        return _tpath(a) if a.old_side else a.path


def _not_compared(node: _Node) -> Iterator[str]:
    """``old: path`` / ``new: path`` for the side(s) that could not be read at this node."""
    for x in (node, node.partner):
        if x is not None and x.marked and x.entry is not None:
            yield f"{'old' if x.old_side else 'new'}: {x.entry.path}"


def _emit(old: _Side, new: _Side) -> Iterator[Paired | str]:
    comps = _Components(old, new)
    for node in old.nodes[1:] if not old.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad:
                yield from _not_compared(node)
            continue
        if node.entry is None or node.is_container:
            continue
        partner = node.partner
        yield Paired(node.entry, partner.entry if partner is not None else None, node.moved, comps.of(partner or node))
    for node in new.nodes[1:] if not new.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad and node.partner is None:
                yield from _not_compared(node)
            continue
        if node.entry is None or node.is_container:
            continue
        if node.partner is None or node.partner.entry is None:
            yield Paired(None, node.entry, False, comps.of(node))


def pair_inventories(old: Inventory, new: Inventory) -> Pairing:
    """Pair every entry of ``old`` with its counterpart in ``new`` (see the module docstring)."""
    enabled = gc.isenabled()
    gc.disable()  # the tries are large graphs of small objects: cyclic GC passes would dominate
    try:
        return _pair_inventories(old, new)
    finally:
        if enabled:
            gc.enable()


def _pair_inventories(old: Inventory, new: Inventory) -> Pairing:
    o, n = _build(old, True), _build(new, False)
    _pair_interior(o, n)
    _mark_unreadable(o, old)
    _mark_unreadable(n, new)
    _propagate_bad(o, n)
    _pair_leaves(o, n)
    _moved(o)
    pairs: list[Paired] = []
    skipped: list[str] = []
    if o.root.bad:
        skipped += list(_not_compared(o.root))
    for item in _emit(o, n):
        (skipped if isinstance(item, str) else pairs).append(item)  # type: ignore[arg-type]
    renamed = tuple(
        (x.entry.path, x.partner.entry.path)
        for x in o.nodes
        if x.entry is not None and x.partner is not None and x.partner.entry is not None
        and (x.parent is None and x.entry.path != x.partner.entry.path
             or x.is_container and x.path != x.partner.path)
    )
    return Pairing(tuple(pairs), tuple(skipped), renamed)
