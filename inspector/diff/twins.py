"""Twins: leaf files found at the same path on both sides and unchanged, set aside before pairing.

Most entries of two releases of one product are the same file at the same path with the same content
and metadata. Pairing them through the trie costs a node or simple leaf each, a ``Paired``, a ``Change``
and a place in the sort, and keeps every entry of both sides in memory at once. ``set_aside`` reads both
inventories once, in step, and matches leaf files by path on the way (a file waits in a small table only
until its counterpart on the other side comes by, which in two walks of similar images is soon); a pair
that ``same_file`` calls unchanged becomes a *twin*: two indices and a count and byte sums for its
directory (a ``TwinGroup``), not objects. Both sides are read as rows (``entrylog.rows``: a stored
inventory's records as they are), so a twin is never built as an ``Entry`` at all. The remaining entries
(the ``rest``) go to the trie as before, and each trie node holds the number of twins directly below it,
so member counts are those of the whole inventory.

A twin is only set aside when the trie would have paired it by path as unchanged, which ``pairing`` makes
sure of after the passes: its parents on both sides are interior (a directory, an opened container, or
implied by the paths below it, without an entry of its own when that entry would have come after the
twin) and were paired with each other by path, are compared and did not move, and no other entry or
node has its path. Anything that ``set_aside`` cannot decide locally (a path twice on one side, a problem
at or below a file) raises ``TwinsInDoubt``, as does that check; the caller then pairs everything the
usual way, so the result is the same either way.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from inspector import entrylog, native
from inspector.binaries.model import META_KEY as _BINARY
from inspector.diff.model import same_file
from inspector.model import NEST, Entry, EntryKind, Inventory

_FILE = EntryKind.FILE.value
_DIR = EntryKind.DIR.value


class TwinsInDoubt(Exception):
    """The twins cannot be shown to pair as the trie would pair them: pair everything instead."""


@dataclass(frozen=True)
class TwinGroup:
    """The twins directly below one directory or container (the same relative path on both sides)."""

    parent: str  # relative path of the parent, on both sides
    nest: bool  # members of a container (``parent!/name``) rather than of a directory (``parent/name``)
    key: str  # the key (``name`` or ``!/name``) of one of them, to name their component
    path: str  # that twin's new logical path
    count: int = 0
    old_bytes: int = 0
    new_bytes: int = 0
    #: A twin came before any entry of its parent on that side: the parent must then have none at all (an
    #: implied directory), since a node made later than the tries would have made it may sit elsewhere.
    old_implied: bool = False
    new_implied: bool = False


@dataclass(frozen=True)
class Twins:
    """What ``set_aside`` found: the rest of each side, in inventory order, and the twins by parent.

    ``old_index[i]``/``new_index[i]`` are the places of twin ``i`` in each inventory's entries and
    ``group[i]`` its index in ``groups``.
    """

    old_rest: tuple[Entry, ...]
    new_rest: tuple[Entry, ...]
    groups: tuple[TwinGroup, ...]
    old_index: array[int] = field(default_factory=lambda: array("q"))
    new_index: array[int] = field(default_factory=lambda: array("q"))
    group: array[int] = field(default_factory=lambda: array("l"))
    #: ``hash`` of every twin's relative path, in no order (an array: a set of a million is 60 MB): another
    #: entry or node there puts the twins in doubt.
    paths: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.group)


def _problem_paths(inv: Inventory) -> set[str]:
    """Relative paths of the incomplete-making problems of ``inv`` and of all their ancestors."""
    prefix = inv.root.path + NEST
    out: set[str] = set()
    for p in inv.problems:
        if not p.makes_incomplete:
            continue
        rel = p.path[len(prefix):] if p.path.startswith(prefix) else ""
        while rel:
            out.add(rel)
            pos = rel.rfind("/")
            rel = rel[:pos - 1] if pos > 0 and rel[pos - 1] == "!" else rel[:max(pos, 0)]
    return out


#: Entries read from each side in turn (a file waits about this many entries for its twin when both
#: sides list it at the same place).
_BATCH = 512


def set_aside(old: Inventory, new: Inventory) -> Twins:
    """Read both inventories in step and set aside the twins (see the module docstring).

    Raises ``TwinsInDoubt`` when a path eligible to be a twin occurs twice on one side while it waits,
    or twice on both sides; a second one after its twin was found stays in the rest, where
    ``pairing`` finds it (``Twins.paths``).
    """
    blocked = _problem_paths(old) | _problem_paths(new)
    found = _Found()
    o, n = _Side(old, True, blocked, found), _Side(new, False, blocked, found)
    while o.take(_BATCH, n) + n.take(_BATCH, o):
        pass
    if len(set(found.paths)) != len(found.paths):  # a path twice on both sides (or two paths with one hash)
        raise TwinsInDoubt("two twins with one path")
    groups = tuple(TwinGroup(parent, nest, key, path, count, old_bytes, new_bytes, old_implied, new_implied)
                   for (parent, nest, key, path), count, old_bytes, new_bytes, old_implied, new_implied
                   in zip(found.groups, found.count, found.old_bytes, found.new_bytes, found.old_implied,
                          found.new_implied, strict=True))
    return Twins(o.the_rest(), n.the_rest(), groups, found.old_index, found.new_index, found.group_of,
                 found.paths)


class _Found:
    """The twins found so far (see ``Twins``), and their groups by parent: group ``g`` is ``groups[g]``
    (parent, nest, key, path, as ``TwinGroup``) with ``count[g]``, ``old_bytes[g]``, ``new_bytes[g]``,
    ``old_implied[g]`` and ``new_implied[g]`` beside it (lists a compiled ``take`` can add to as well)."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, bool, str, str]] = []
        self.by_parent: tuple[dict[str, int], dict[str, int]] = ({}, {})  # below a directory, a container
        self.count: list[int] = []
        self.old_bytes: list[int] = []
        self.new_bytes: list[int] = []
        self.old_implied: list[bool] = []
        self.new_implied: list[bool] = []
        self.old_index, self.new_index, self.group_of = array("q"), array("q"), array("l")
        self.paths = array("q")  # hash of each twin's relative path


#: An entry as ``entrylog.rows`` gives it: a twin is never built as an ``Entry``, only the rest are.
_Row = tuple[Any, ...]
#: A file waiting for its counterpart: (index, row, parent's relative path, nest, whether an entry of the
#: parent came before it).
_Waiting = tuple[int, _Row, str, bool, bool]


class _Side:
    """One side while ``set_aside`` reads it: its entries so far, files waiting for a counterpart, the rest."""

    def __init__(self, inv: Inventory, old_side: bool, blocked: set[str], found: _Found) -> None:
        self.old_side = old_side
        self.entries = enumerate(entrylog.rows(inv.entries))
        self.prefix = inv.root.path + NEST
        self.blocked = blocked
        self.found = found
        self.waiting: dict[str, _Waiting] = {}
        self.rest: list[tuple[int, Entry]] = []  # built as they come: twins never are
        self.interior: set[str] = set()  # relative paths of the directories and opened containers seen so far

    def take(self, n: int, other_side: _Side) -> int:
        """Read up to ``n`` more entries: a file that may be a twin meets its counterpart waiting on the
        other side, or waits; the other entries go to the rest. Returns how many were read.

        ``native.twins_take`` does the same in compiled code when it is built (``_take`` is the reference).
        """
        if native.twins_take is not None:
            return native.twins_take(self.entries, n, self.prefix, self.old_side, self.blocked, self.interior,
                                     self.waiting, other_side.waiting, self.rest, other_side.rest, self.found,
                                     same_file, entrylog.entry_of, TwinsInDoubt, _FILE, _DIR, _BINARY)
        return self._take(n, other_side)

    def _take(self, n: int, other_side: _Side) -> int:
        """``take`` in Python: the reference the compiled one is compared with (``tests/test_diff_twins.py``)."""
        rest, interior, blocked, mine, theirs = self.rest.append, self.interior, self.blocked, self.waiting, \
            other_side.waiting
        prefix, cut, old_side, binary = self.prefix, len(self.prefix), self.old_side, _BINARY
        found = self.found
        groups, by_parent, path_hash = found.groups, found.by_parent, found.paths.append
        counts, old_bytes, new_bytes = found.count, found.old_bytes, found.new_bytes
        old_implied, new_implied = found.old_implied, found.new_implied
        mine_index, theirs_index = ((found.old_index.append, found.new_index.append) if old_side
                                    else (found.new_index.append, found.old_index.append))
        group_of = found.group_of.append
        entry_of = entrylog.entry_of
        count = 0
        for index, e in islice(self.entries, n):
            count += 1
            path, kind, _, _, _, sha256, _, _, _, _, container, opened, meta = e
            if kind != _FILE or not path.startswith(prefix):
                if kind == _DIR and path.startswith(prefix):
                    interior.add(path[cut:])
                rest((index, entry_of(e)))
                continue
            if container and opened:
                interior.add(path[cut:])
                rest((index, entry_of(e)))
                continue
            if sha256 is None or (meta and (meta.get("incomplete") or binary in meta)):
                rest((index, entry_of(e)))
                continue
            rel = path[cut:]
            other = theirs.pop(rel, None)  # waiting there: it passed the tests below with this same path
            if other is None:
                pos = rel.rfind("/")
                if pos <= 0 or (blocked and rel in blocked):
                    rest((index, entry_of(e)))  # in the image itself, or where a problem points
                    continue
                nest = rel[pos - 1] == "!"
                parent = rel[:pos - 1] if nest else rel[:pos]
                if mine.setdefault(rel, (index, e, parent, nest, parent in interior))[0] != index:
                    raise TwinsInDoubt(f"{rel} twice on one side")
                continue
            o_e, n_e = (e, other[1]) if old_side else (other[1], e)
            if not same_file(o_e, n_e):
                rest((index, entry_of(e)))
                other_side.rest.append((other[0], entry_of(other[1])))
                continue
            parent, nest = other[2], other[3]  # the same relative path: the same parent
            g = by_parent[nest].get(parent)
            if g is None:
                g = by_parent[nest][parent] = len(groups)
                groups.append((parent, nest, rel[len(parent):], n_e[0]))
                counts.append(0)
                old_bytes.append(0)
                new_bytes.append(0)
                old_implied.append(False)
                new_implied.append(False)
            early = parent in interior
            if not (early if old_side else other[4]):
                old_implied[g] = True
            if not (other[4] if old_side else early):
                new_implied[g] = True
            counts[g] += 1
            old_bytes[g] += o_e[2] or 0
            new_bytes[g] += n_e[2] or 0
            mine_index(index)
            theirs_index(other[0])
            group_of(g)
            path_hash(hash(rel))
        return count

    def the_rest(self) -> tuple[Entry, ...]:
        """The entries that are not twins, in inventory order (once both sides are read)."""
        entry_of = entrylog.entry_of
        while self.waiting:  # emptied as it goes: the rows are dropped as their entries are made
            index, e, _, _, _ = self.waiting.popitem()[1]
            self.rest.append((index, entry_of(e)))
        self.rest.sort(key=lambda item: item[0])
        return tuple(e for _, e in self.rest)


def entries_at(entries: Sequence[Entry], indices: array[int]) -> list[Entry]:
    """The entries at ``indices`` (in that order), read in one pass over ``entries``."""
    order = sorted(range(len(indices)), key=indices.__getitem__)
    out: list[Entry | None] = [None] * len(indices)
    it = iter(order)
    want = next(it, None)
    if want is None:
        return []
    for i, e in enumerate(entries):
        while want is not None and indices[want] == i:
            out[want] = e
            want = next(it, None)
        if want is None:
            break
    return out  # type: ignore[return-value]
