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

Scale: a 200,000-entry pair is mostly plain files paired by name below paired directories. Those stay
*simple leaves* (a tuple in their parent's dict, see ``_Side``) rather than trie nodes, and only the
ones that need it become nodes; the result is the same as with a node per entry (``seq`` keeps every
order-sensitive step in the original order). The tries are cyclic, so they are taken apart at the end
(``_Side.dismantle``) and freed by reference counting instead of a garbage-collection pass.
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from typing import NamedTuple

from inspector.diff.versions import natural_key, normalise_name
from inspector.model import NEST, Entry, EntryKind, Inventory

TOP_LEVEL = "/"
_INTERIOR, _FILE, _LINK, _OTHER = "interior", "file", "link", "other"


class Paired(NamedTuple):
    """One entry of either side with its counterpart, if any, and how they relate (a named tuple, not a
    dataclass: a diff makes one per entry, and a tuple is about three times cheaper to create)."""

    old: Entry | None
    new: Entry | None
    #: Path changed in a way that is not explained by a version-renamed container above it.
    renamed: bool
    component: str


#: ``Paired((old, new, renamed, component))`` without the Python-level ``__new__`` of a named tuple
#: (one per entry; the fields are the same, in the same order).
_new_paired = partial(tuple.__new__, Paired)


@dataclass(frozen=True)
class Pairing:
    """All pairs (root excluded), subtrees not compared, and renamed containers: the image itself when its
    name changed, and every container whose path inside the image changed (logical paths, old -> new)."""

    pairs: tuple[Paired, ...]
    not_compared: tuple[str, ...]
    renamed_containers: tuple[tuple[str, str], ...]


#: Shared by every node until its first child (leaf) arrives: most nodes have none, and an empty dict per
#: node costs 64 bytes and an allocation (read-only, so a stray write fails loudly).
_NO_CHILDREN: Mapping[str, _Node] = MappingProxyType({})
_NO_LEAVES: Mapping[str, _Leaf] = MappingProxyType({})
_FILE_KIND, _DIR_KIND = EntryKind.FILE, EntryKind.DIR
_LINK_KINDS = (EntryKind.SYMLINK, EntryKind.HARDLINK)


class _Node:
    """One path segment of one side: an entry that needs individual treatment, or an implied directory.

    ``seq`` is the node's place in the order in which the original one-node-per-entry trie created
    nodes (ancestors before the first entry below them, then entries in inventory order); every
    order-sensitive step (tie-breaking in buckets, the order of the pairs) follows it.
    """

    __slots__ = ("sep", "name", "parent", "children", "leaves", "entry", "path", "partner", "how", "marked",
                 "bad", "nkey", "tpath", "moved", "old_side", "cls", "is_container", "cont", "members", "seq", "slot")

    def __init__(self, sep: str, name: str, parent: _Node | None, path: str, old_side: bool, seq: int) -> None:
        self.sep = sep
        self.name = name
        self.parent = parent
        #: Child nodes by key (see ``_key``), in ``seq`` order, and simple leaves (see ``_Side``).
        self.children: Mapping[str, _Node] = _NO_CHILDREN
        self.leaves: Mapping[str, _Leaf] = _NO_LEAVES
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
        #: The innermost container node holding this one (the root for top-level members and the root).
        self.cont: _Node = self if parent is None else parent if sep == NEST else parent.cont
        #: Entries directly inside this container (duplicates counted); kept on containers and the root.
        self.members = 0
        self.seq = seq
        #: Where this node sits among its parent's children: its seq, or that of the node it displaced
        #: (two paths with one key, which only happens in the image itself: ``x`` and ``/x``).
        self.slot = seq

    def set_entry(self, e: Entry) -> None:
        """Attach ``e`` (the last one wins for a duplicate path) and mark the node when ``e`` was not
        read completely (an incomplete container, a leaf file without a hash)."""
        self.entry = e
        kind = e.kind
        if kind is _FILE_KIND:
            self.is_container = bool(e.container) and e.opened
            self.cls = _INTERIOR if self.is_container else _FILE
        else:
            self.is_container = False
            self.cls = _INTERIOR if kind is _DIR_KIND else _LINK if kind in _LINK_KINDS else _OTHER
        meta = e.meta
        self.marked = bool((meta and meta.get("incomplete")) or (self.cls is _FILE and e.sha256 is None))


#: A simple leaf: (entry, parent node, key, seq). See ``_Side``.
_Leaf = tuple[Entry, _Node, str, int]


def _key(sep: str, name: str) -> str:
    """A child's key in its parent: the name below a directory level, ``!/name`` below a container
    boundary (a name never contains ``/``, so the two cannot meet). A string rather than a (sep, name)
    tuple: no allocation, and its hash is computed once."""
    return name if sep == "/" else NEST + name


def _unkey(key: str) -> tuple[str, str]:
    """(separator, name) of a key."""
    return (NEST, key[2:]) if key.startswith(NEST) else ("/", key)


def _split(rel: str) -> tuple[str, str]:
    """(parent's relative path, key) of a relative path."""
    pos = rel.rfind("/")
    if pos > 0 and rel[pos - 1] == "!":
        return rel[: pos - 1], rel[pos - 1:]
    if pos >= 0:
        return rel[:pos], rel[pos + 1:]
    return "", rel


class _Side:
    """The trie of one inventory.

    The bulk of a large inventory is plain files, which a diff pairs by name below two paired
    directories. Making a node for each of them dominated the time, so such a *simple leaf* (a completely
    read file, not an opened container, whose path is nobody's parent and appears once) is only
    recorded in its parent's ``leaves``, as a tuple. Everything else is a node,
    and a simple leaf is *promoted* to a node (keeping its ``seq``) as soon as it needs to be one: it
    turns out to be a duplicate or a parent, a problem points at it, its name is a node on the other
    side, it is a wrapper's only member, or it was not paired by name (the unpaired remainder goes
    through the global content/version passes, which work on nodes). Pairing by name is the same test
    for leaves and nodes, so the result is the one a node per entry gives.
    """

    def __init__(self, inv: Inventory, old_side: bool) -> None:
        self.old_side = old_side
        self.root = _Node("", "", None, "", old_side, 0)
        self.root.set_entry(inv.root)
        self.nodes = [self.root]  # parents before children once sorted by seq (``sort``)
        self.index = {"": self.root}  # relative path -> node
        self.parents: list[_Node] = []  # the nodes with children or leaves (some twice)
        self.leaves: list[_Leaf] = []  # every simple leaf ever made, in seq order (promoted ones too)
        self.seq = 1
        self.prefix = inv.root.path + NEST
        self.cut = len(self.prefix)
        self._build(inv)
        self.any_marked = any(x.marked for x in self.nodes)

    def _build(self, inv: Inventory) -> None:
        # The hottest loop of a large diff (once per entry), hence inlined: a plain file is split into
        # its parent's relative path and its key straight from the logical path (no relative path).
        prefix, cut, index = self.prefix, self.cut, self.index
        leaves, parents, seq = self.leaves, self.parents, self.seq
        for e in inv.entries[1:]:
            path = e.path
            if not path.startswith(prefix) or len(path) == cut:
                continue
            meta = e.meta
            if (e.kind is _FILE_KIND and e.sha256 is not None and not (e.container and e.opened)
                    and not (meta and meta.get("incomplete"))):
                # A simple leaf, unless its key is taken (by a node or a leaf, maybe for this very path:
                # a key names one relative path but in the image itself, ``x`` and ``/x``), which the
                # parent's dicts tell without a lookup in the (large) index; else ``node_at`` sorts it out.
                pos = path.rfind("/")
                nest = pos > cut and path[pos - 1] == "!"
                if nest:
                    parent_rel, key = path[cut:pos - 1], path[pos - 1:]
                elif pos >= cut:
                    parent_rel, key = path[cut:pos], path[pos + 1:]
                else:  # directly in the image (the last "/" is the prefix's)
                    parent_rel, key = "", path[cut:]
                parent = index.get(parent_rel)
                if parent is None:
                    self.seq = seq
                    parent = self.node_at(parent_rel)
                    seq = self.seq
                siblings = parent.leaves
                if key not in siblings and key not in parent.children:
                    leaf = (e, parent, key, seq)
                    seq += 1
                    if siblings is _NO_LEAVES:
                        parent.leaves = siblings = {}
                        parents.append(parent)
                    siblings[key] = leaf  # type: ignore[index]
                    leaves.append(leaf)
                    (parent if nest else parent.cont).members += 1
                    continue
            self.seq = seq
            node = self.node_at(path[cut:])  # a node, or a duplicate of a simple leaf (promoted)
            seq = self.seq
            node.set_entry(e)  # a duplicate member name: the last one wins, as on extraction
            node.cont.members += 1
        self.seq = seq

    def node_at(self, rel: str) -> _Node:
        """The node for ``rel``: indexed, a simple leaf promoted, or a new one (after any missing
        ancestors)."""
        node = self.index.get(rel)
        if node is not None:
            return node
        parent_rel, key = _split(rel)
        parent = self.node_at(parent_rel)
        leaf = parent.leaves.get(key)
        if leaf is not None:
            node = self.promote(leaf)
            if node.path == rel:
                return node
            # else the same key for another path (``x`` and ``/x`` in the image): both are nodes
        node = self._add(parent, key, rel, self.seq)
        self.seq += 1
        return node

    def find(self, rel: str) -> _Node | None:
        """The node for ``rel`` if there is an entry or node there (a simple leaf is promoted), else None."""
        node = self.index.get(rel)
        if node is None and rel:
            parent_rel, key = _split(rel)
            parent = self.index.get(parent_rel)
            leaf = parent.leaves.get(key) if parent is not None else None
            if leaf is not None and leaf[0].path[self.cut:] == rel:
                node = self.promote(leaf)
        return node

    def promote(self, leaf: _Leaf) -> _Node:
        """Turn a simple leaf into a node (in its place in ``seq`` order)."""
        entry, parent, key, seq = leaf
        del parent.leaves[key]  # type: ignore[attr-defined]
        node = self._add(parent, key, entry.path[self.cut:], seq)
        node.set_entry(entry)
        return node

    def _add(self, parent: _Node, key: str, rel: str, seq: int) -> _Node:
        node = _Node(*_unkey(key), parent, rel, self.old_side, seq)
        children = parent.children
        if children is _NO_CHILDREN:
            parent.children = children = {}
            self.parents.append(parent)
        assert isinstance(children, dict)
        displaced = children.get(key)
        if displaced is not None:  # the node of another path with this key (see ``slot``)
            node.slot = displaced.slot
            children[key] = node
        else:
            last = next(reversed(children.values())) if children else None
            children[key] = node
            if last is not None and last.slot > seq:  # a promoted leaf: keep the children in order
                parent.children = dict(sorted(children.items(), key=lambda item: item[1].slot))
        self.nodes.append(node)
        self.index[rel] = node
        return node

    def sort(self) -> None:
        """Put promoted nodes in their place: ``nodes`` in seq order (parents before children)."""
        self.nodes.sort(key=lambda x: x.seq)

    def dismantle(self, partners: bool) -> None:
        """Break the reference cycles (parent/children/leaves, root.cont, and partners if ``partners``)
        once the pairing is done, so that reference counting frees the trie at once: left to the cyclic
        garbage collector, a 200k-entry diff costs a collection pass over 800k objects (about a second)."""
        for x in self.parents:
            x.children = _NO_CHILDREN
            x.leaves = _NO_LEAVES
        self.root.cont = None  # type: ignore[assignment]
        if partners:
            for x in self.nodes:
                x.partner = None


def _relative(path: str, root: str) -> str | None:
    prefix = root + NEST
    return path[len(prefix):] if path.startswith(prefix) else None


def _container_of(node: _Node) -> _Node:
    """The innermost container node holding ``node`` (the root for top-level members)."""
    return node.cont


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
            # Simple leaves under o and n pair by name later (``_leaf_pass``), exactly when two nodes
            # would pair here (same name, both files); a name that is a node on one side only is
            # promoted on the other, so that nodes and leaves never meet.
            if o.leaves and n.children:
                for key in [k for k in n.children if k in o.leaves]:
                    old.promote(o.leaves[key])
            if n.leaves and o.children:
                for key in [k for k in o.children if k in n.leaves]:
                    new.promote(n.leaves[key])
            un_o = []
            n_children = n.children
            for key, oc in o.children.items():  # _pair inlined
                nc = n_children.get(key)
                if nc is not None and nc.partner is None and oc.partner is None and oc.cls is nc.cls:
                    oc.partner, nc.partner = nc, oc
                    oc.how = nc.how = "path"
                    if oc.cls is _INTERIOR:
                        queue.append((oc, nc))
                elif oc.partner is None and oc.cls is _INTERIOR:
                    un_o.append(oc)
            if (o.is_container and n.is_container and len(o.children) + len(o.leaves) == 1
                    and len(n.children) + len(n.leaves) == 1 and _wrapper_payloads(old, o, new, n)):
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


def _wrapper_payloads(old: _Side, o: _Node, new: _Side, n: _Node) -> bool:
    """For two containers with one member each: True when the members have different names (the rule
    below pairs them anyway), after promoting them to nodes if they are simple leaves. With the same
    name they are paired by name already (or cannot be: different classes) and the rule does nothing."""
    okey = next(iter(o.children or o.leaves))
    nkey = next(iter(n.children or n.leaves))
    if okey == nkey:
        return False
    if o.leaves:
        old.promote(o.leaves[okey])
    if n.leaves:
        new.promote(n.leaves[nkey])
    return True


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
        n = _pop_free(by_sha.get(o.entry.sha256), fresh)  # type: ignore[union-attr, arg-type]
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
        node.marked = side.any_marked = True
    # Entries not read completely (incomplete containers, leaf files without a hash) were marked by
    # ``_Node.set_entry`` while building.


_LAST_SEG = re.compile(r"(?:!/|/)(?!.*(?:!/|/))")


def _locate(side: _Side, rel: str) -> _Node:
    """The node at ``rel`` or, if there is none (a skipped member), its nearest existing ancestor with
    an entry (a simple leaf found there is promoted)."""
    while True:
        node = side.find(rel)
        if node is not None and node.entry is not None:
            return node
        m = _LAST_SEG.search(rel)
        rel = rel[: m.start()] if m else ""


def _propagate_bad(old: _Side, new: _Side) -> None:
    if not (old.any_marked or new.any_marked):
        return  # nothing marked on either side: no node is bad (the common, complete case)
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
    def free(side: _Side) -> list[_Node]:
        """Unpaired comparable files and links (a class other than interior implies an entry)."""
        return [x for x in side.nodes if x.partner is None and (x.cls is _FILE or x.cls is _LINK) and not x.bad]

    free_old, free_new = free(old), free(new)
    olds = [x for x in free_old if x.cls is _FILE]
    news = [x for x in free_new if x.cls is _FILE]
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
    olds = [x for x in free_old if x.partner is None]
    news = [x for x in free_new if x.partner is None]
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
        self.by_parent: dict[tuple[_Node, int], str] = {}
        self.below_directory: dict[_Node, str] = {}
        self.below_container: dict[_Node, str] = {}

    def of(self, node: _Node) -> str:
        """The component of ``node`` (not the root; an old node only when it is unpaired).

        It depends only on the node's container and on its path without the last segment (``_of`` reads
        the first two segments below the container and whether there are more than one), that is on its
        parent and on how the path continues from the parent's (the separator, or nothing for some
        top-level members): computed once per directory rather than once per entry.
        """
        assert node.parent is not None
        key = (node.parent, len(node.path) - len(node.name))
        comp = self.by_parent.get(key)
        if comp is None:
            comp = self.by_parent[key] = self._of(node)
        return comp

    def of_leaf(self, parent: _Node, key: str, entry: Entry) -> str:
        """The component of a new simple leaf (see ``of``). Below anything but the root, its parent and
        separator determine it: the answer is kept in ``below_container``/``below_directory``."""
        nest = key.startswith(NEST)
        if parent.parent is None:  # in the image itself: as ``of`` (memo key without building a node)
            memo_key = (parent, len(entry.path) - self.new.cut - (len(key) - 2 if nest else len(key)))
            comp = self.by_parent.get(memo_key)
            if comp is None:
                comp = self.by_parent[memo_key] = self._of(self._stand_in(parent, key, entry))
            return comp
        memo = self.below_container if nest else self.below_directory
        comp = memo[parent] = self._of(self._stand_in(parent, key, entry))
        return comp

    def _stand_in(self, parent: _Node, key: str, entry: Entry) -> _Node:
        """A node for a new simple leaf, only to ask ``_of`` (not in the trie)."""
        return _Node(*_unkey(key), parent, entry.path[self.new.cut:], False, -1)

    def _of(self, node: _Node) -> str:
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
        key = _key("/" if cont.parent is None else NEST, parts[0])
        top = _child(cont, key) if not node.old_side else None
        if node.old_side and cont.partner is not None:
            top = _child(cont.partner, key)
        if top is not None and len(parts) > 2 and len(cont.children) + len(cont.leaves) == 1:
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
            if parent.parent is None or parent.members != 1:
                break
            a = parent
        if _container_of(a).parent is None and side.root.members == 1:
            return ""  # the image's one payload (a tarball's tar): components are its top directories
        return _tpath(a) if a.old_side else a.path


def _child(node: _Node, key: str) -> _Node | _Leaf | None:
    return node.children.get(key) or node.leaves.get(key)


def _not_compared(node: _Node) -> Iterator[str]:
    """``old: path`` / ``new: path`` for the side(s) that could not be read at this node."""
    for x in (node, node.partner):
        if x is not None and x.marked and x.entry is not None:
            yield f"{'old' if x.old_side else 'new'}: {x.entry.path}"


def _leaf_pass(old: _Side, new: _Side, comps: _Components) -> tuple[list[Paired], list[int]]:
    """Pair simple leaves by name below paired interior nodes (as the interior pass pairs nodes) and
    promote the others, unless not compared, so that the global passes see them. Returns the ``Paired``
    of the leaves paired here and their ``seq``, in ``seq`` order. A simple leaf is bad exactly when its
    parent is (it is never marked itself), and moved exactly when its parent moved (``_moved`` has run
    for the interior nodes)."""
    paired: list[Paired] = []
    seqs: list[int] = []
    unpaired: list[_Leaf] = []
    below_directory, below_container = comps.below_directory, comps.below_container
    for leaf in old.leaves:  # once per old entry: the component lookup inlined
        entry, parent, key, seq = leaf
        if parent.leaves.get(key) is not leaf or parent.bad:
            continue  # promoted already, or not compared
        partner = parent.partner
        # paired by name only below a pair the interior pass went through (an interior pair, or the roots)
        other = None
        if partner is not None and (parent.cls is _INTERIOR or parent.parent is None):
            other = partner.leaves.get(key)
        if other is None:
            unpaired.append(leaf)
            continue
        assert partner is not None
        component = (below_container if key.startswith(NEST) else below_directory).get(partner)
        if component is None:
            component = comps.of_leaf(partner, key, other[0])
        paired.append(_new_paired((entry, other[0], parent.moved, component)))
        seqs.append(seq)
    lonely: list[_Leaf] = []
    for parent in new.nodes:  # the new leaves without an old one: whole dicts, or a set difference
        if not parent.leaves or parent.bad:
            continue
        partner = parent.partner
        if partner is None or (parent.cls is not _INTERIOR and parent.parent is not None):
            lonely.extend(parent.leaves.values())
        else:
            lonely.extend(parent.leaves[key] for key in parent.leaves.keys() - partner.leaves.keys())
    for leaf in unpaired:
        old.promote(leaf)
    for leaf in lonely:
        new.promote(leaf)
    old.sort()
    new.sort()
    return paired, seqs


def _emit(old: _Side, new: _Side, comps: _Components, leaf_pairs: list[Paired], leaf_seqs: list[int],
          pairs: list[Paired], skipped: list[str]) -> None:
    """Append a ``Paired`` for every old entry (nodes and simple leaves merged in ``seq`` order) and every
    new one without an old counterpart (containers excluded), and the subtrees not compared, in trie
    order."""
    node_pairs: list[Paired] = []
    node_seqs: list[int] = []
    for node in old.nodes[1:] if not old.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad:
                skipped.extend(_not_compared(node))
            continue
        if node.entry is None or node.is_container:
            continue
        partner = node.partner
        node_pairs.append(Paired(node.entry, partner.entry if partner is not None else None, node.moved,
                                 comps.of(partner or node)))
        node_seqs.append(node.seq)
    start = 0
    for item, seq in zip(node_pairs, node_seqs, strict=True):  # few nodes among many leaves: splice them in
        i = bisect_left(leaf_seqs, seq, start)
        pairs.extend(leaf_pairs[start:i])
        pairs.append(item)
        start = i
    pairs.extend(leaf_pairs[start:])
    for node in new.nodes[1:] if not new.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad and node.partner is None:
                skipped.extend(_not_compared(node))
            continue
        if node.entry is None or node.is_container:
            continue
        if node.partner is None or node.partner.entry is None:
            pairs.append(Paired(None, node.entry, False, comps.of(node)))


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
    o, n = _Side(old, True), _Side(new, False)
    _mark_unreadable(o, old)  # before pairing: it may promote simple leaves (pairing reads no marks)
    _mark_unreadable(n, new)
    # Promoted leaves (duplicates, parents, problems) were appended: the interior pass needs the
    # containers in node order (a duplicate may have made a promoted leaf a container).
    o.sort()
    n.sort()
    _pair_interior(o, n)  # promotes files only: the order of the containers stays right
    o.sort()
    n.sort()
    _propagate_bad(o, n)
    _moved(o)  # the interior nodes' flags, which their simple leaves take
    comps = _Components(o, n)
    leaf_pairs, leaf_seqs = _leaf_pass(o, n, comps)
    _pair_leaves(o, n)
    _moved(o)  # again, for the nodes paired since
    pairs: list[Paired] = []
    skipped: list[str] = []
    if o.root.bad:
        skipped += list(_not_compared(o.root))
    _emit(o, n, comps, leaf_pairs, leaf_seqs, pairs, skipped)
    renamed = tuple(
        (x.entry.path, x.partner.entry.path)
        for x in o.nodes
        if x.entry is not None and x.partner is not None and x.partner.entry is not None
        and (x.parent is None and x.entry.path != x.partner.entry.path
             or x.is_container and x.path != x.partner.path)
    )
    o.dismantle(partners=True)
    n.dismantle(partners=False)
    return Pairing(tuple(pairs), tuple(skipped), renamed)
