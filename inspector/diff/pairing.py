"""Pairing the entries of two inventories: by path, by content, then by version-normalised name.

Both inventories become a ``PathTrie`` (``inspector.diff.trie``), and pairing is the fixed list of
passes in ``PASSES``, each a function from ``PairingState`` to ``PairingState``:

1. ``mark_unreadable``: nodes a side could not read completely (their subtrees are not compared).
2. ``pair_interior``: directories and opened containers, top down: same name, else (containers only)
   same SHA-256, else same version-normalised name, so the members of a renamed container
   (``a-1.0.tgz!/a-1.0.tar!/bin/x`` vs ``a-1.1.tgz!/a-1.1.tar!/bin/x``) meet by their inner paths;
   then containers moved elsewhere with identical content, and again top down below them.
3. ``mark_not_compared``: what is below a marked node (either side) is not compared; which nodes moved.
4. ``resolve_components``: the component resolver (which release part an entry belongs to).
5. ``pair_leaves_by_path``: files below paired interior nodes, by name (the bulk of a large diff).
6. ``pair_leaves_by_content``: files left over, same SHA-256 elsewhere (a rename or move).
7. ``pair_leaves_by_version``: files and links left over, same version-normalised path
   (``xen-4.17.3`` vs ``xen-4.17.5``).
8. ``emit``: a ``Paired`` per entry in inventory order, the subtrees not compared, the renamed containers.

Large pairs first set aside the leaf files unchanged at the same path (``inspector.diff.twins``): the
passes then run over the rest, and ``Pairing.twins`` carries the others as counts and indices.

Every step is a dict lookup or a bucket, never a pairwise comparison, so pairing is linear in the number
of entries. Subtrees that a side could not read completely (a problem, a container marked incomplete, a
member whose content is unknown) are not compared: they are listed instead of being reported as
removed/added.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import NamedTuple

from inspector.diff.components import Components
from inspector.diff.trie import FILE, INTERIOR, LINK, Node, PathTrie, match_leaves_by_name
from inspector.diff.twins import Twins, TwinsInDoubt, set_aside
from inspector.diff.versions import natural_key, normalise_name
from inspector.model import NEST, Entry, Inventory


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
    #: Unpacked footprints (sum of leaf file sizes) of the old and new inventories, counted on the way.
    unpacked: tuple[int, int] = (0, 0)
    #: Unchanged files set aside before pairing (not in ``pairs``), and the component of each of their
    #: groups; None when every entry was paired through the tries.
    twins: Twins | None = None
    twin_components: tuple[str, ...] = ()


@dataclass(frozen=True)
class PairingState:
    """What the passes hand on: the two tries (whose nodes carry the pairs made so far), the problems to
    mark, and what the later passes produce."""

    old: PathTrie
    new: PathTrie
    old_problems: tuple[str, ...]  # logical paths of the problems that make a side incomplete
    new_problems: tuple[str, ...]
    components: Components | None = None
    #: The pairs of leaves paired by path, and their places in the old inventory's order.
    by_path: tuple[list[Paired], list[int]] | None = None
    pairing: Pairing | None = None


Pass = Callable[[PairingState], PairingState]


# -- 1. marking what a side could not read ----------------------------------------------------------------

def mark_unreadable(state: PairingState) -> PairingState:
    """Mark the nodes a side could not read completely, from its problems (their subtrees will not be
    compared). Entries not read completely (incomplete containers, leaf files without a hash) were
    marked when the trie was built."""
    for trie, problems in ((state.old, state.old_problems), (state.new, state.new_problems)):
        for path in problems:
            rel = trie.relative(path)
            node = trie.locate(rel or "")
            e = node.entry
            if e is not None and e.is_counted_file and node.path == rel:
                continue  # read completely as a blob (e.g. an unopened container): still comparable
            node.marked = trie.any_marked = True
    return state


# -- 2. interior nodes --------------------------------------------------------------------------------------

def pair_interior(state: PairingState) -> PairingState:
    """Top-down pairing of the interior nodes, then of containers moved elsewhere with identical content
    (outermost first) and again top down below them, until nothing more pairs."""
    old, new = state.old, state.new
    old.root.pair(new.root, "path")
    made = [(old.root, new.root)]
    while made:
        _pair_top_down(old, new, deque(made))
        made = _pair_moved_containers(old, new)
    return state


def _pair_top_down(old: PathTrie, new: PathTrie, queue: deque[tuple[Node, Node]]) -> None:
    """Below each pair of the queue: children by name, a wrapper's one payload whatever its name, then
    unpaired interior children by container content and by version-normalised name."""
    while queue:
        o, n = queue.popleft()
        old.promote_names_of(o, n)  # simple leaves pair by name later, with leaves only
        new.promote_names_of(n, o)
        unpaired_old = []
        n_children = n.children
        for key, oc in o.children.items():
            nc = n_children.get(key)
            if nc is not None and nc.partner is None and oc.partner is None and oc.cls is nc.cls:
                oc.pair(nc, "path")
                if oc.cls is INTERIOR:
                    queue.append((oc, nc))
            elif oc.partner is None and oc.cls is INTERIOR:
                unpaired_old.append(oc)
        payloads = _wrapper_payloads(old, o, new, n)
        if payloads is not None:
            oc, nc = payloads
            if oc.partner is None and nc.partner is None and oc.cls == nc.cls and oc.sep == nc.sep:
                oc.pair(nc, "path")
                if oc.cls == INTERIOR:
                    queue.append((oc, nc))
                continue
        if not unpaired_old:
            continue
        unpaired_new = [nc for nc in n.children.values() if nc.partner is None and nc.cls == INTERIOR]
        if not unpaired_new:
            continue
        made = _pair_buckets([x for x in unpaired_old if x.is_container],
                             [x for x in unpaired_new if x.is_container], _sha, "content")
        made += _pair_buckets(unpaired_old, unpaired_new, _interior_version_key, "version")
        queue.extend(made)


def _wrapper_payloads(old: PathTrie, o: Node, new: PathTrie, n: Node) -> tuple[Node, Node] | None:
    """The members of two containers with one member each when their names differ (a wrapper's one
    payload is named after the wrapper: ``same-a.tgz!/same-a.tar``), as nodes; else None (with the same
    name they are paired by name already, or cannot be: different classes)."""
    if not (o.is_container and n.is_container and o.member_count == 1 and n.member_count == 1):
        return None
    if old.only_member_key(o) == new.only_member_key(n):
        return None
    return old.only_member(o), new.only_member(n)


def _pair_moved_containers(old: PathTrie, new: PathTrie) -> list[tuple[Node, Node]]:
    """Pair still unpaired containers by SHA-256 anywhere in the tree, skipping any whose enclosing
    container was paired in the same round (its members are paired through it)."""
    by_sha: dict[str, deque[Node]] = defaultdict(deque)
    for x in new.nodes:
        if x.is_container and x.partner is None and not x.bad and x.entry and x.entry.sha256:
            by_sha[x.entry.sha256].append(x)
    if not by_sha:
        return []
    made: list[tuple[Node, Node]] = []
    fresh: set[int] = set()
    cands = [x for x in old.nodes if x.is_container and x.partner is None and x.entry and x.entry.sha256]
    cands.sort(key=lambda x: x.path.count(NEST))
    for o in cands:
        if o.partner is not None or _in_fresh(o, fresh):
            continue
        n = _pop_free(by_sha.get(o.entry.sha256), fresh)  # type: ignore[union-attr, arg-type]
        if n is not None:
            o.pair(n, "content")
            fresh.add(id(o))
            fresh.add(id(n))
            made.append((o, n))
    return made


# -- 3. not compared, moved ---------------------------------------------------------------------------------

def mark_not_compared(state: PairingState) -> PairingState:
    """A node is not compared (``bad``) when it or its partner is marked, or its parent is not compared;
    then flag the interior nodes that moved (their simple leaves take the flag)."""
    old, new = state.old, state.new
    if old.any_marked or new.any_marked:  # else no node is bad (the common, complete case)
        for side in (old, new):
            for node in side.nodes:
                node.bad = (node.marked or (node.partner is not None and node.partner.marked)
                            or (node.parent is not None and node.parent.bad))
    _flag_moved(old)
    return state


def _flag_moved(old: PathTrie) -> None:
    """Flag old nodes whose path changed other than through a version-renamed container."""
    for node in old.nodes:
        if node.partner is None or node.parent is None:
            continue
        if node.how == "content" or (node.how == "version" and node.cls != INTERIOR):
            node.moved = True
        elif node.how == "path":
            node.moved = node.parent.moved


# -- 4. components ------------------------------------------------------------------------------------------

def resolve_components(state: PairingState) -> PairingState:
    """The component resolver, once the interior nodes are paired (components are named in the new
    release's namespace, through paired containers)."""
    return dataclasses.replace(state, components=Components(state.old, state.new, _tpath))


# -- 5-7. leaves ----------------------------------------------------------------------------------------

def pair_leaves_by_path(state: PairingState) -> PairingState:
    """Files below paired interior nodes, by name; the others become nodes for the next passes."""
    assert state.components is not None
    return dataclasses.replace(state, by_path=match_leaves_by_name(state.old, state.new,
                                                                   _leaf_pair_maker(state.components)))


def _free(side: PathTrie, cls: str | None = None) -> list[Node]:
    """Unpaired comparable files and links (a class other than interior implies an entry), or only
    those of class ``cls``."""
    if cls is not None:
        return [x for x in side.nodes if x.partner is None and x.cls is cls and not x.bad]
    return [x for x in side.nodes if x.partner is None and (x.cls is FILE or x.cls is LINK) and not x.bad]


def pair_leaves_by_content(state: PairingState) -> PairingState:
    """Unpaired files with the same SHA-256 (non-empty): one with the same name first, else any."""
    olds, news = _free(state.old, FILE), _free(state.new, FILE)
    if olds and news:
        by_name: dict[tuple[str, str], deque[Node]] = defaultdict(deque)
        by_sha: dict[str, deque[Node]] = defaultdict(deque)
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
                o.pair(pick, "content")
    return state


def pair_leaves_by_version(state: PairingState) -> PairingState:
    """Unpaired files and links with the same class and version-normalised path; then flag the nodes
    that moved (again, for those paired since ``mark_not_compared``)."""
    olds, news = _free(state.old), _free(state.new)
    if olds and news:
        _pair_buckets(olds, news, lambda x: (x.cls, _nkey(x)), "version")
    _flag_moved(state.old)
    return state


# -- 8. emit ------------------------------------------------------------------------------------------------

def emit(state: PairingState) -> PairingState:
    """A ``Paired`` for every old entry (nodes and leaves paired by path, merged in inventory order) and
    every new one without an old counterpart (containers excluded), the subtrees not compared in trie
    order, and the renamed containers."""
    old, new, comps, by_path = state.old, state.new, state.components, state.by_path
    assert comps is not None and by_path is not None
    skipped: list[str] = list(_not_compared(old.root)) if old.root.bad else []
    pairs = _merge_in_order(_old_node_pairs(old, comps, skipped), *by_path)
    for node in new.nodes[1:] if not new.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad and node.partner is None:
                skipped.extend(_not_compared(node))
            continue
        if node.entry is None or node.is_container:
            continue
        if node.partner is None or node.partner.entry is None:
            pairs.append(Paired(None, node.entry, False, comps.of(node)))
    renamed = tuple(
        (x.entry.path, x.partner.entry.path)
        for x in old.nodes
        if x.entry is not None and x.partner is not None and x.partner.entry is not None
        and (x.parent is None and x.entry.path != x.partner.entry.path
             or x.is_container and x.path != x.partner.path)
    )
    return dataclasses.replace(state, pairing=Pairing(tuple(pairs), tuple(skipped), renamed,
                                                      (old.unpacked, new.unpacked)))


def _leaf_pair_maker(comps: Components) -> Callable[[Entry, Entry, Node, Node, str], Paired]:
    """The ``Paired`` of two leaves paired by path (once per entry of a large diff: kept lean). A leaf
    moved exactly when its parent did; its component is its new parent's, by separator."""
    below_directory, below_container, leaf_component = comps.below_directory, comps.below_container, comps.of_leaf

    def make(entry: Entry, other: Entry, parent: Node, partner: Node, key: str) -> Paired:
        component = (below_container if key.startswith(NEST) else below_directory).get(partner)
        if component is None:
            component = leaf_component(partner, key, other.path)
        return _new_paired((entry, other, parent.moved, component))

    return make


def _old_node_pairs(old: PathTrie, comps: Components, skipped: list[str]) -> tuple[list[Paired], list[int]]:
    """The ``Paired`` of every old node with an entry (containers excluded) and their ``seq``; the
    outermost nodes not compared go to ``skipped``."""
    pairs: list[Paired] = []
    seqs: list[int] = []
    for node in old.nodes[1:] if not old.root.bad else ():
        if node.bad:
            if node.parent is not None and not node.parent.bad:
                skipped.extend(_not_compared(node))
            continue
        if node.entry is None or node.is_container:
            continue
        partner = node.partner
        pairs.append(Paired(node.entry, partner.entry if partner is not None else None, node.moved,
                            comps.of(partner or node)))
        seqs.append(node.seq)
    return pairs, seqs


def _merge_in_order(nodes: tuple[list[Paired], list[int]], leaves: list[Paired], leaf_seqs: list[int]
                    ) -> list[Paired]:
    """Splice the (few) node pairs into the (many) leaf pairs by ``seq``."""
    out: list[Paired] = []
    start = 0
    for item, seq in zip(*nodes, strict=True):
        i = bisect_left(leaf_seqs, seq, start)
        out.extend(leaves[start:i])
        out.append(item)
        start = i
    out.extend(leaves[start:])
    return out


def _not_compared(node: Node) -> Iterator[str]:
    """``old: path`` / ``new: path`` for the side(s) that could not be read at this node."""
    for x in (node, node.partner):
        if x is not None and x.marked and x.entry is not None:
            yield f"{'old' if x.old_side else 'new'}: {x.entry.path}"


# -- the passes in order --------------------------------------------------------------------------------

#: The passes, in the order they run (each reads what the earlier ones left on the tries).
PASSES: tuple[Pass, ...] = (
    mark_unreadable,
    pair_interior,
    mark_not_compared,
    resolve_components,
    pair_leaves_by_path,
    pair_leaves_by_content,
    pair_leaves_by_version,
    emit,
)


#: From this many entries on both sides together, unchanged files are set aside before pairing
#: (``inspector.diff.twins``); below it, a pass over both sides costs more than it saves.
TWINS_FROM = 100_000


def pair_inventories(old: Inventory, new: Inventory) -> Pairing:
    """Pair every entry of ``old`` with its counterpart in ``new`` (see the module docstring).

    Large pairs first set aside the files unchanged at the same path (``twins.set_aside``) and pair the
    rest; when the twins cannot be shown to pair as the tries would have paired them, everything is
    paired the usual way. Either way the pairing is the same.
    """
    enabled = gc.isenabled()
    gc.disable()  # the tries are large graphs of small objects: cyclic GC passes would dominate
    try:
        if len(old.entries) + len(new.entries) >= TWINS_FROM:
            with contextlib.suppress(TwinsInDoubt):
                return _pair(old, new, set_aside(old, new))
        return _pair(old, new, None)
    finally:
        if enabled:
            gc.enable()


def _pair(old: Inventory, new: Inventory, twins: Twins | None) -> Pairing:
    """Run the passes over both inventories, or over the rest of each and the twins set aside."""
    if twins is None:
        old_trie, new_trie = PathTrie(old, True), PathTrie(new, False)
    else:
        old_trie = PathTrie(dataclasses.replace(old, entries=twins.old_rest), True)
        new_trie = PathTrie(dataclasses.replace(new, entries=twins.new_rest), False)
        for g in twins.groups:
            old_trie.add_twins(g.parent, g.nest, g.count, g.old_bytes)
            new_trie.add_twins(g.parent, g.nest, g.count, g.new_bytes)
    state = PairingState(old_trie, new_trie, _incomplete(old), _incomplete(new))
    try:
        for step in PASSES:
            state = step(state)
        pairing = state.pairing
        assert pairing is not None
        if twins is not None:
            pairing = dataclasses.replace(pairing, twins=twins,
                                          twin_components=_twin_components(state, twins))
        return pairing
    finally:
        state.old.dismantle(partners=True)
        state.new.dismantle(partners=False)


def _twin_components(state: PairingState, twins: Twins) -> tuple[str, ...]:
    """The component of each group of twins, once it is sure they pair as the passes would have paired
    them: by name below interior parents paired with each other by path, compared and not moved (and
    without an entry where a twin came before it), where no other entry or node has a twin's path (else
    ``TwinsInDoubt``). A twin's component is that of a leaf paired by
    path below its new parent (``_leaf_pair_maker``)."""
    old, new, comps = state.old, state.new, state.components
    assert comps is not None
    taken = {hash(rel) for trie in (old, new) for rel in trie.index}  # one pass over the twins, not four
    for rest in (twins.old_rest, twins.new_rest):
        cut = len(rest[0].path) + len(NEST)
        taken.update(hash(e.path[cut:]) for e in rest)
    if not taken.isdisjoint(twins.paths):
        raise TwinsInDoubt("a node or another entry at a twin's path")
    del taken
    out = []
    for g in twins.groups:
        o, n = old.index.get(g.parent), new.index.get(g.parent)
        if (o is None or n is None or o.partner is not n or o.cls is not INTERIOR or n.cls is not INTERIOR
                or o.bad or n.bad or o.moved or (g.old_implied and o.entry is not None)
                or (g.new_implied and n.entry is not None)):
            raise TwinsInDoubt(f"twins below {g.parent} would not pair by path")
        component = (comps.below_container if g.nest else comps.below_directory).get(n)
        out.append(component if component is not None else comps.of_leaf(n, g.key, g.path))
    return tuple(out)


def _incomplete(inv: Inventory) -> tuple[str, ...]:
    return tuple(p.path for p in inv.problems if p.makes_incomplete)


# -- keys and buckets ---------------------------------------------------------------------------------------

def _pair_buckets(olds: list[Node], news: list[Node], key: Callable[[Node], Hashable | None], how: str
                  ) -> list[tuple[Node, Node]]:
    """Pair nodes with equal ``key`` (in natural order within a bucket); return the new pairs."""
    buckets: dict[object, tuple[list[Node], list[Node]]] = defaultdict(lambda: ([], []))
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
                o.pair(n, how)
                made.append((o, n))
    return made


def _sha(node: Node) -> str | None:
    return node.entry.sha256 if node.entry is not None else None


def _interior_version_key(node: Node) -> tuple[str, str, bool]:
    return node.sep, _norm(node.name), node.is_container


def _pop_free(q: deque[Node] | None, fresh: set[int] | None = None) -> Node | None:
    while q:
        x = q.popleft()
        if x.partner is None and not (fresh and _in_fresh(x, fresh)):
            return x
    return None


def _in_fresh(node: Node, fresh: set[int]) -> bool:
    """Whether a container enclosing ``node`` was paired in this round."""
    x = node.cont
    while x.parent is not None:
        if id(x) in fresh:
            return True
        x = x.cont
    return False


@lru_cache(maxsize=65536)
def _norm(name: str) -> str:
    return normalise_name(name)


def _tpath(node: Node) -> str:
    """An old node's path in the new release's namespace (through its paired ancestors)."""
    if node.tpath is None:
        if node.partner is not None:
            node.tpath = node.partner.path
        else:
            assert node.parent is not None
            parent = _tpath(node.parent)
            node.tpath = f"{parent}{node.sep}{node.name}" if parent else node.name
    return node.tpath


def _nkey(node: Node) -> str:
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
