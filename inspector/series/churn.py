"""One patch's churn from the diff engine (``inspector.diff``), reduced to a picklable ``PairChurn``.

Full-image series diff two release files with ``diff_images`` (which estimates binary deltas from the
content). Incremental series diff two synthetic "installed state" inventories with
``diff_inventories``. ``state_inventory`` builds those: the base's leaf files overlaid by every patch's
leaf files, keyed by their path inside their innermost container; an executable keeps its section table
(``meta.binary``), so code churn is measured there too (sizes and digests only: no content, no delta).

Every ``ChurnTotals`` field (code and data churn included) is carried into ``PairChurn`` by name, so a
field the diff engine adds reaches the series report without a change here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from inspector.binaries.model import META_KEY
from inspector.diff import DiffResult, diff_images, diff_inventories
from inspector.diff.model import ChurnTotals
from inspector.limits import Limits
from inspector.model import NEST, Entry, EntryKind, Inventory, frozen_meta
from inspector.series.model import ComponentChurn, Leaf, PairChurn
from inspector.store import StoreConfig

#: How many components a patch row keeps (largest replaced first).
TOP_COMPONENTS = 5
#: Root name of synthetic installed-state inventories.
STATE_ROOT = "installed"


def churn_between_images(old: Path, new: Path, limits: Limits | None = None,
                         store: StoreConfig | None = None) -> PairChurn:
    """Churn of going from release file ``old`` to release file ``new`` (walks both, estimates deltas)."""
    return reduce_result(diff_images(old, new, limits=limits, store=store))


def churn_between_inventories(old: Inventory, new: Inventory) -> PairChurn:
    """Churn between two inventories already in memory (no content, so deltas are upper bounds)."""
    return reduce_result(diff_inventories(old, new))


def reduce_result(result: DiffResult) -> PairChurn:
    """A ``DiffResult`` as a ``PairChurn``: the totals the report shows and the top components."""
    t = result.totals
    comps = sorted(result.components, key=lambda c: (-c[1].replaced_bytes, c[0]))
    return PairChurn(
        **{f.name: getattr(t, f.name) for f in dataclasses.fields(ChurnTotals)},
        components=tuple(
            ComponentChurn(name, c.replaced_bytes, c.delta_bytes, c.growth_bytes)
            for name, c in comps[:TOP_COMPONENTS] if c.replaced_bytes or c.growth_bytes
        ),
        complete=bool(result.complete),
        problems=tuple(f"{p.kind}: {p.line()}" for p in result.problems),
    )


def overlay(state: Mapping[str, Leaf], patch: tuple[Leaf, ...]) -> dict[str, Leaf]:
    """The installed state after applying ``patch``: its files replace or add files by in-container path."""
    out = dict(state)
    for leaf in patch:
        out[leaf.name] = leaf
    return out


def _binary_meta(leaf: Leaf) -> dict[str, object]:
    """The meta an installed file carries: its executable sections, so the diff can weigh code churn."""
    return {META_KEY: dict(leaf.binary)} if leaf.binary is not None else {}


def state_inventory(state: Mapping[str, Leaf]) -> Inventory:
    """A synthetic inventory of an installed state (root ``installed``, one leaf per installed file)."""
    root = Entry(path=STATE_ROOT, kind=EntryKind.FILE, size=None, depth=0, container="installed", opened=True)
    entries = [root]
    dirs: set[str] = set()
    for name in sorted(state):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append(Entry(path=f"{STATE_ROOT}{NEST}{d}", kind=EntryKind.DIR, size=None, depth=1))
        leaf = state[name]
        entries.append(Entry(path=f"{STATE_ROOT}{NEST}{name}", kind=EntryKind.FILE, size=leaf.size, depth=1,
                             sha256=leaf.sha256, meta=frozen_meta(_binary_meta(leaf))))
    return Inventory(source=STATE_ROOT, entries=tuple(entries))
