"""The diff engine: pair two inventories, classify every pair, add delta estimates, total the churn.

``diff_inventories`` is a pure function over two inventories (plus, optionally, delta estimates made
from content); ``diff_images`` loads both sides through ``inspector.sources`` (so saved or stored
inventories are not re-read), pairs them, and only if files were modified or added walks each image once
more to capture exactly those files for the delta estimates.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from inspector.diff.delta import ContentPair, collect_contents
from inspector.diff.model import Change, ChangeStatus, ChurnTotals, DiffOptions, DiffResult, relative
from inspector.diff.pairing import Pairing, pair_inventories
from inspector.limits import Limits, WalkError
from inspector.model import Entry, EntryKind, Inventory, Problem
from inspector.sources import ManyProgressFn, is_inventory_file, load_many
from inspector.store import StoreConfig

_CONTENT = (ChangeStatus.MODIFIED, ChangeStatus.RENAMED_MODIFIED)


class DiffInputError(WalkError):
    """One side could not be opened at all; the message names the side."""


@dataclass(frozen=True)
class Side:
    """One loaded side: its inventory and whether its image is available for content."""

    inventory: Inventory
    image: Path | None


def meta_changes(old: Entry, new: Entry) -> tuple[str, ...]:
    """Names of the metadata fields that differ (mode, mtime to the second, link target)."""
    out = []
    if old.mode is not None and new.mode is not None and (old.mode & 0o7777) != (new.mode & 0o7777):
        out.append("mode")
    if old.mtime is not None and new.mtime is not None and int(old.mtime) != int(new.mtime):
        out.append("mtime")
    if old.link_target != new.link_target and old.kind in (EntryKind.SYMLINK, EntryKind.HARDLINK):
        out.append("link_target")
    return tuple(out)


def _status(old: Entry | None, new: Entry | None, renamed: bool) -> tuple[ChangeStatus, tuple[str, ...]]:
    if old is None:
        return ChangeStatus.ADDED, ()
    if new is None:
        return ChangeStatus.REMOVED, ()
    meta = meta_changes(old, new)
    if old.is_leaf_file and new.is_leaf_file and old.sha256 != new.sha256:
        return (ChangeStatus.RENAMED_MODIFIED if renamed else ChangeStatus.MODIFIED), meta
    if renamed:
        return ChangeStatus.RENAMED, meta
    return (ChangeStatus.METADATA if meta else ChangeStatus.UNCHANGED), meta


def delta_candidates(pairing: Pairing) -> tuple[list[tuple[Entry, Entry]], list[Entry]]:
    """Leaf files whose content changed (old, new) and leaf files added: those that need content."""
    modified, added = [], []
    for p in pairing.pairs:
        if p.new is None or not p.new.is_leaf_file:
            continue
        if p.old is None:
            added.append(p.new)
        elif p.old.is_leaf_file and p.old.sha256 != p.new.sha256:
            modified.append((p.old, p.new))
    return modified, added


def _changes(pairing: Pairing, contents: ContentPair | None) -> list[Change]:
    out = []
    for p in pairing.pairs:
        status, meta = _status(p.old, p.new, p.renamed)
        entry = p.new if p.new is not None else p.old
        assert entry is not None
        if not entry.is_leaf_file and status is ChangeStatus.UNCHANGED:
            continue  # directories and links only when something about them changed
        delta: int | None = None
        note: str | None = None
        if entry.is_leaf_file and status in (*_CONTENT, ChangeStatus.ADDED):
            if contents is None:
                note = "not estimated"
            else:
                nrel = relative(entry.path)
                if status is ChangeStatus.ADDED:
                    delta = contents.compressed.get(nrel)
                else:
                    assert p.old is not None
                    delta = contents.deltas.get((relative(p.old.path), nrel))
                if delta is None:
                    note = contents.notes.get(nrel, "not estimated")
        out.append(Change(status, p.old, p.new, delta, p.component, meta, note))
    return out


class _Tally:
    """Running counters for ``ChurnTotals`` (one pass over the changes for the totals and components)."""

    __slots__ = ("n", "old_unpacked", "new_unpacked")

    def __init__(self) -> None:
        self.n: dict[str, int] = defaultdict(int)
        self.old_unpacked = 0
        self.new_unpacked = 0

    def add(self, c: Change) -> None:
        n = self.n
        o, w = c.old, c.new
        e = w if w is not None else o
        if e is None or e.kind is not EntryKind.FILE or (e.container and e.opened):
            if c.status is not ChangeStatus.UNCHANGED:
                n["other"] += 1
            return
        old_size = (o.size or 0) if o is not None else 0
        new_size = (w.size or 0) if w is not None else 0
        self.old_unpacked += old_size
        self.new_unpacked += new_size
        s = c.status
        if s is ChangeStatus.UNCHANGED:
            n["unchanged"] += 1
        elif s is ChangeStatus.ADDED:
            n["added"] += 1
            n["b_added"] += new_size
            n["delta"] += c.delta_bytes if c.delta_bytes is not None else new_size
        elif s is ChangeStatus.REMOVED:
            n["removed"] += 1
            n["b_removed"] += old_size
        elif s in _CONTENT:
            n["modified"] += 1
            n["b_mod_old"] += old_size
            n["b_mod_new"] += new_size
            if c.delta_bytes is None:
                n["skipped"] += 1
                n["delta"] += new_size
            else:
                n["delta"] += c.delta_bytes
        elif s is ChangeStatus.RENAMED:
            n["renamed"] += 1
        else:
            n["metadata"] += 1

    def totals(self, old_unpacked: int | None = None, new_unpacked: int | None = None, old_download: int = 0,
               new_download: int = 0) -> ChurnTotals:
        n = self.n
        old_u = self.old_unpacked if old_unpacked is None else old_unpacked
        new_u = self.new_unpacked if new_unpacked is None else new_unpacked
        replaced = n["b_added"] + n["b_mod_new"]
        return ChurnTotals(
            files_added=n["added"], files_removed=n["removed"], files_modified=n["modified"],
            files_renamed=n["renamed"], files_unchanged=n["unchanged"], files_metadata_only=n["metadata"],
            bytes_added=n["b_added"], bytes_removed=n["b_removed"], bytes_modified_old=n["b_mod_old"],
            bytes_modified_new=n["b_mod_new"], replaced_bytes=replaced, delta_bytes=n["delta"],
            delta_skipped=n["skipped"], old_unpacked=old_u, new_unpacked=new_u, growth_bytes=new_u - old_u,
            churn_ratio=(replaced / old_u) if old_u else 0.0,
            old_download=old_download, new_download=new_download, other_changes=n["other"],
        )


def churn(changes: Iterable[Change], old_unpacked: int | None = None, new_unpacked: int | None = None,
          old_download: int = 0, new_download: int = 0) -> ChurnTotals:
    """Churn figures over ``changes`` (see ``ChurnTotals``); footprints default to the leaf sizes seen."""
    tally = _Tally()
    for c in changes:
        tally.add(c)
    return tally.totals(old_unpacked, new_unpacked, old_download, new_download)


def _totals_and_components(changes: list[Change], old: Inventory, new: Inventory
                           ) -> tuple[ChurnTotals, tuple[tuple[str, ChurnTotals], ...]]:
    total = _Tally()
    per: dict[str, _Tally] = defaultdict(_Tally)
    for c in changes:
        total.add(c)
        per[c.component].add(c)
    t = total.totals(_unpacked(old), _unpacked(new), old.root.size or 0, new.root.size or 0)
    comps = [(name, tally.totals()) for name, tally in per.items()]
    comps.sort(key=lambda item: (-item[1].replaced_bytes, -item[1].files_changed, item[0]))
    return t, tuple(comps)


def _unpacked(inv: Inventory) -> int:
    file = EntryKind.FILE
    return sum(e.size or 0 for e in inv.entries if e.kind is file and not (e.container and e.opened))


def _side_problems(inv: Inventory, side: str) -> list[Problem]:
    return [Problem(f"{side}: {p.path}", p.reason, p.kind) for p in inv.problems]


def diff_inventories(old: Inventory, new: Inventory, options: DiffOptions | None = None,
                     contents: ContentPair | None = None, *, pairing: Pairing | None = None,
                     delta_note: str | None = None) -> DiffResult:
    """Diff two inventories. Without ``contents`` no delta is estimated (``delta_bytes`` is None and
    the totals use the replaced size as the upper bound)."""
    options = options or DiffOptions()
    pairing = pairing or pair_inventories(old, new)
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small frozen objects: cyclic GC passes would dominate
    try:
        changes = _changes(pairing, contents)
        changes.sort(key=lambda c: relative(c.path))
        total, components = _totals_and_components(changes, old, new)
    finally:
        if enabled:
            gc.enable()
    if contents is None and delta_note is None and any(c.delta_note for c in changes):
        delta_note = "deltas not estimated (no content given)"
    return DiffResult(
        old_source=old.source,
        new_source=new.source,
        totals=total,
        changes=tuple(changes),
        components=components,
        complete=old.complete and new.complete and not pairing.not_compared,
        problems=tuple(_side_problems(old, "old") + _side_problems(new, "new")),
        not_compared=pairing.not_compared,
        renamed_containers=pairing.renamed_containers,
        options=options,
        delta_note=delta_note,
    )


def load_sides(old: Path, new: Path, limits: Limits | None = None, store: StoreConfig | None = None,
               progress: ManyProgressFn | None = None, jobs: int = 2) -> tuple[Side, Side]:
    """Load both sides through ``inspector.sources`` (inventory files and stored images are read, the
    rest walked, two at once). Raises ``DiffInputError`` naming the side that could not be opened."""
    try:
        o, n = load_many([old, new], limits, jobs=jobs, store=store, progress=progress)
    except WalkError as exc:
        side = "old" if str(old) in str(exc) and str(new) not in str(exc) else "new"
        if str(old) in str(exc) and str(new) in str(exc):
            side = "old"
        raise DiffInputError(f"{side} side: {exc}") from None
    return Side(o, None if is_inventory_file(old) else old), Side(n, None if is_inventory_file(new) else new)


def estimate(old: Side, new: Side, pairing: Pairing, options: DiffOptions,
             limits: Limits | None = None) -> tuple[ContentPair | None, str | None]:
    """Delta estimates for the modified and added files (None and a reason when there are none)."""
    if not options.delta:
        return None, "deltas not estimated (--no-delta)"
    modified, added = delta_candidates(pairing)
    if not modified and not added:
        return None, None
    if new.image is None:
        return None, "deltas not estimated: the new side is a saved inventory (no content)"
    contents = collect_contents(old.image, new.image, modified, added, method=options.delta_method,
                                max_bytes=options.delta_max_bytes, level=options.delta_level, limits=limits)
    return contents, None


def diff_images(old: Path, new: Path, options: DiffOptions | None = None,
                limits: Limits | None = None) -> DiffResult:
    """Diff two images (or saved inventories): load both, pair, estimate deltas, total the churn."""
    options = options or DiffOptions()
    o, n = load_sides(Path(old), Path(new), limits)
    pairing = pair_inventories(o.inventory, n.inventory)
    contents, note = estimate(o, n, pairing, options, limits)
    return diff_inventories(o.inventory, n.inventory, options, contents, pairing=pairing, delta_note=note)
