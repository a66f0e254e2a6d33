"""Diff of a synthetic 20,000-entry release pair whose changes are known by construction.

The pair exercises what a large diff relies on: 20 packages whose containers and top directories are
version-renamed (``pkg3-1.0.tgz!/pkg3-1.0.tar!/pkg3-1.0/...`` -> ``pkg3-1.1...``), files modified in
place, moved, removed, added, version-renamed (``lib5-1.2.so`` -> ``lib5-1.3.so``) or with a changed
mode, a container moved elsewhere with identical content, a renamed compression wrapper and plain
directories. The expected figures are counted while building the pair, not by running the diff.
No timing here: benchmarks live in ``benchmarks/``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from inspector.diff import DiffOptions, DiffResult, diff_inventories
from inspector.model import Entry, EntryKind, Inventory

PACKAGES = 20
FILES = 960  # per package
TOOL_FILES = 100
DOCS = 200
SUBDIRS = ("bin", "lib", "share/doc")


@dataclass
class _Expected:
    """Leaf-file statuses and byte counts, counted while building the pair."""

    status: Counter[str] = field(default_factory=Counter)
    bytes_added: int = 0
    bytes_removed: int = 0
    renamed_containers: list[tuple[str, str]] = field(default_factory=list)
    per_package: Counter[str] = field(default_factory=Counter)  # statuses in package 0


def _sha(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


class _Release:
    """Entries of one side, built in walk order (a container before its members)."""

    def __init__(self, version: str) -> None:
        self.root = f"suite-{version}.iso"
        self.entries = [Entry(path=self.root, kind=EntryKind.FILE, size=1, depth=0, container="iso",
                              opened=True, sha256=_sha("iso", version))]

    def add(self, rel: str, kind: EntryKind = EntryKind.FILE, **kw: object) -> str:
        path = f"{self.root}!/{rel}"
        self.entries.append(Entry(path=path, kind=kind, depth=rel.count("!/") + 1, **kw))  # type: ignore[arg-type]
        return path

    def inventory(self) -> Inventory:
        return Inventory(source=self.root, entries=tuple(self.entries))


def _pair() -> tuple[Inventory, Inventory, _Expected]:
    old, new, exp = _Release("1.0"), _Release("1.1"), _Expected()
    exp.renamed_containers.append((old.root, new.root))
    size = 1000

    def leaf(side: _Release, rel: str, sha: str, mode: int = 0o644) -> None:
        nonlocal size
        size += 1
        side.add(rel, size=size, sha256=sha, mode=mode)

    for side in (old, new):
        side.add("pkgs", EntryKind.DIR, size=0)
    for k in range(PACKAGES):
        inner = {}
        for side, v in ((old, "1.0"), (new, "1.1")):
            tgz = side.add(f"pkgs/pkg{k}-{v}.tgz", size=1, sha256=_sha("tgz", k, v), container="gzip", opened=True)
            tar = side.add(f"pkgs/pkg{k}-{v}.tgz!/pkg{k}-{v}.tar", size=1, sha256=_sha("tar", k, v),
                           container="tar", opened=True)
            side.add(f"pkgs/pkg{k}-{v}.tgz!/pkg{k}-{v}.tar!/pkg{k}-{v}", EntryKind.DIR, size=0)
            inner[v] = f"pkgs/pkg{k}-{v}.tgz!/pkg{k}-{v}.tar!/pkg{k}-{v}"
            if side is old:
                renamed = (tgz, tar)
            else:
                exp.renamed_containers += [(renamed[0], tgz), (renamed[1], tar)]
        o, n = inner["1.0"], inner["1.1"]
        for j in range(FILES):
            sub, sha = SUBDIRS[j % 3], _sha("file", k, j)
            kind = j % 50
            if j % 10 == 1:  # content changed in place
                status = "modified"
                leaf(old, f"{o}/{sub}/file{j}.dat", sha)
                leaf(new, f"{n}/{sub}/file{j}.dat", _sha("changed", k, j))
            elif kind == 2:  # removed
                status = "removed"
                leaf(old, f"{o}/{sub}/file{j}.dat", sha)
                exp.bytes_removed += size
            elif kind == 3:  # moved to another directory, same content
                status = "renamed"
                leaf(old, f"{o}/{sub}/file{j}.dat", sha)
                leaf(new, f"{n}/moved/file{j}.dat", sha)
            elif kind == 4:  # mode changed only
                status = "metadata"
                leaf(old, f"{o}/{sub}/file{j}.dat", sha)
                leaf(new, f"{n}/{sub}/file{j}.dat", sha, mode=0o755)
            elif kind == 5:  # version-renamed with new content
                status = "renamed_modified"
                leaf(old, f"{o}/{sub}/lib{j}-1.2.so", sha)
                leaf(new, f"{n}/{sub}/lib{j}-1.3.so", _sha("lib", k, j))
            else:
                status = "unchanged"
                leaf(old, f"{o}/{sub}/file{j}.dat", sha)
                leaf(new, f"{n}/{sub}/file{j}.dat", sha)
                if kind == 6:  # and a new file beside it
                    leaf(new, f"{n}/{sub}/new{j}.dat", _sha("new", k, j))
                    exp.status["added"] += 1
                    exp.bytes_added += size
                    if k == 0:
                        exp.per_package["added"] += 1
            exp.status[status] += 1
            if k == 0:
                exp.per_package[status] += 1
    # A container moved elsewhere, content identical: its members are renamed.
    for side, top in ((old, "extras"), (new, "opt")):
        side.add(f"{top}/tool-2.0.tgz", size=1, sha256=_sha("tool.tgz"), container="gzip", opened=True)
        side.add(f"{top}/tool-2.0.tgz!/tool-2.0.tar", size=1, sha256=_sha("tool.tar"), container="tar", opened=True)
        for j in range(TOOL_FILES):
            leaf(side, f"{top}/tool-2.0.tgz!/tool-2.0.tar!/share/t{j}", _sha("tool", j))
    exp.status["renamed"] += TOOL_FILES
    exp.renamed_containers += [("suite-1.0.iso!/extras/tool-2.0.tgz", "suite-1.1.iso!/opt/tool-2.0.tgz"),
                               ("suite-1.0.iso!/extras/tool-2.0.tgz!/tool-2.0.tar",
                                "suite-1.1.iso!/opt/tool-2.0.tgz!/tool-2.0.tar")]
    # A renamed compression wrapper: its one payload pairs whatever its name, and changed.
    for side, v in ((old, "1.0"), (new, "1.1")):
        side.add(f"notes-{v}.txt.gz", size=1, sha256=_sha("gz", v), container="gzip", opened=True)
        leaf(side, f"notes-{v}.txt.gz!/notes-{v}.txt", _sha("notes", v))
    exp.status["modified"] += 1
    exp.renamed_containers.append(("suite-1.0.iso!/notes-1.0.txt.gz", "suite-1.1.iso!/notes-1.1.txt.gz"))
    # Plain directories and files directly in the image.
    for side in (old, new):
        for j in range(DOCS):
            leaf(side, f"docs/d{j}.html", _sha("doc", j))
        leaf(side, "README", _sha("readme"))
    exp.status["unchanged"] += DOCS + 1
    leaf(old, "CHANGES-1.0.txt", _sha("changes", "1.0"))
    leaf(new, "CHANGES-1.1.txt", _sha("changes", "1.1"))
    exp.status["renamed_modified"] += 1
    return old.inventory(), new.inventory(), exp


@pytest.fixture(scope="module")
def pair() -> tuple[Inventory, Inventory, _Expected]:
    return _pair()


@pytest.fixture(scope="module")
def result(pair: tuple[Inventory, Inventory, _Expected]) -> DiffResult:
    old, new, _ = pair
    return diff_inventories(old, new, DiffOptions(delta=False))


def _leaf_statuses(r: DiffResult) -> Counter[str]:
    return Counter(c.status.value for c in r.changes if c.is_file)


def test_the_pair_has_twenty_thousand_entries(pair: tuple[Inventory, Inventory, _Expected]) -> None:
    old, new, _ = pair
    assert 19_000 < len(old.entries) < 21_000
    assert 19_000 < len(new.entries) < 21_000


def test_every_leaf_file_gets_its_known_status(pair: tuple[Inventory, Inventory, _Expected],
                                               result: DiffResult) -> None:
    assert _leaf_statuses(result) == pair[2].status
    assert result.totals.other_changes == 0  # the directories are all paired and unchanged


def test_totals_match_the_known_changes(pair: tuple[Inventory, Inventory, _Expected], result: DiffResult) -> None:
    exp, t = pair[2].status, result.totals
    assert (t.files_added, t.files_removed, t.files_renamed, t.files_unchanged, t.files_metadata_only) == (
        exp["added"], exp["removed"], exp["renamed"], exp["unchanged"], exp["metadata"])
    assert t.files_modified == exp["modified"] + exp["renamed_modified"] == PACKAGES * (96 + 20) + 2
    assert t.bytes_added == pair[2].bytes_added
    assert t.bytes_removed == pair[2].bytes_removed
    assert result.complete and not result.not_compared


def test_a_version_renamed_package_is_one_component(pair: tuple[Inventory, Inventory, _Expected],
                                                    result: DiffResult) -> None:
    comps = dict(result.components)
    assert sum(1 for name in comps if name.startswith("pkgs/pkg")) == PACKAGES
    c, exp = comps["pkgs/pkg0-1.1.tgz"], pair[2].per_package
    assert (c.files_added, c.files_removed, c.files_renamed, c.files_unchanged, c.files_metadata_only) == (
        exp["added"], exp["removed"], exp["renamed"], exp["unchanged"], exp["metadata"])
    assert c.files_modified == exp["modified"] + exp["renamed_modified"]


def test_renamed_and_moved_containers_are_listed(pair: tuple[Inventory, Inventory, _Expected],
                                                 result: DiffResult) -> None:
    assert sorted(result.renamed_containers) == sorted(pair[2].renamed_containers)


def test_changes_are_sorted_by_relative_path(result: DiffResult) -> None:
    keys = [c.path.split("!/", 1)[1] for c in result.changes]
    assert keys == sorted(keys)


def test_entry_order_does_not_change_the_result(pair: tuple[Inventory, Inventory, _Expected],
                                                result: DiffResult) -> None:
    old, new, _ = pair
    rng = random.Random(8)
    shuffled = []
    for inv in (old, new):
        rest = list(inv.entries[1:])
        rng.shuffle(rest)  # members before their containers and directories: implied nodes first
        shuffled.append(dataclasses.replace(inv, entries=(inv.root, *rest)))
    again = diff_inventories(shuffled[0], shuffled[1], DiffOptions(delta=False))
    assert again.totals == result.totals
    assert again.components == result.components
    assert sorted(again.renamed_containers) == sorted(result.renamed_containers)
    assert [(c.status, c.path) for c in again.changes] == [(c.status, c.path) for c in result.changes]
