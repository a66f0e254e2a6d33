"""Plain data passed between the series layers: what was asked for, what was measured, what is reported.

Everything here is a frozen dataclass of plain values (no inventories, no mapping proxies), so the
per-release facts can cross a process boundary when releases are walked in parallel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.diff.model import ChurnTotals

#: Version of the ``inspector series --json`` schema. Bump on any incompatible change.
SERIES_SCHEMA_VERSION = 1

#: Series models: every release is a complete image, or a patch applied on top of a base image.
FULL = "full"
INCREMENTAL = "incremental"


@dataclass(frozen=True)
class ReleaseSpec:
    """One release as the user named it: a file, and whatever the manifest said about it."""

    file: Path
    label: str | None = None
    date: dt.date | None = None
    kind: str | None = None
    notes: str | None = None
    reboot_required: bool | None = None


@dataclass(frozen=True)
class SeriesSpec:
    """One product's releases, as given (manifest order, or argument order before sorting)."""

    name: str
    releases: tuple[ReleaseSpec, ...]
    base: Path | None = None
    model: str = FULL
    from_manifest: bool = False


@dataclass(frozen=True)
class Leaf:
    """One leaf file of a release: its in-container path (what an incremental patch replaces)."""

    name: str
    size: int
    sha256: str | None
    component: str
    key: str = ""  # logical path without the image's own name (matches the same file across releases)
    category: str | None = None  # footprint profile category (--profile)
    #: The entry's ``meta["binary"]`` (plain dicts and lists) when it is an analysed executable: incremental
    #: series rebuild installed-state inventories from leaves, and the diff engine reads code churn from it.
    binary: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TreeNode:
    """One treemap node: a container, a top-level directory inside one, or loose files."""

    id: str
    parent: str
    label: str
    value: int
    kind: str  # container | dir | files


@dataclass(frozen=True)
class Product:
    """A release's product: what kind of package it is, the name people call it by, and its version.

    ``key`` groups releases into series (equal keys are versions of one product); ``name`` names the
    series. They differ where a name carries numbers that change from release to release (ISO volume
    ids) or where one name covers several builds (a Debian package for two architectures).
    """

    kind: str
    name: str
    key: str
    version: str | None = None


@dataclass(frozen=True)
class ReleaseFacts:
    """What walking one release file found, reduced to plain values."""

    source: str
    download: int
    unpacked: int
    files: int
    complete: bool
    problems: tuple[str, ...]
    dates: tuple[dt.date, ...]  # release dates found in container metadata, newest last
    version: str | None  # version/build found in the shallowest container metadata
    reboot_required: bool | None  # from container metadata; None when nothing says
    leaves: tuple[Leaf, ...]
    tree: tuple[TreeNode, ...]
    categories: tuple[tuple[str, int], ...] = ()  # per-category unpacked bytes (--profile)
    product: Product | None = None  # what the release is a version of (None: its metadata does not say)
    date_source: str | None = None  # where ``dates`` came from: "metadata", "Debian changelog", ...


@dataclass(frozen=True)
class ComponentChurn:
    """Churn of one component (VIB, package, top-level directory) in one patch."""

    name: str
    replaced_bytes: int
    delta_bytes: int
    growth_bytes: int


@dataclass(frozen=True)
class PairChurn(ChurnTotals):
    """The diff engine's totals for one patch (every ``ChurnTotals`` field), plus its top components,
    whether the diff was complete and what it could not compare."""

    components: tuple[ComponentChurn, ...] = ()  # largest replaced first
    complete: bool = True
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryChurn:
    """One footprint-profile category in one patch: its size after the patch and the bytes replaced."""

    category: str
    footprint: int
    replaced_bytes: int


@dataclass(frozen=True)
class OrderInfo:
    """Which rule ordered the releases, said in words for the report."""

    source: str  # manifest | metadata-date | metadata-version | name
    detail: str


@dataclass(frozen=True)
class PatchRow:
    """One patch of a series with its churn against the previous release (or the base)."""

    index: int
    label: str
    file: str
    date: dt.date | None
    kind: str | None
    notes: str | None
    download: int
    footprint_after: int
    previous: str | None  # label of what this patch was compared with (None: nothing to compare with)
    churn: PairChurn | None
    reboot_required: bool | None
    reboot_source: str  # manifest | metadata | unknown
    days_since_previous: int | None
    whole_image_replaced: bool
    complete: bool
    categories: tuple[CategoryChurn, ...] = ()


@dataclass(frozen=True)
class Highlight:
    """A patch that grew or churned sharply within a few days of the previous release."""

    label: str
    previous: str
    days: int
    growth_bytes: int
    delta_bytes: int
    replaced_bytes: int
    churn_ratio: float  # replaced bytes over the previous footprint
    previous_delta: int | None  # the previous patch's delta (None: no previous patch compared)
    top_components: tuple[ComponentChurn, ...]


@dataclass(frozen=True)
class SeriesTotals:
    """Figures over the patches inside the window."""

    patches: int
    download: int
    replaced_bytes: int
    delta_bytes: int
    growth_bytes: int
    files_added: int
    files_removed: int
    files_modified: int
    mean_download: float  # over the ``mean_over`` compared patches, like ``mean_delta``
    largest_download: tuple[str, int] | None
    mean_delta: float
    largest_delta: tuple[str, int] | None
    kinds: tuple[tuple[str, int], ...]
    reboots: tuple[tuple[str, int], ...]  # yes / no / unknown counts
    whole_image_replaced: int
    not_compared: int  # patches with nothing to compare against (first release without a base)
    mean_over: int = 0  # patches both means are taken over: the compared ones (patches - not_compared)
    #: Code churn (executable sections, see ``ChurnTotals.code_churned``) summed over the compared patches.
    code_churned: int = 0
    code_growth: int = 0
    #: ``code_churned`` over the ``mean_over`` compared patches.
    mean_code_churned: float = 0.0
    #: The compared patch with the most code churned (None: no compared patch churned any code).
    largest_code_churn: tuple[str, int] | None = None
    #: Compared patches that changed code (churned code bytes or changed an executable's code).
    patches_code_changed: int = 0
    #: Code bytes before the first compared patch, and ``code_churned`` as a share of them (it exceeds 1
    #: when the series churned more code than the product had).
    code_before: int = 0
    code_churn_ratio: float = 0.0
    #: Modified executables whose code changed, and those changed only outside their code, over the series.
    binaries_code_changed: int = 0
    binaries_code_unchanged: int = 0
    #: The part of ``code_churned`` in writable+executable sections (code and data not separable there).
    code_churned_writable: int = 0


@dataclass(frozen=True)
class SeriesReport:
    """One series, measured: rows and totals inside the window, plus how the figures were obtained."""

    name: str
    model: str
    base: str | None
    base_footprint: int | None
    order: OrderInfo
    since: dt.date | None
    until: dt.date | None
    rows: tuple[PatchRow, ...]
    totals: SeriesTotals
    highlights: tuple[Highlight, ...]
    tree: tuple[TreeNode, ...]  # treemap of the latest release's footprint
    tree_caption: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    complete: bool = True
    problems: tuple[str, ...] = ()
    product_kind: str | None = None  # deb | vib | bundle | iso | msu when named after a product


@dataclass(frozen=True)
class Ratio:
    """One compared figure: A's value, B's value and A/B (None when B is zero)."""

    name: str
    a: float
    b: float
    ratio: float | None


@dataclass(frozen=True)
class Comparison:
    """Two series side by side."""

    a: SeriesReport
    b: SeriesReport
    ratios: tuple[Ratio, ...]
