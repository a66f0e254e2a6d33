"""Diff on the other fixture release series, against their ``SERIES_CHANGES`` ground truth.

Each module is optional: a test skips when its fixture module or ground truth is not there (yet).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.diff import ChangeStatus, diff_images
from inspector.diff.model import DiffResult, relative

Built = Callable[[str], list[Path]]
_CONTENT = (ChangeStatus.MODIFIED, ChangeStatus.RENAMED_MODIFIED)


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", str(tmp_path / "store.sqlite"))


def _truth(module: str, name: str = "SERIES_CHANGES") -> object:
    mod = pytest.importorskip(module)
    try:
        return getattr(mod, name)
    except AttributeError:
        pytest.skip(f"{module}.{name} not there yet")


def _leaf_sets(r: DiffResult) -> dict[str, dict[str, tuple[int | None, int | None]]]:
    """Leaf-file changes by status: relative new (else old) path -> (old size, new size)."""
    out: dict[str, dict[str, tuple[int | None, int | None]]] = {"modified": {}, "added": {}, "removed": {}}
    for c in r.changes:
        if not c.is_file:
            continue
        sizes = (c.old.size if c.old else None, c.new.size if c.new else None)
        if c.status in _CONTENT:
            out["modified"][relative(c.path)] = sizes
        elif c.status is ChangeStatus.ADDED:
            out["added"][relative(c.path)] = sizes
        elif c.status is ChangeStatus.REMOVED:
            out["removed"][relative(c.path)] = sizes
    return out


@pytest.mark.parametrize("label", ["b", "c", "d"])
def test_esxi_iso_series_changes_match_ground_truth(built: Built, label: str) -> None:
    truth = _truth("fixtures.vmware")["esxi-iso-series"][label]  # type: ignore[index]
    isos = {p.name.split("-")[-1].split(".")[0]: p for p in built("esxi-iso-series")}
    prev = chr(ord(label) - 1)
    r = diff_images(isos[prev], isos[label])
    got = _leaf_sets(r)
    assert r.complete
    assert got["modified"] == {p: tuple(s) for p, s in truth["modified"].items()}
    assert {p: s[1] for p, s in got["added"].items()} == truth["added"]
    assert {p: s[0] for p, s in got["removed"].items()} == truth["removed"]


@pytest.mark.parametrize("label", ["b", "c", "d"])
def test_esxi_depot_series_pairs_renamed_vibs(built: Built, label: str) -> None:
    vm = pytest.importorskip("fixtures.vmware")
    if not hasattr(vm, "expected_depot_leaves"):
        pytest.skip("fixtures.vmware.expected_depot_leaves not there yet")
    depots = {p.name.split("-")[1]: p for p in built("esxi-depot-series")}
    prev = chr(ord(label) - 1)
    renamed = vm.SERIES_CHANGES["esxi-depot-series"][label]["renamed"]
    old = {}
    for path, value in vm.expected_depot_leaves(vm.release(prev)).items():
        for o, n in renamed.items():
            if path.startswith(o + "!/"):
                path = n + path[len(o):]
        old[path] = value
    new = vm.expected_depot_leaves(vm.release(label))
    r = diff_images(depots[prev], depots[label])
    got = _leaf_sets(r)
    assert set(got["modified"]) == {p for p in old.keys() & new.keys() if old[p] != new[p]}
    assert {p: s[1] for p, s in got["added"].items()} == {p: new[p][0] for p in new.keys() - old.keys()}
    removed = {}
    for path, sizes in got["removed"].items():  # old paths; compare in the new namespace
        for o, n in renamed.items():
            if path.startswith(o + "!/"):
                path = n + path[len(o):]
        removed[path] = sizes[0]
    assert removed == {p: old[p][0] for p in old.keys() - new.keys()}
    assert {(o, n) for o, n in r.renamed_containers if o.endswith(".vib")} == {
        (f"{depots[prev].name}!/{o}", f"{depots[label].name}!/{n}") for o, n in renamed.items()}


@pytest.mark.parametrize("index", [1, 2])
def test_esxi35_series_inner_changes_match_ground_truth(built: Built, index: int) -> None:
    disk = pytest.importorskip("fixtures.disk")
    truth = _truth("fixtures.disk")
    isos = built("esxi35-series")
    build = disk.BUILDS[index]
    r = diff_images(isos[index - 1], isos[index])
    assert r.complete
    in_dd = {}
    for c in r.changes:
        if c.status in _CONTENT and ".dd!/" in c.path:
            inner = c.path.split("!/p5!/", 1)[-1]  # bootbank file !/ ... inner file
            parts = inner.split("!/")
            in_dd[(parts[0], parts[-1])] = (c.new.size or 0) - (c.old.size or 0)
    for file, inner in truth[build].items():  # type: ignore[index]
        for path, delta in inner.items():
            assert in_dd[(file, path)] == delta
    # the dd.bz2 changed its name with the build: paired, never removed + added
    assert not [c for c in r.changes if c.status in (ChangeStatus.ADDED, ChangeStatus.REMOVED) and ".dd" in c.path]


_DATA = re.compile(r"^data\.tar[^!]*!/data\.tar!/(.*)$")


@pytest.mark.parametrize("pair", [0, 1])
def test_xen_deb_series_changes_match_ground_truth(built: Built, pair: int) -> None:
    deb = pytest.importorskip("fixtures.debian")
    truth_all = _truth("fixtures.debian")
    debs = built("xen-deb-series")
    versions = deb.SERIES
    truth = truth_all[(versions[pair], versions[pair + 1])]  # type: ignore[index]
    r = diff_images(debs[pair], debs[pair + 1])
    sets: dict[str, set[str]] = {"changed": set(), "added": set(), "removed": set()}
    elf_delta = None
    for c in r.changes:
        m = _DATA.match(relative(c.path))
        if not m or not c.is_file:
            continue
        top = m.group(1).split("!/")[0]
        if c.status in _CONTENT:
            sets["changed"].add(top)
            if top.endswith("amd64.gz"):
                elf_delta = c.delta_bytes
        elif c.status is ChangeStatus.ADDED:
            sets["added"].add(top)
        elif c.status is ChangeStatus.REMOVED:
            sets["removed"].add(top)
    assert sets == {k: set(truth[k]) for k in ("changed", "added", "removed")}
    assert elf_delta is not None and elf_delta < 4 * int(truth["elf_patched_bytes"]) + 100
