"""Classify every file of an inventory with a profile: per-category unpacked and stored sizes and counts.

Three figures are kept per file and per category:

* **unpacked**: the file's own size (the categories add up to the inventory's unpacked footprint exactly);
* **stored**: the file's share of the download's bytes. Each container's bytes are shared among its
  members in proportion to what each member occupies in it (its stored size where the format states
  one, else its size), layer by layer from the image down, so a file inside ``tar`` inside ``gzip``
  carries its part of the compressed bytes. Container overhead and free space are nobody's share, so
  the stored total is at most the download size;
* **files**: the number of leaf files;
* **code** and **data**: the bytes of executable code and of initialised data in the category's
  executables (ELF/PE/Mach-O section tables, ``meta.binary``), so "how much of the hypervisor is code"
  has an answer; other files contribute 0.

Files whose content could not be read (``Entry.unread``) are classified and listed like the others but,
as in the inventory totals, not counted in any size or file count (``unread`` counts them), so an
incomplete footprint is a true lower bound and still adds up to the inventory's unpacked total.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from inspector.binaries.model import code_bytes_of, data_bytes_of, writable_code_bytes_of
from inspector.footprint.match import FactsBuilder, any_glob, flatten_meta, glob_match, normalize_path, rule_matches
from inspector.footprint.profile import UNCLASSIFIED, Profile, Rule
from inspector.model import Entry, EntryKind, Inventory


@dataclass(frozen=True)
class FileClass:
    """One leaf file, the category it landed in and the rule that put it there (``None``: unclassified)."""

    path: str
    size: int
    stored: int
    category: str
    rule: str | None
    detected: str | None = None
    #: The content could not be read: listed, but not counted in sizes or file counts.
    unread: bool = False
    #: Code and initialised-data bytes of an analysed executable (``meta.binary``); None for other files.
    code: int | None = None
    data: int | None = None
    #: Of ``code``, the bytes in writable+executable sections (code and data not separable there).
    writable_code: int = 0


@dataclass(frozen=True)
class CategoryTotal:
    """Totals for one category."""

    id: str
    label: str
    files: int
    unpacked: int
    stored: int
    unread: int = 0
    #: Code and initialised-data bytes of the category's executables, and how many executables there are.
    code: int = 0
    data: int = 0
    executables: int = 0


@dataclass(frozen=True)
class InstalledFigure:
    """An installed size stated by metadata: where, which key, and how many bytes."""

    path: str
    key: str
    bytes: int


@dataclass(frozen=True)
class Footprint:
    """The classified footprint of one image under one profile."""

    source: str
    profile: str
    profile_title: str
    profile_origin: str
    download_size: int
    unpacked_size: int
    stored_size: int
    files: int
    complete: bool
    categories: tuple[CategoryTotal, ...]
    assignments: tuple[FileClass, ...]
    rules: tuple[Rule, ...]
    installed: tuple[InstalledFigure, ...] = ()

    @property
    def installed_size(self) -> int | None:
        """Sum of the installed sizes stated by metadata, or ``None`` when no metadata states one."""
        return sum(f.bytes for f in self.installed) if self.installed else None

    @property
    def code_size(self) -> int:
        """Code bytes of every counted executable (the categories' ``code`` add up to it)."""
        return sum(c.code for c in self.categories)

    @property
    def writable_code_size(self) -> int:
        """Of ``code_size``, the bytes in writable+executable sections, where code and data are mixed."""
        return sum(a.writable_code for a in self.assignments if not a.unread)

    @property
    def data_size(self) -> int:
        """Initialised data bytes of every counted executable."""
        return sum(c.data for c in self.categories)

    @property
    def executables(self) -> int:
        """Counted leaf files analysed as executables."""
        return sum(c.executables for c in self.categories)

    @property
    def unread_files(self) -> int:
        """Files listed but not counted because their content could not be read."""
        return sum(1 for a in self.assignments if a.unread)

    @property
    def unclassified(self) -> tuple[FileClass, ...]:
        """Files no rule matched."""
        return tuple(a for a in self.assignments if a.category == UNCLASSIFIED)

    def category_of(self, path: str) -> str:
        """Category id of the leaf file at logical ``path``; ``KeyError`` if it is not a leaf file here."""
        for a in self.assignments:
            if a.path == path:
                return a.category
        raise KeyError(path)

    def category(self, category_id: str) -> CategoryTotal:
        """Totals of one category by id (``KeyError`` when the profile has no such category)."""
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def files_in(self, category_id: str) -> tuple[FileClass, ...]:
        """The files of one category, in inventory order."""
        return tuple(a for a in self.assignments if a.category == category_id)

    def rule(self, rule_id: str | None) -> Rule | None:
        """The rule with id ``rule_id`` (``None`` for unclassified files)."""
        return next((r for r in self.rules if r.id == rule_id), None) if rule_id else None

    def resolve_category(self, name: str) -> str:
        """A category id from an id or a label, case-insensitive (``"Drivers"``, ``"boot and firmware"``)."""
        key = name.strip().lower()
        for c in self.categories:
            if key in (c.id.lower(), c.label.lower()):
                return c.id
        raise KeyError(name)


def classify(inventory: Inventory, profile: Profile) -> Footprint:
    """Assign every leaf file of ``inventory`` to a category of ``profile``: first matching rule wins.

    Files no rule matches go to ``unclassified``; nothing is dropped, so the per-category unpacked sizes
    add up to the inventory's unpacked footprint exactly.
    """
    builder = FactsBuilder(inventory)
    shares = stored_shares(inventory)
    assignments = []
    for e in inventory.entries:
        if not e.is_leaf_file:
            continue
        facts = builder.facts(e)
        rule = next((r for r in profile.rules if rule_matches(r, facts)), None)
        assignments.append(FileClass(
            path=e.path,
            size=e.size or 0,
            stored=round(shares.get(e.path, 0.0)),
            category=rule.category if rule else UNCLASSIFIED,
            rule=rule.id if rule else None,
            detected=e.detected,
            unread=e.unread,
            code=code_bytes_of(e.meta),
            data=data_bytes_of(e.meta),
            writable_code=writable_code_bytes_of(e.meta),
        ))
    cats = [*profile.categories, (UNCLASSIFIED, UNCLASSIFIED)]
    totals = category_totals(assignments, [cid for cid, _ in cats])
    counted = [a for a in assignments if not a.unread]
    return Footprint(
        source=inventory.source,
        profile=profile.name,
        profile_title=profile.title,
        profile_origin=profile.origin,
        download_size=inventory.root.size or 0,
        unpacked_size=sum(a.size for a in counted),
        stored_size=sum(a.stored for a in counted),
        files=len(counted),
        complete=inventory.complete,
        categories=tuple(CategoryTotal(cid, label, **totals[cid]) for cid, label in cats),
        assignments=tuple(assignments),
        rules=profile.rules,
        installed=tuple(installed_figures(inventory, profile)),
    )


def category_totals(assignments: list[FileClass], ids: list[str]) -> dict[str, dict[str, int]]:
    """Per category id: files, unpacked, stored, unread, and code, data and executables of its executables.

    Unread files are only counted in ``unread`` (their sizes are not known to be true).
    """
    totals = {cid: dict.fromkeys(("files", "unpacked", "stored", "unread", "code", "data", "executables"), 0)
              for cid in ids}
    for a in assignments:
        t = totals[a.category]
        if a.unread:
            t["unread"] += 1
            continue
        t["files"] += 1
        t["unpacked"] += a.size
        t["stored"] += a.stored
        if a.code is not None or a.data is not None:
            t["executables"] += 1
            t["code"] += a.code or 0
            t["data"] += a.data or 0
    return totals


def stored_shares(inventory: Inventory) -> dict[str, float]:
    """Each entry's share of the download bytes (see the module docstring), by logical path.

    Entries come parents first, so one pass suffices: a container's bytes are divided among its file
    members in proportion to what each occupies (``stored_size`` if known, else ``size``); the divisor is
    the container's own size or, when its members add up to more (a decompressed payload, deduplicated
    streams), their sum, so shares never exceed the container's.
    """
    occupied: dict[str, int] = {}
    for e in inventory.entries:
        parent = e.parent
        if parent is not None and e.kind is EntryKind.FILE:
            occupied[parent] = occupied.get(parent, 0) + _occupies(e)
    root = inventory.root
    share: dict[str, float] = {root.path: float(root.size or 0)}
    sizes = {e.path: e.size for e in inventory.entries}
    factor: dict[str, float] = {}
    for e in inventory.entries[1:]:
        parent = e.parent
        if e.kind is not EntryKind.FILE or parent is None:
            continue
        f = factor.get(parent)
        if f is None:
            denominator = max(sizes.get(parent) or 0, occupied.get(parent, 0))
            f = share.get(parent, 0.0) / denominator if denominator else 0.0
            factor[parent] = f
        share[e.path] = _occupies(e) * f
    return share


def _occupies(e: Entry) -> int:
    return e.stored_size if e.stored_size is not None else (e.size or 0)


def installed_figures(inventory: Inventory, profile: Profile) -> Iterator[InstalledFigure]:
    """Installed sizes stated by metadata on any entry, for the keys the profile names (with their unit)."""
    if not profile.installed:
        return
    for e in inventory.entries:
        if not e.meta:
            continue
        flat = flatten_meta(e.meta)
        for spec in profile.installed:
            if spec.path and not any_glob(normalize_path(e.path), spec.path):
                continue
            for key, values in flat.items():
                if not glob_match(key, spec.key):
                    continue
                total = sum(_number(v) for v in values)
                if total:
                    yield InstalledFigure(path=e.path, key=key, bytes=total * spec.unit)


def _number(value: str) -> int:
    try:
        return max(int(value.strip()), 0)
    except ValueError:
        return 0
