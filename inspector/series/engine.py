"""A series measured: per-patch rows, totals inside a date window, and sharp churn between close releases.

Two models (``SeriesSpec.model``):

* ``full``: every release is a complete image. A patch's churn is the diff of its image against the
  previous release's image (the first one against the manifest's ``base``, if any). The footprint after
  the patch is the image's unpacked footprint.
* ``incremental``: every release is a patch applied on top of ``base``. The installed state starts as
  the base's files; each patch's files replace or add files by their path inside their container. A
  patch's churn is the diff between the installed states before and after it, and the footprint after
  the patch is the installed state's size (base plus the net growth of every patch so far).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from inspector.limits import Limits
from inspector.series.churn import churn_between_inventories, overlay, state_inventory
from inspector.series.grouping import describe, group_by_product
from inspector.series.model import (
    FULL,
    CategoryChurn,
    Highlight,
    Leaf,
    OrderInfo,
    PairChurn,
    PatchRow,
    ReleaseFacts,
    ReleaseSpec,
    SeriesReport,
    SeriesSpec,
    SeriesTotals,
    TreeNode,
)
from inspector.series.order import order_releases
from inspector.series.walk import diff_pairs, walk_releases
from inspector.store import StoreConfig

#: A patch replacing at least this share of the previous footprint "replaced the whole image".
WHOLE_IMAGE_SHARE = 0.5
#: Releases at most this many days apart are "close".
CLOSE_DAYS = 7
#: A close patch is highlighted when it grows the footprint by this share of the previous footprint...
SHARP_GROWTH_SHARE = 0.05
#: ...or its delta is this many times the previous patch's delta and this share of the footprint.
SHARP_DELTA_FACTOR = 4.0
SHARP_DELTA_SHARE = 0.05


class SeriesError(Exception):
    """The series cannot be measured as asked; the message is one line for the user."""


@dataclass(frozen=True)
class SeriesOptions:
    """How to measure: date window, parallelism, walk limits, footprint profile."""

    since: dt.date | None = None
    until: dt.date | None = None
    jobs: int = 1
    limits: Limits | None = None
    profile: str | None = None
    close_days: int = CLOSE_DAYS
    store: StoreConfig | None = None  # inventory store (None: $INSPECTOR_STORE or the user's cache)
    #: Called after each release walked and each pair diffed (a progress bar's step); not part of the result.
    step_done: Callable[[], None] | None = None


def _walk(files: Sequence[Path], opts: SeriesOptions) -> dict[str, ReleaseFacts]:
    """Facts of every file keyed by ``str(path)``; ``SeriesError`` for a missing file."""
    for path in files:
        if not path.is_file():
            raise SeriesError(f"{path}: no such file")
    paths = list(dict.fromkeys(files))
    facts_list = walk_releases(paths, opts.jobs, opts.limits, opts.profile, opts.store, opts.step_done)
    return {str(p): f for p, f in zip(paths, facts_list, strict=True)}


def measure_series(spec: SeriesSpec, options: SeriesOptions | None = None) -> SeriesReport:
    """Walk, order and diff the releases of ``spec`` and build its report (rows inside the window only).

    Raises ``SeriesError`` for unusable input (a missing file, a window but undated releases) and
    ``ReleaseError`` (from ``walk``) when a release cannot be opened at all.
    """
    opts = options or SeriesOptions()
    if not spec.releases:
        raise SeriesError(f"{spec.name}: no releases")
    facts = _walk([r.file for r in spec.releases] + ([spec.base] if spec.base else []), opts)
    return _measure(spec, facts, opts)


def measure_releases(releases: Sequence[ReleaseSpec], options: SeriesOptions | None = None,
                     name: str = "series", split: bool = True) -> list[SeriesReport]:
    """Series of release files given without a manifest: one per product found in their metadata.

    Each series is named after its product (package, VIB, ISO volume id, KB family) and files whose
    metadata names none form one more series called ``name``. With ``split=False`` (one side of a
    comparison) files of several products are refused: ``SeriesError`` lists the products found.
    Every file is walked once, whatever the number of series.
    """
    opts = options or SeriesOptions()
    if not releases:
        raise SeriesError(f"{name}: no releases")
    facts = _walk([r.file for r in releases], opts)
    groups = group_by_product(releases, facts, name)
    if len(groups) > 1 and not split:
        raise SeriesError(f"{name}: the releases are versions of {len(groups)} products: {describe(groups)}; "
                          "give the files of one product (or name them in a manifest)")
    return [_measure(SeriesSpec(name=g.name, releases=g.releases), facts, opts,
                     g.product.kind if g.product else None) for g in groups]


def _measure(spec: SeriesSpec, facts: dict[str, ReleaseFacts], opts: SeriesOptions,
             product_kind: str | None = None) -> SeriesReport:
    """The report of ``spec`` from facts already walked (keyed by ``str(path)``)."""
    base_facts = facts[str(spec.base)] if spec.base else None
    ordered, order = order_releases(spec.releases, facts, spec.from_manifest)
    dates = [r.date or (facts[str(r.file)].dates[-1] if facts[str(r.file)].dates else None) for r in ordered]
    if opts.since or opts.until:
        undated = [r.file.name for r, d in zip(ordered, dates, strict=True) if d is None]
        if undated:
            raise SeriesError(f"{spec.name}: --since/--until need a date for every release; none for "
                              f"{', '.join(undated[:3])}{' ...' if len(undated) > 3 else ''} (give them in a manifest)")
    inside = [i for i, d in enumerate(dates) if _in_window(d, opts.since, opts.until)]
    churns, footprints = _churn(spec, ordered, facts, base_facts, inside, opts)
    rows = [dataclasses.replace(_row(spec, ordered, facts, base_facts, dates, i, churns.get(i), footprints[i]),
                                index=n)
            for n, i in enumerate(inside, start=1)]
    highlights = _highlights(rows, opts.close_days)
    tree, caption = _tree(spec, ordered, facts, base_facts, inside)
    problems = tuple(p for f in facts.values() for p in f.problems) + tuple(
        p for c in churns.values() for p in c.problems)
    notes = _notes(spec, order, rows)
    return SeriesReport(
        name=spec.name,
        product_kind=product_kind,
        model=spec.model,
        base=spec.base.name if spec.base else None,
        base_footprint=base_facts.unpacked if base_facts else None,
        order=order,
        since=opts.since,
        until=opts.until,
        rows=tuple(rows),
        totals=series_totals(rows),
        highlights=highlights,
        tree=tree,
        tree_caption=caption,
        notes=notes,
        complete=all(f.complete for f in facts.values()) and all(c.complete for c in churns.values()),
        problems=problems,
    )


def _in_window(d: dt.date | None, since: dt.date | None, until: dt.date | None) -> bool:
    if d is None:
        return True
    return not ((since and d < since) or (until and d > until))


def _churn(spec: SeriesSpec, ordered: list[ReleaseSpec], facts: dict[str, ReleaseFacts],
           base: ReleaseFacts | None, inside: list[int], opts: SeriesOptions
           ) -> tuple[dict[int, PairChurn], dict[int, int]]:
    """Churn of each patch inside the window (keyed by position) and the footprint after every patch."""
    if spec.model == FULL:
        pairs, where = [], []
        for i in inside:
            prev = ordered[i - 1].file if i > 0 else spec.base
            if prev is not None:
                pairs.append((prev, ordered[i].file))
                where.append(i)
        results = diff_pairs(pairs, opts.jobs, opts.limits, opts.store, opts.step_done)
        return dict(zip(where, results, strict=True)), {i: facts[str(r.file)].unpacked for i, r in enumerate(ordered)}
    assert base is not None
    state: dict[str, Leaf] = {leaf.name: leaf for leaf in base.leaves}
    churns: dict[int, PairChurn] = {}
    footprints: dict[int, int] = {}
    wanted = set(inside)
    for i, r in enumerate(ordered):
        new_state = overlay(state, facts[str(r.file)].leaves)
        if i in wanted:
            churn = churn_between_inventories(state_inventory(state), state_inventory(new_state))
            # Without both files' contents the diff can only count changed files whole; the patch file
            # itself already carries the change compressed, so its download size is the tighter bound.
            patch_size = facts[str(r.file)].download
            if churn.delta_bytes > patch_size:
                churn = dataclasses.replace(churn, delta_bytes=patch_size)
            churns[i] = churn
        footprints[i] = sum(leaf.size for leaf in new_state.values())
        state = new_state
    return churns, footprints


def _row(spec: SeriesSpec, ordered: list[ReleaseSpec], facts: dict[str, ReleaseFacts], base: ReleaseFacts | None,
         dates: list[dt.date | None], i: int, churn: PairChurn | None, footprint: int) -> PatchRow:
    r = ordered[i]
    f = facts[str(r.file)]
    if i > 0:
        previous: str | None = ordered[i - 1].label or ordered[i - 1].file.name
    else:
        previous = f"base {spec.base.name}" if spec.base else None
    if churn is None:
        previous = None
    if r.reboot_required is not None:
        reboot, source = r.reboot_required, "manifest"
    elif f.reboot_required is not None:
        reboot, source = f.reboot_required, "metadata"
    else:
        reboot, source = None, "unknown"
    this, prev = dates[i], dates[i - 1] if i > 0 else None
    days = (this - prev).days if this and prev else None
    whole = bool(churn and churn.old_unpacked and churn.replaced_bytes >= WHOLE_IMAGE_SHARE * churn.old_unpacked)
    return PatchRow(
        index=i + 1,
        label=r.label or r.file.name,
        file=r.file.name,
        date=dates[i],
        kind=r.kind,
        notes=r.notes,
        download=f.download,
        footprint_after=footprint,
        previous=previous,
        churn=churn,
        reboot_required=reboot,
        reboot_source=source,
        days_since_previous=days,
        whole_image_replaced=whole,
        complete=f.complete and (churn.complete if churn else True),
        categories=_categories(spec, ordered, facts, base, i),
    )


def _categories(spec: SeriesSpec, ordered: list[ReleaseSpec], facts: dict[str, ReleaseFacts],
                base: ReleaseFacts | None, i: int) -> tuple[CategoryChurn, ...]:
    """Per-category footprint and replaced bytes (only with --profile, full-image series)."""
    new = facts[str(ordered[i].file)]
    if not new.categories or spec.model != FULL:
        return ()
    prev = facts[str(ordered[i - 1].file)] if i > 0 else base
    old = {leaf.key: leaf.sha256 for leaf in prev.leaves} if prev else {}
    replaced: Counter[str] = Counter()
    for leaf in new.leaves:
        if prev is not None and old.get(leaf.key, "-") != leaf.sha256:
            replaced[leaf.category or "unclassified"] += leaf.size
    return tuple(CategoryChurn(c, b, replaced.get(c, 0)) for c, b in new.categories)


def series_totals(rows: Sequence[PatchRow]) -> SeriesTotals:
    """Totals over ``rows``: counts, sums, mean and largest patch, per-kind and reboot counts.

    Both means are over the same patches: those compared with a previous release (or the base), since
    only they have a delta. A first release with nothing before it is counted in the totals but is not
    a patch of anything, so it is in neither mean (``mean_over`` says how many patches are).
    """
    compared = [r for r in rows if r.churn is not None]
    n = len(rows)
    download = sum(r.download for r in rows)
    delta = sum(r.churn.delta_bytes for r in compared if r.churn)
    kinds = Counter(r.kind or "unspecified" for r in rows)
    reboots = Counter({True: "yes", False: "no", None: "unknown"}[r.reboot_required] for r in rows)
    totals = SeriesTotals(
        patches=n,
        download=download,
        replaced_bytes=sum(r.churn.replaced_bytes for r in compared if r.churn),
        delta_bytes=delta,
        growth_bytes=sum(r.churn.growth_bytes for r in compared if r.churn),
        files_added=sum(r.churn.files_added for r in compared if r.churn),
        files_removed=sum(r.churn.files_removed for r in compared if r.churn),
        files_modified=sum(r.churn.files_modified for r in compared if r.churn),
        mean_download=sum(r.download for r in compared) / len(compared) if compared else 0.0,
        largest_download=max(((r.label, r.download) for r in rows), key=lambda p: p[1], default=None),
        mean_delta=delta / len(compared) if compared else 0.0,
        largest_delta=max(((r.label, r.churn.delta_bytes) for r in compared if r.churn),
                          key=lambda p: p[1], default=None),
        kinds=tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
        reboots=tuple((k, reboots.get(k, 0)) for k in ("yes", "no", "unknown")),
        whole_image_replaced=sum(1 for r in rows if r.whole_image_replaced),
        not_compared=n - len(compared),
        mean_over=len(compared),
    )
    return with_code_totals(totals, rows)


def code_changed(churn: PairChurn) -> bool:
    """Whether a patch changed code: it churned code bytes or changed some executable's code sections."""
    return churn.code_churned > 0 or churn.binaries_code_changed > 0


def with_code_totals(totals: SeriesTotals, rows: Sequence[PatchRow]) -> SeriesTotals:
    """``totals`` with its code fields over the compared ``rows``: sums, the mean and the largest code
    churn, how many patches changed code, and the churn as a share of the code before the first patch."""
    churns = [(r.label, r.churn) for r in rows if r.churn is not None]
    churned = sum(c.code_churned for _, c in churns)
    before = churns[0][1].code_old if churns else 0
    return dataclasses.replace(
        totals,
        code_churned=churned,
        code_growth=sum(c.code_growth for _, c in churns),
        mean_code_churned=churned / len(churns) if churns else 0.0,
        largest_code_churn=max(((label, c.code_churned) for label, c in churns if c.code_churned > 0),
                               key=lambda p: p[1], default=None),
        patches_code_changed=sum(1 for _, c in churns if code_changed(c)),
        code_before=before,
        code_churn_ratio=churned / before if before else 0.0,
        binaries_code_changed=sum(c.binaries_code_changed for _, c in churns),
        binaries_code_unchanged=sum(c.binaries_code_unchanged for _, c in churns),
        code_churned_writable=sum(c.code_churned_writable for _, c in churns),
    )


def _highlights(rows: Sequence[PatchRow], close_days: int) -> tuple[Highlight, ...]:
    """Patches that grew or churned sharply within ``close_days`` of the previous release."""
    out = []
    prev_delta: int | None = None
    for r in rows:
        c = r.churn
        if c is None:
            prev_delta = None
            continue
        close = r.days_since_previous is not None and r.days_since_previous <= close_days
        base = max(c.old_unpacked, 1)
        grew = c.growth_bytes >= SHARP_GROWTH_SHARE * base
        jumped = (prev_delta is not None and c.delta_bytes >= SHARP_DELTA_FACTOR * max(prev_delta, 1)
                  and c.delta_bytes >= SHARP_DELTA_SHARE * base)
        if close and (grew or jumped or r.whole_image_replaced):
            out.append(Highlight(label=r.label, previous=r.previous or "", days=r.days_since_previous or 0,
                                 growth_bytes=c.growth_bytes, delta_bytes=c.delta_bytes,
                                 replaced_bytes=c.replaced_bytes, churn_ratio=c.churn_ratio,
                                 previous_delta=prev_delta, top_components=c.components[:3]))
        prev_delta = c.delta_bytes
    return tuple(out)


def _tree(spec: SeriesSpec, ordered: list[ReleaseSpec], facts: dict[str, ReleaseFacts],
          base: ReleaseFacts | None, inside: list[int]) -> tuple[tuple[TreeNode, ...], str]:
    """Treemap nodes of the latest release in the window, with a caption saying what they show."""
    if not inside:
        return (), "no release in the window"
    last = ordered[inside[-1]]
    if spec.model == FULL:
        return facts[str(last.file)].tree, f"{last.label or last.file.name}: unpacked footprint by container"
    assert base is not None and spec.base is not None
    patches = [facts[str(r.file)] for r in ordered[: inside[-1] + 1]]
    patch_total = sum(p.unpacked for p in patches)
    root = "(installed)"
    nodes = [TreeNode(root, "", f"{spec.name} after {last.label or last.file.name}",
                      base.unpacked + patch_total, "container")]
    for n in base.tree:
        nodes.append(TreeNode(n.id, n.parent or root, n.label, n.value, n.kind))
    nodes.append(TreeNode("(patches)", root, f"{len(patches)} patches", patch_total, "container"))
    for r, p in zip(ordered, patches, strict=False):
        if p.unpacked:
            nodes.append(TreeNode(f"(patch){p.source}", "(patches)", r.label or r.file.name, p.unpacked, "files"))
    return tuple(nodes), (f"{spec.name}: base image {spec.base.name} and the payload of every patch applied on "
                          "top of it (a replaced file is counted in both)")


def _notes(spec: SeriesSpec, order: OrderInfo, rows: Sequence[PatchRow]) -> tuple[str, ...]:
    notes = [f"order: {order.detail}"]
    if spec.model == FULL:
        notes.append("model: every release is a whole image; each patch is diffed against the previous release"
                     + (f" (the first against base {spec.base.name})" if spec.base else ""))
    else:
        notes.append(f"model: incremental patches on base {spec.base.name if spec.base else '?'}; the footprint "
                     "after a patch is the base plus every patch so far (files replaced by path); deltas are "
                     "upper bounds (changed files counted whole, at most the patch's own download size)")
    if any(r.churn is None for r in rows):
        notes.append("the first release has nothing to compare with (name a base in a manifest)")
    if any(r.reboot_required is None for r in rows):
        notes.append("reboot 'unknown': neither the manifest nor the image metadata says")
    return tuple(notes)


def release_specs(paths: Sequence[Path]) -> list[ReleaseSpec]:
    """Release specs for plain files/directories (a directory contributes its files, not recursively)."""
    out = []
    for p in paths:
        if p.is_dir():
            out += [ReleaseSpec(file=f) for f in sorted(p.iterdir())
                    if f.is_file() and not f.name.startswith(".") and f.suffix.lower() != ".toml"]
        else:
            out.append(ReleaseSpec(file=p))
    return out
