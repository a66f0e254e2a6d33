"""The diff engine: pair two inventories, classify every pair, add delta estimates, total the churn.

``diff_inventories`` is a pure function over two inventories (plus, optionally, delta estimates made
from content); ``diff_images`` loads both sides through ``inspector.sources`` (so saved or stored
inventories are not re-read), pairs them, and only if files were modified or added walks each image once
more to capture exactly those files for the delta estimates.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from inspector.binaries.model import META_KEY as _BINARY
from inspector.binaries.model import (
    code_bytes_of,
    code_sha256_of,
    data_bytes_of,
    data_sha256_of,
    writable_code_bytes_of,
)
from inspector.diff.delta import ContentPair, KeptContent, collect_contents
from inspector.diff.model import (
    Change,
    ChangeList,
    ChangeStatus,
    ChurnTotals,
    CodeChange,
    DiffOptions,
    DiffResult,
    relative,
)
from inspector.diff.pairing import Pairing, pair_inventories
from inspector.diff.twins import entries_at
from inspector.limits import Limits, WalkError
from inspector.model import NEST, Entry, EntryKind, Inventory, Problem
from inspector.sources import ManyProgressFn, is_inventory_file, load_many
from inspector.store import StoreConfig

_CONTENT = (ChangeStatus.MODIFIED, ChangeStatus.RENAMED_MODIFIED)
#: Statuses of the leaf files that get a delta estimate (or a note saying why not).
_ESTIMATED = (*_CONTENT, ChangeStatus.ADDED)
_NO_META: Mapping[str, Any] = MappingProxyType({})


class DiffInputError(WalkError):
    """One side could not be opened at all; the message names the side."""


@dataclass(frozen=True)
class Side:
    """One loaded side: its inventory, whether its image is available for content, and the leaf contents
    kept while it was walked (``load_sides(keep=...)``; ``estimate`` reads and then drops them)."""

    inventory: Inventory
    image: Path | None
    kept: KeptContent | None = None


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


def _changes(pairing: Pairing, contents: ContentPair | None
             ) -> tuple[list[Change], list[str], dict[str, _Tally]]:
    """The changes of every pair (unchanged directories and links left out), for each its sort key (the
    path relative to the image), and the churn counters of each component.

    A content change of a leaf file is ``modified`` (``renamed_modified`` when its path changed other
    than through a renamed container), else a path change is ``renamed``, else differing metadata is
    ``metadata``, else ``unchanged``.
    """
    out: list[Change] = []
    keys: list[str] = []
    tallies: dict[str, _Tally] = {}
    unchanged, added, removed = ChangeStatus.UNCHANGED, ChangeStatus.ADDED, ChangeStatus.REMOVED
    binary = _BINARY  # a local: read once per leaf file
    for old, new, renamed, component in pairing.pairs:  # one iteration per entry: _status inlined
        entry = new if new is not None else old
        assert entry is not None
        leaf = entry.is_leaf_file
        meta: tuple[str, ...] = ()
        if old is None:
            status = added
        elif new is None:
            status = removed
        else:
            if old.mode != new.mode or old.mtime != new.mtime or old.link_target != new.link_target:
                meta = meta_changes(old, new)  # equal fields cannot differ: most pairs skip the call
            if leaf and old.sha256 != new.sha256 and old.is_leaf_file:  # the cheap test first
                status = ChangeStatus.RENAMED_MODIFIED if renamed else ChangeStatus.MODIFIED
            elif renamed:
                status = ChangeStatus.RENAMED
            elif meta:
                status = ChangeStatus.METADATA
            else:
                if not leaf:
                    continue  # directories and links only when something about them changed
                status = unchanged
        delta: int | None = None
        note: str | None = None
        code: CodeChange | None = None
        if leaf and status in _ESTIMATED:
            if contents is None:
                note = "not estimated"
            else:
                nrel = relative(entry.path)
                if status is added:
                    delta = contents.compressed.get(nrel)
                else:
                    assert old is not None
                    delta = contents.deltas.get((relative(old.path), nrel))
                if delta is None:
                    note = contents.notes.get(nrel, "not estimated")
        if leaf and ((new is not None and binary in new.meta) or (old is not None and binary in old.meta)):
            code = code_change(status, old, new, contents)  # executables only: a key test for every other file
        out.append(Change(status, old, new, delta, component, meta, note, code))
        keys.append(entry.path.partition(NEST)[2])  # == relative(entry.path), without a call
        tally = tallies.get(component)
        if tally is None:
            tally = tallies[component] = _Tally()
        if leaf:  # what _Tally.add does, from what is at hand
            tally.add_file(status, (old.size or 0) if old is not None else 0,
                           (new.size or 0) if new is not None else 0, delta)
            if code is not None:
                tally.add_code(status, code)
        else:
            tally.other += 1  # a directory or link that changed (unchanged ones were left out above)
    return out, keys, tallies


def code_change(status: ChangeStatus, old: Entry | None, new: Entry | None,
                contents: ContentPair | None) -> CodeChange:
    """The code and data churn of a leaf executable (either side recorded ``meta["binary"]``).

    Only a content change can change code: a renamed, metadata-only or unchanged file has the same bytes,
    so its code and data count as unchanged whatever each side recorded. A content change compares the
    code (data) digests; when they are equal the delta is 0 without any estimate, else it is the estimate
    over the code (data) sections made from content, or None without one. An added executable's delta is
    its code (data) size, a removed one's 0 (nothing to ship).
    """
    om = old.meta if old is not None else _NO_META
    nm = new.meta if new is not None else _NO_META
    code_old, code_new = code_bytes_of(om) or 0, code_bytes_of(nm) or 0
    data_old, data_new = data_bytes_of(om) or 0, data_bytes_of(nm) or 0
    mixed = bool(writable_code_bytes_of(om) or writable_code_bytes_of(nm))
    if status not in _ESTIMATED and status is not ChangeStatus.REMOVED:
        return CodeChange(code_old, code_new, data_old, data_new, 0, 0, False, False, mixed)
    code_changed = code_sha256_of(om) != code_sha256_of(nm)
    data_changed = data_sha256_of(om) != data_sha256_of(nm)
    if status is ChangeStatus.ADDED:
        return CodeChange(code_old, code_new, data_old, data_new, code_new, data_new, code_changed, data_changed,
                          mixed)
    if status is ChangeStatus.REMOVED:
        return CodeChange(code_old, code_new, data_old, data_new, 0, 0, code_changed, data_changed, mixed)
    assert old is not None and new is not None
    pair = (relative(old.path), relative(new.path))
    code_delta = 0 if not code_changed else contents.code_deltas.get(pair) if contents is not None else None
    data_delta = 0 if not data_changed else contents.data_deltas.get(pair) if contents is not None else None
    return CodeChange(code_old, code_new, data_old, data_new, code_delta, data_delta, code_changed, data_changed,
                      mixed)


class _Tally:
    """Running counters for ``ChurnTotals`` (one pass over the changes for the totals and components)."""

    __slots__ = ("added", "removed", "modified", "renamed", "unchanged", "metadata", "other", "b_added",
                 "b_removed", "b_mod_old", "b_mod_new", "delta", "skipped", "old_unpacked", "new_unpacked",
                 "code_old", "code_new", "code_churned", "code_skipped", "bin_changed", "bin_unchanged",
                 "data_old", "data_new", "data_churned", "code_churned_writable")

    def __init__(self) -> None:
        self.added = self.removed = self.modified = self.renamed = self.unchanged = self.metadata = 0
        self.other = self.b_added = self.b_removed = self.b_mod_old = self.b_mod_new = self.delta = 0
        self.skipped = self.old_unpacked = self.new_unpacked = 0
        self.code_old = self.code_new = self.code_churned = self.code_skipped = 0
        self.bin_changed = self.bin_unchanged = self.data_old = self.data_new = self.data_churned = 0
        self.code_churned_writable = 0

    def merge(self, other: _Tally) -> None:
        """Add ``other``'s counters to these."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add(self, c: Change) -> None:
        """Count one change."""
        o, w = c.old, c.new
        e = w if w is not None else o
        if e is None or not e.is_leaf_file:
            if c.status is not ChangeStatus.UNCHANGED:
                self.other += 1
            return
        self.add_file(c.status, (o.size or 0) if o is not None else 0, (w.size or 0) if w is not None else 0,
                      c.delta_bytes)
        if c.code is not None:
            self.add_code(c.status, c.code)

    def add_file(self, s: ChangeStatus, old_size: int, new_size: int, delta_bytes: int | None) -> None:
        """Count a change of a leaf file (a size is 0 on the side the file is missing from)."""
        self.old_unpacked += old_size
        self.new_unpacked += new_size
        if s is ChangeStatus.UNCHANGED:
            self.unchanged += 1
        elif s is ChangeStatus.ADDED:
            self.added += 1
            self.b_added += new_size
            self.delta += delta_bytes if delta_bytes is not None else new_size
        elif s is ChangeStatus.REMOVED:
            self.removed += 1
            self.b_removed += old_size
        elif s in _CONTENT:
            self.modified += 1
            self.b_mod_old += old_size
            self.b_mod_new += new_size
            if delta_bytes is None:
                self.skipped += 1
                self.delta += new_size
            else:
                self.delta += delta_bytes
        elif s is ChangeStatus.RENAMED:
            self.renamed += 1
        else:
            self.metadata += 1

    def add_code(self, s: ChangeStatus, cc: CodeChange) -> None:
        """Count the code and data of a leaf executable (see ``ChurnTotals`` for what each figure means)."""
        self.code_old += cc.code_old
        self.code_new += cc.code_new
        self.data_old += cc.data_old
        self.data_new += cc.data_new
        churned = 0
        if s is ChangeStatus.ADDED:
            churned = cc.code_new
            self.data_churned += cc.data_new
        elif s in _CONTENT:
            if cc.code_changed:
                self.bin_changed += 1
                if cc.code_delta is None:
                    self.code_skipped += 1
                    churned = cc.code_new
                else:
                    churned = cc.code_delta
            else:
                self.bin_unchanged += 1
            if cc.data_changed:
                self.data_churned += cc.data_new if cc.data_delta is None else cc.data_delta
        self.code_churned += churned
        if cc.writable_code:
            self.code_churned_writable += churned

    def totals(self, old_unpacked: int | None = None, new_unpacked: int | None = None, old_download: int = 0,
               new_download: int = 0) -> ChurnTotals:
        old_u = self.old_unpacked if old_unpacked is None else old_unpacked
        new_u = self.new_unpacked if new_unpacked is None else new_unpacked
        replaced = self.b_added + self.b_mod_new
        return ChurnTotals(
            files_added=self.added, files_removed=self.removed, files_modified=self.modified,
            files_renamed=self.renamed, files_unchanged=self.unchanged, files_metadata_only=self.metadata,
            bytes_added=self.b_added, bytes_removed=self.b_removed, bytes_modified_old=self.b_mod_old,
            bytes_modified_new=self.b_mod_new, replaced_bytes=replaced, delta_bytes=self.delta,
            delta_skipped=self.skipped, old_unpacked=old_u, new_unpacked=new_u, growth_bytes=new_u - old_u,
            churn_ratio=(replaced / old_u) if old_u else 0.0,
            old_download=old_download, new_download=new_download, other_changes=self.other,
            code_old=self.code_old, code_new=self.code_new, code_growth=self.code_new - self.code_old,
            code_churned=self.code_churned,
            code_churn_ratio=(self.code_churned / self.code_old) if self.code_old else 0.0,
            code_delta_skipped=self.code_skipped, binaries_code_changed=self.bin_changed,
            binaries_code_unchanged=self.bin_unchanged, data_old=self.data_old, data_new=self.data_new,
            data_churned=self.data_churned, code_churned_writable=self.code_churned_writable,
        )


def churn(changes: Iterable[Change], old_unpacked: int | None = None, new_unpacked: int | None = None,
          old_download: int = 0, new_download: int = 0) -> ChurnTotals:
    """Churn figures over ``changes`` (see ``ChurnTotals``); footprints default to the leaf sizes seen."""
    tally = _Tally()
    for c in changes:
        tally.add(c)
    return tally.totals(old_unpacked, new_unpacked, old_download, new_download)


def _count_twins(pairing: Pairing, tallies: dict[str, _Tally]) -> None:
    """Count the unchanged files set aside before pairing, group by group, in their components."""
    assert pairing.twins is not None
    for g, component in zip(pairing.twins.groups, pairing.twin_components, strict=True):
        tally = tallies.get(component)
        if tally is None:
            tally = tallies[component] = _Tally()
        tally.unchanged += g.count
        tally.old_unpacked += g.old_bytes
        tally.new_unpacked += g.new_bytes


def _with_twins(listed: tuple[Change, ...], old: Inventory, new: Inventory, pairing: Pairing
                ) -> tuple[Change, ...]:
    """Every change in path order: ``listed`` and a ``Change`` for each twin, its entries read back from
    both inventories (what ``_changes`` makes of an unchanged leaf file paired by path). No twin shares
    its relative path with another change, so the order is the one sorting all of them would give."""
    twins = pairing.twins
    assert twins is not None
    olds, news = entries_at(old.entries, twins.old_index), entries_at(new.entries, twins.new_index)
    names = pairing.twin_components
    unchanged = ChangeStatus.UNCHANGED
    every = [*listed, *(Change(unchanged, o, n, None, names[g], (), None, None)
                        for o, n, g in zip(olds, news, twins.group, strict=True))]
    del olds, news
    keys = [(c.new if c.new is not None else c.old).path.partition(NEST)[2] for c in every]  # type: ignore[union-attr]
    return tuple([every[i] for i in sorted(range(len(keys)), key=keys.__getitem__)])


def _totals_and_components(per: dict[str, _Tally], old: Inventory, new: Inventory, unpacked: tuple[int, int]
                           ) -> tuple[ChurnTotals, tuple[tuple[str, ChurnTotals], ...]]:
    total = _Tally()
    for tally in per.values():  # each change was counted once, in its component: the total is their sum
        total.merge(tally)
    t = total.totals(unpacked[0], unpacked[1], old.root.size or 0, new.root.size or 0)
    comps = [(name, tally.totals()) for name, tally in per.items()]
    comps.sort(key=lambda item: (-item[1].replaced_bytes, -item[1].files_changed, item[0]))
    return t, tuple(comps)


def _side_problems(inv: Inventory, side: str) -> list[Problem]:
    """The problems of one side, tagged with the side (``Problem.side``) rather than a prefixed path."""
    return [dataclasses.replace(p, side=side) for p in inv.problems]


def diff_inventories(old: Inventory, new: Inventory, options: DiffOptions | None = None,
                     contents: ContentPair | None = None, *, pairing: Pairing | None = None,
                     delta_note: str | None = None) -> DiffResult:
    """Diff two inventories. Without ``contents`` no delta is estimated (``delta_bytes`` is None and
    the totals use the replaced size as the upper bound)."""
    options = options or DiffOptions()
    enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects, none of them garbage: GC passes would dominate
    try:
        pairing = pairing or pair_inventories(old, new)
        unsorted, keys, tallies = _changes(pairing, contents)
        if pairing.twins is not None:
            _count_twins(pairing, tallies)
        total, components = _totals_and_components(tallies, old, new, pairing.unpacked)
        # by relative path (a stable sort, on keys computed once and read through a C-level callable)
        listed = tuple([unsorted[i] for i in sorted(range(len(keys)), key=keys.__getitem__)])
        del unsorted, keys
        if contents is None and delta_note is None and any(c.delta_note for c in listed):
            delta_note = "deltas not estimated (no content given)"
        changes: Sequence[Change] = listed
        if pairing.twins:
            changes = ChangeList(listed, len(listed) + len(pairing.twins),
                                 partial(_with_twins, listed, old, new, pairing))
        return DiffResult(
            old_source=old.source,
            new_source=new.source,
            totals=total,
            changes=changes,
            components=components,
            complete=old.complete and new.complete and not pairing.not_compared,
            problems=tuple(_side_problems(old, "old") + _side_problems(new, "new")),
            not_compared=pairing.not_compared,
            renamed_containers=pairing.renamed_containers,
            options=options,
            delta_note=delta_note,
        )
    finally:
        if enabled:
            gc.enable()


def load_sides(old: Path, new: Path, limits: Limits | None = None, store: StoreConfig | None = None,
               progress: ManyProgressFn | None = None, jobs: int = 2, keep: int = 0) -> tuple[Side, Side]:
    """Load both sides through ``inspector.sources`` (inventory files and stored images are read, the
    rest walked, two at once). Raises ``DiffInputError`` naming the side that could not be opened.

    With ``keep`` (bytes), a small pair walked here keeps each leaf file's content up to that size
    (``Side.kept``), so the delta estimates need not walk the images again.
    """
    if jobs > 1 and _small_pair(old, new):
        kept = (KeptContent(keep), KeptContent(keep)) if keep > 0 else (None, None)
        try:
            o, n = _load_small_pair(old, new, limits, store, progress, kept)
        except BaseException:
            for k in kept:
                if k is not None:
                    k.close()
            raise
        return (Side(o, None if is_inventory_file(old) else old, kept[0]),
                Side(n, None if is_inventory_file(new) else new, kept[1]))
    try:
        o, n = load_many([old, new], limits, jobs=jobs, store=store, progress=progress)
    except WalkError as exc:
        side = "old" if exc.source_index == 0 else "new"  # set by load_many: which argument failed
        raise DiffInputError(f"{side} side: {exc}") from None
    return Side(o, None if is_inventory_file(old) else old), Side(n, None if is_inventory_file(new) else new)


#: Below this size together, two images are walked one after the other in this process.
SMALL_PAIR_BYTES = 32 * 1024 * 1024


def _small_pair(old: Path, new: Path) -> bool:
    """Whether both sides are regular files of ``SMALL_PAIR_BYTES`` or less together."""
    try:
        return old.is_file() and new.is_file() and old.stat().st_size + new.stat().st_size <= SMALL_PAIR_BYTES
    except OSError:
        return False


def _load_small_pair(old: Path, new: Path, limits: Limits | None, store: StoreConfig | None,
                     progress: ManyProgressFn | None,
                     kept: tuple[KeptContent | None, KeptContent | None] = (None, None)
                     ) -> tuple[Inventory, Inventory]:
    """Both sides loaded at once in two threads of this process: for small images, starting two worker
    processes costs more than the walks (which spend their time in C: decompression, hashing)."""

    def one(index: int, path: Path) -> Inventory:
        report = (lambda _i, done, total: progress(index, done, total)) if progress is not None else None
        return load_many([path], limits, jobs=1, store=store, progress=report, captures=[kept[index]])[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(one, i, p) for i, p in enumerate((old, new))]
        results: list[Inventory] = []
        for side, fut in zip(("old", "new"), futures, strict=True):
            try:
                results.append(fut.result())
            except WalkError as exc:
                raise DiffInputError(f"{side} side: {exc}") from None
    return results[0], results[1]


def estimate(old: Side, new: Side, pairing: Pairing, options: DiffOptions,
             limits: Limits | None = None, store: StoreConfig | None = None) -> tuple[ContentPair | None, str | None]:
    """Delta estimates for the modified and added files (None and a reason when there are none). The
    sides' kept contents are read here, then dropped."""
    try:
        if not options.delta:
            return None, "deltas not estimated (--no-delta)"
        modified, added = delta_candidates(pairing)
        if not modified and not added:
            return None, None
        if new.image is None:
            return None, "deltas not estimated: the new side is a saved inventory (no content)"
        contents = collect_contents(old.image, new.image, modified, added, method=options.delta_method,
                                    max_bytes=options.delta_max_bytes, level=options.delta_level, limits=limits,
                                    store=store, kept=(old.kept, new.kept))
        return contents, None
    finally:
        for side in (old, new):
            if side.kept is not None:
                side.kept.close()


def diff_images(old: Path, new: Path, options: DiffOptions | None = None,
                limits: Limits | None = None, store: StoreConfig | None = None) -> DiffResult:
    """Diff two images (or saved inventories): load both, pair, estimate deltas, total the churn.

    ``store`` chooses the inventory store (default: ``$INSPECTOR_STORE`` or the user's cache).
    """
    options = options or DiffOptions()
    o, n = load_sides(Path(old), Path(new), limits, store=store, keep=options.delta_max_bytes if options.delta else 0)
    pairing = pair_inventories(o.inventory, n.inventory)
    contents, note = estimate(o, n, pairing, options, limits, store)
    return diff_inventories(o.inventory, n.inventory, options, contents, pairing=pairing, delta_note=note)
