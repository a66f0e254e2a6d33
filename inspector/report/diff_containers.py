"""Which containers a diff changed: each container holding a change, with the changes and bytes below it.

One home for the roll-up that the text tree (``diff_text.container_tree``) and the HTML report show.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from inspector.diff.model import Change, DiffResult, changed_only
from inspector.model import NEST


@dataclass(frozen=True)
class ContainerRow:
    """One changed container: its path in the new release, nesting depth, and what changed below it."""

    path: str
    depth: int
    changes: int
    replaced: int
    delta: int
    was: str | None  # old name when the container was renamed


def _chain(path: str) -> list[str]:
    """The container paths enclosing ``path``, outermost first."""
    parts = path.split(NEST)
    return [NEST.join(parts[: i + 1]) for i in range(len(parts) - 1)]


def _translate(path: str, to_new: dict[str, str]) -> str:
    """An old container path in the new namespace, through its innermost renamed ancestor (or itself)."""
    for anc in reversed([*_chain(path), path]):
        if anc in to_new:
            return to_new[anc] + path[len(anc):]
    return path


def container_rows(result: DiffResult, changes: Sequence[Change] | None = None) -> list[ContainerRow]:
    """Every container holding a change, in tree order, with changes and bytes totalled below it.

    Removed entries are placed under the new name of their container (renamed containers are followed),
    so a container appears once whatever its name was. ``changes`` restricts the count to a selection
    (the listed changes of a filtered diff); by default every change counts.
    """
    to_new = dict(result.renamed_containers)
    was = {n: o for o, n in result.renamed_containers}
    agg: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in changed_only(result.changes if changes is None else changes):
        if c.new is not None:
            chain = _chain(c.new.path)
        else:
            assert c.old is not None
            chain = [_translate(p, to_new) for p in _chain(c.old.path)]
        for p in chain:
            a = agg[p]
            a[0] += 1
            a[1] += c.replaced_bytes
            a[2] += c.delta_bytes if c.delta_bytes is not None else c.replaced_bytes
    return [ContainerRow(p, p.count(NEST), agg[p][0], agg[p][1], agg[p][2], was.get(p))
            for p in sorted(agg, key=lambda p: p.split(NEST))]
