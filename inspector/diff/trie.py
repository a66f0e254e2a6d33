"""The path trie of one inventory, the structure every pairing pass works on (``inspector.diff.pairing``).

A logical path is a chain of segments, each entered through ``/`` (a directory level) or ``!/`` (a
container boundary). ``PathTrie`` holds one ``Node`` per segment that needs individual treatment and
answers the questions the passes ask: the node at a relative path, the nodes in trie order, the members
of a node, the children two nodes share by name.

Scale: a 200,000-entry pair is mostly plain files paired by name below paired directories. The trie keeps
those as *simple leaves* (a compact record in their parent, never seen outside this module) and turns
one into a ``Node`` only when a pass needs it as one (``promote``): it turns out to be a duplicate or a
parent, a problem points at it, its name is a node on the other side, it is a wrapper's only member, or
it was not paired by name. The result is the one a node per entry gives: every node keeps the place
(``seq``) its entry has in the inventory, and ``PathTrie.nodes`` is always in that order (re-sorted
after any promotion, inside the trie), so passes never think about promotion or order.

The tries are cyclic (parents, partners), so they are taken apart at the end (``dismantle``) and freed by
reference counting instead of a garbage-collection pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TypeVar

from inspector.diff.twins import TwinsInDoubt
from inspector.model import NEST, Entry, EntryKind, Inventory

#: Node classes: what pairing treats alike. Interior nodes (directories, opened containers, implied
#: directories) are paired top down; files and links are leaves; anything else only by path.
INTERIOR, FILE, LINK, OTHER = "interior", "file", "link", "other"

#: Shared by every node until its first child arrives: most nodes have none, and an empty dict per node
#: costs 64 bytes and an allocation (read-only, so a stray write fails loudly).
_NO_CHILDREN: Mapping[str, Node] = MappingProxyType({})
_NO_LEAVES: Mapping[str, _Leaf] = MappingProxyType({})
_FILE_KIND, _DIR_KIND = EntryKind.FILE, EntryKind.DIR
_LINK_KINDS = (EntryKind.SYMLINK, EntryKind.HARDLINK)
T = TypeVar("T")
_LAST_SEG = re.compile(r"(?:!/|/)(?!.*(?:!/|/))")


class Node:
    """One path segment of one side: an entry that needs individual treatment, or an implied directory.

    Structure (set by the trie): ``sep``, ``name``, ``parent``, ``path`` (relative to the image),
    ``entry``, ``cls``, ``is_container``, ``cont`` (the innermost container holding it), ``members``,
    ``seq``. Pairing annotations (set by the passes): ``partner``, ``how`` (``path``, ``content`` or
    ``version``), ``marked`` (this side could not read it), ``bad`` (not compared), ``moved``, and the
    memoised ``nkey``/``tpath``.
    """

    __slots__ = ("sep", "name", "parent", "children", "leaves", "entry", "path", "partner", "how", "marked",
                 "bad", "nkey", "tpath", "moved", "old_side", "cls", "is_container", "cont", "members", "twins", "seq",
                 "slot")

    def __init__(self, sep: str, name: str, parent: Node | None, path: str, old_side: bool, seq: int) -> None:
        self.sep = sep
        self.name = name
        self.parent = parent
        #: Child nodes by key (see ``child_key``), in ``seq`` order, and simple leaves.
        self.children: Mapping[str, Node] = _NO_CHILDREN
        self.leaves: Mapping[str, _Leaf] = _NO_LEAVES
        self.entry: Entry | None = None
        self.path = path
        self.partner: Node | None = None
        self.how = ""
        self.marked = False
        self.bad = False
        self.nkey: str | None = None
        self.tpath: str | None = None
        self.moved = False
        self.old_side = old_side
        self.cls = INTERIOR  # until an entry says otherwise (implicit directories stay interior)
        self.is_container = False
        #: The innermost container node holding this one (the root for top-level members and the root).
        self.cont: Node = self if parent is None else parent if sep == NEST else parent.cont
        #: Entries directly inside this container (duplicates counted); kept on containers and the root.
        self.members = 0
        #: Unchanged leaf files directly below this node that were set aside before pairing
        #: (``inspector.diff.twins``): members, but neither children nor simple leaves.
        self.twins = 0
        #: The node's place in inventory order (ancestors before the first entry below them).
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
            self.is_container = e.is_opened_container
            self.cls = INTERIOR if self.is_container else FILE
        else:
            self.is_container = False
            self.cls = INTERIOR if kind is _DIR_KIND else LINK if kind in _LINK_KINDS else OTHER
        meta = e.meta
        self.marked = bool((meta and meta.get("incomplete")) or (self.cls is FILE and e.sha256 is None))

    @property
    def member_count(self) -> int:
        """Children, simple leaves and twins directly below this node."""
        return len(self.children) + len(self.leaves) + self.twins

    def has_child(self, key: str) -> bool:
        """Whether a node or a simple leaf sits at ``key`` below this node."""
        return key in self.children or key in self.leaves

    def pair(self, other: Node, how: str) -> None:
        """Make this node and ``other`` (of the other side) partners."""
        self.partner, other.partner = other, self
        self.how = other.how = how


#: A simple leaf: (entry, parent node, key, seq). Private to this module.
_Leaf = tuple[Entry, Node, str, int]


def child_key(sep: str, name: str) -> str:
    """A child's key in its parent: the name below a directory level, ``!/name`` below a container
    boundary (a name never contains ``/``, so the two cannot meet). A string rather than a (sep, name)
    tuple: no allocation, and its hash is computed once."""
    return name if sep == "/" else NEST + name


def split_key(key: str) -> tuple[str, str]:
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


class PathTrie:
    """The trie of one inventory (see the module docstring)."""

    def __init__(self, inv: Inventory, old_side: bool) -> None:
        self.old_side = old_side
        self.root = Node("", "", None, "", old_side, 0)
        self.root.set_entry(inv.root)
        self._nodes = [self.root]
        self._sorted = True
        self.index = {"": self.root}  # relative path -> node
        self._parents: list[Node] = []  # the nodes with children or leaves (some twice)
        self._leaves: list[_Leaf] = []  # every simple leaf ever made, in seq order (promoted ones too)
        self._seq = 1
        self.prefix = inv.root.path + NEST
        self.cut = len(self.prefix)
        #: The unpacked footprint: the sizes of all leaf files, counted while building.
        self.unpacked = 0
        self._build(inv)
        #: Whether any node is marked (not read completely); passes set it when they mark one.
        self.any_marked = any(x.marked for x in self._nodes)

    @property
    def nodes(self) -> list[Node]:
        """Every node in inventory order (parents before children); re-sorted here after promotions."""
        if not self._sorted:
            self._nodes.sort(key=lambda x: x.seq)
            self._sorted = True
        return self._nodes

    def _build(self, inv: Inventory) -> None:
        # The hottest loop of a large diff (once per entry), hence inlined: a plain file is split into
        # its parent's relative path and its key straight from the logical path (no relative path).
        prefix, cut, index = self.prefix, self.cut, self.index
        leaves, parents, seq = self._leaves, self._parents, self._seq
        entries = iter(inv.entries)  # one pass: the entries may be read from disk as we go
        root = next(entries)
        unpacked = (root.size or 0) if root.is_leaf_file else 0
        for e in entries:
            leaf_file = e.is_leaf_file
            if leaf_file:
                unpacked += e.size or 0
            path = e.path
            if not path.startswith(prefix) or len(path) == cut:
                continue
            meta = e.meta
            if leaf_file and e.sha256 is not None and not (meta and meta.get("incomplete")):
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
                    self._seq = seq
                    parent = self.node_at(parent_rel)
                    seq = self._seq
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
            self._seq = seq
            node = self.node_at(path[cut:])  # a node, or a duplicate of a simple leaf (promoted)
            seq = self._seq
            node.set_entry(e)  # a duplicate member name: the last one wins, as on extraction
            node.cont.members += 1
        self._seq = seq
        self.unpacked = unpacked

    def relative(self, path: str) -> str | None:
        """``path`` relative to this side's image ("" for the image itself), None when outside it."""
        if path == self.root.entry.path:  # type: ignore[union-attr]
            return ""
        return path[self.cut:] if path.startswith(self.prefix) else None

    def node_at(self, rel: str) -> Node:
        """The node for ``rel``: indexed, a simple leaf promoted, or a new one (after any missing ancestors)."""
        node = self.index.get(rel)
        if node is not None:
            return node
        parent_rel, key = _split(rel)
        parent = self.node_at(parent_rel)
        leaf = parent.leaves.get(key)
        if leaf is not None:
            node = self._promote(leaf)
            if node.path == rel:
                return node
            # else the same key for another path (``x`` and ``/x`` in the image): both are nodes
        node = self._add(parent, key, rel, self._seq)
        self._seq += 1
        return node

    def find(self, rel: str) -> Node | None:
        """The node for ``rel`` if there is an entry or node there (a simple leaf is promoted), else None."""
        node = self.index.get(rel)
        if node is None and rel:
            parent_rel, key = _split(rel)
            parent = self.index.get(parent_rel)
            leaf = parent.leaves.get(key) if parent is not None else None
            if leaf is not None and leaf[0].path[self.cut:] == rel:
                node = self._promote(leaf)
        return node

    def locate(self, rel: str) -> Node:
        """The node at ``rel`` or, if there is none (a skipped member), its nearest existing ancestor with
        an entry."""
        while True:
            node = self.find(rel)
            if node is not None and node.entry is not None:
                return node
            m = _LAST_SEG.search(rel)
            rel = rel[: m.start()] if m else ""

    def child(self, node: Node, key: str) -> Node | None:
        """The child of ``node`` at ``key`` as a node (a simple leaf there is promoted), else None."""
        found = node.children.get(key)
        if found is None:
            leaf = node.leaves.get(key)
            if leaf is not None:
                found = self._promote(leaf)
        return found

    def only_member(self, node: Node) -> Node:
        """The one member of ``node`` (which has exactly one) as a node."""
        found = self.child(node, self.only_member_key(node))
        assert found is not None
        return found

    def only_member_key(self, node: Node) -> str:
        """The key of the one member of ``node`` (which has exactly one); ``TwinsInDoubt`` when that member
        is a twin (its key was not kept: the caller pairs without setting twins aside)."""
        if node.twins:
            raise TwinsInDoubt(f"the one member of {node.path} is a twin")
        return next(iter(node.children or node.leaves))

    def add_twins(self, parent_rel: str, nest: bool, count: int, size: int) -> None:
        """Count ``count`` twins (``size`` bytes together) directly below the node at ``parent_rel`` (made,
        with any missing ancestors, when only twins implied it)."""
        parent = self.node_at(parent_rel)
        parent.twins += count
        (parent if nest else parent.cont).members += count
        self.unpacked += size

    def promote_names_of(self, node: Node, other: Node) -> None:
        """Make nodes of ``node``'s simple leaves whose names are nodes below ``other`` (of the other side),
        so that pairing by name never meets a node on one side and a leaf on the other."""
        if node.leaves and other.children:
            leaves = node.leaves
            for key in [k for k in other.children if k in leaves]:
                self._promote(leaves[key])

    def _promote(self, leaf: _Leaf) -> Node:
        """Turn a simple leaf into a node (in its place in ``seq`` order)."""
        entry, parent, key, seq = leaf
        del parent.leaves[key]  # type: ignore[attr-defined]
        node = self._add(parent, key, entry.path[self.cut:], seq)
        node.set_entry(entry)
        self._sorted = False
        return node

    def _add(self, parent: Node, key: str, rel: str, seq: int) -> Node:
        node = Node(*split_key(key), parent, rel, self.old_side, seq)
        children = parent.children
        if children is _NO_CHILDREN:
            parent.children = children = {}
            self._parents.append(parent)
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
        self._nodes.append(node)
        self.index[rel] = node
        return node

    def dismantle(self, partners: bool) -> None:
        """Break the reference cycles (parent/children/leaves, root.cont, and partners if ``partners``)
        once the pairing is done, so that reference counting frees the trie at once: left to the cyclic
        garbage collector, a 200k-entry diff costs a collection pass over 800k objects (about a second)."""
        for x in self._parents:
            x.children = _NO_CHILDREN
            x.leaves = _NO_LEAVES
        self.root.cont = None  # type: ignore[assignment]
        if partners:
            for x in self._nodes:
                x.partner = None


#: Makes the record of one pair of leaves: (old entry, new entry, old parent, new parent, key) -> item.
LeafPairFn = Callable[[Entry, Entry, Node, Node, str], T]


def match_leaves_by_name(old: PathTrie, new: PathTrie, make: LeafPairFn[T]) -> tuple[list[T], list[int]]:
    """Pair the simple leaves by name below paired interior nodes (as the interior pass pairs nodes),
    and promote the others (unless below a node not compared), so that the later passes see them as
    nodes. A simple leaf is bad exactly when its parent is (it is never marked itself).

    Returns ``make(...)`` of every pair, in the old side's inventory order, and their places in that
    order (``seq``), to merge with the pairs of nodes.
    """
    pairs: list[T] = []
    seqs: list[int] = []
    unpaired: list[_Leaf] = []
    for leaf in old._leaves:  # once per old entry
        entry, parent, key, seq = leaf
        if parent.leaves.get(key) is not leaf or parent.bad:
            continue  # promoted already, or not compared
        partner = parent.partner
        # paired by name only below a pair the interior pass went through (an interior pair, or the roots)
        other = None
        if partner is not None and (parent.cls is INTERIOR or parent.parent is None):
            other = partner.leaves.get(key)
        if other is None:
            unpaired.append(leaf)
            continue
        assert partner is not None
        pairs.append(make(entry, other[0], parent, partner, key))
        seqs.append(seq)
    lonely: list[_Leaf] = []
    for parent in new.nodes:  # the new leaves without an old one: whole dicts, or a set difference
        if not parent.leaves or parent.bad:
            continue
        partner = parent.partner
        if partner is None or (parent.cls is not INTERIOR and parent.parent is not None):
            lonely.extend(parent.leaves.values())
        else:
            lonely.extend(parent.leaves[key] for key in parent.leaves.keys() - partner.leaves.keys())
    for leaf in unpaired:
        old._promote(leaf)
    for leaf in lonely:
        new._promote(leaf)
    return pairs, seqs


def walk_up_containers(node: Node) -> Iterator[Node]:
    """The containers enclosing ``node``, innermost first (the root excluded)."""
    x = node.cont
    while x.parent is not None:
        yield x
        x = x.cont
