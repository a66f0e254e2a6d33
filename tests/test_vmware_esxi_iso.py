"""ESXi installer ISO end to end, and the ground truth of the ISO and depot series."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fixtures import vmware as vm
from inspector.model import NEST, Inventory
from inspector.walker import walk
from tests.conftest import require_tool


def _iso(built) -> Path:
    return built("esxi-iso")[0]


def _leaves(inv: Inventory) -> dict[str, tuple[int | None, str | None]]:
    """Leaf files by logical path below the image root."""
    return {e.path.split(NEST, 1)[1]: (e.size, e.sha256) for e in inv.entries if e.is_leaf_file and e.depth}


def test_whole_iso_is_inventoried_with_expected_count_and_size(built):
    inv = walk(_iso(built))
    assert inv.complete and inv.problems == ()
    expected = vm.expected_iso_leaves(vm.release("a"))
    got = _leaves(inv)
    assert set(got) == set(expected)
    assert len(got) == 34
    assert sum(s for s, _ in got.values()) == sum(s for s, _ in expected.values())
    for path, (size, sha) in expected.items():
        assert got[path][0] == size, path
        if sha is not None:
            assert got[path][1] == sha, path


def test_root_listing_matches_isoinfo(built):
    require_tool("isoinfo")
    out = subprocess.run(["isoinfo", "-f", "-i", str(_iso(built))], capture_output=True, text=True, check=True).stdout
    theirs = {line.strip("/").split(";")[0] for line in out.split()}
    ours = {e.name for e in walk(_iso(built)).entries if e.depth == 1}
    assert ours == theirs


def test_modules_carry_boot_order_kind_and_vib(built):
    inv = walk(_iso(built))
    r = vm.release("a")
    mods = {e.name: e.meta for e in inv.entries if e.depth == 1 and "boot_order" in e.meta}
    assert mods["B.B00"]["boot_order"] == 0 and mods["B.B00"]["module_kind"] == "kernel"
    assert mods["S.V00"]["module_kind"] == "vmtar payload"
    assert mods["S.V00"]["vib"] == r.vib("esx-base").vib_id and mods["S.V00"]["payload"] == "s"
    assert mods["NET_IXGB.V00"]["vib"] == r.vib("net-ixgbe").vib_id
    assert mods["TOOLS.T00"]["module_kind"] == "tar.gz payload"
    assert mods["K.B00"]["module_kind"] == "boot module (gzip)"
    order = sorted(mods, key=lambda n: mods[n]["boot_order"])
    cfg = vm.boot_cfg(r).decode()
    listed = [m.strip().lstrip("/").upper() for m in cfg.split("modules=")[1].split("\n")[0].split("---")]
    assert order == ["B.B00", *listed]


def test_iso_metadata_summarises_build_and_profile(built):
    meta = walk(_iso(built)).root.meta
    r = vm.release("a")
    assert meta["application_id"] == "ESXIMAGE"
    assert meta["esxi"]["build"] == r.build
    assert meta["esxi"]["image_profile"] == r.profile
    assert meta["esxi"]["modules"] == 8  # modules= entries; the kernel is separate
    assert sorted(meta["esxi"]["vibs"]) == sorted(v.vib_id for v in r.vibs)
    assert meta["label"].startswith(f"ESXi {r.build} installer")
    assert {b["file"] for b in meta["el_torito"]} == {"ISOLINUX.BIN", "EFIBOOT.IMG"}


def test_boot_cfg_module_missing_from_the_iso_is_reported(tmp_path, monkeypatch):
    require_tool("xorriso")
    r = vm.release("a")
    orig = vm.iso_tree

    def without_tools(rel: vm.Release) -> dict[str, bytes]:
        tree = orig(rel)
        del tree["TOOLS.T00"]
        return tree

    monkeypatch.setattr(vm, "iso_tree", without_tools)
    inv = walk(vm.build_iso(r, tmp_path / "x.iso"))
    (prob,) = inv.problems
    assert prob.kind == "mismatch" and prob.path.endswith("!/TOOLS.T00") and "BOOT.CFG" in prob.reason


def test_generic_iso_without_boot_cfg_is_unchanged(tmp_path):
    require_tool("xorriso")
    stage = tmp_path / "s"
    stage.mkdir()
    (stage / "A.TXT").write_bytes(b"hello\n")
    iso = tmp_path / "plain.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-o", str(iso), str(stage)], check=True)
    inv = walk(iso)
    assert inv.root.container == "iso9660" and "esxi" not in inv.root.meta
    assert [e.name for e in inv.entries[1:]] == ["A.TXT"]


@pytest.mark.parametrize("series,suffix", [("esxi-iso-series", ".iso"), ("esxi-depot-series", ".zip")])
def test_series_inventories_match_the_ground_truth(built, series, suffix):
    paths = sorted(p for p in built(series) if p.suffix == suffix)
    invs = [walk(p) for p in paths]
    assert all(inv.complete for inv in invs)
    truth = vm.SERIES_CHANGES[series]
    for (prev, cur), rel in zip(zip(invs, invs[1:], strict=False), ["b", "c", "d"], strict=True):
        old, new = _leaves(prev), _leaves(cur)
        modified = {p: (old[p][0], new[p][0]) for p in old.keys() & new.keys() if old[p][1] != new[p][1]}
        assert modified == truth[rel]["modified"], rel
        assert {p: new[p][0] for p in new.keys() - old.keys()} == truth[rel]["added"], rel
        assert {p: old[p][0] for p in old.keys() - new.keys()} == truth[rel]["removed"], rel


def test_series_ground_truth_has_the_declared_payload_changes():
    iso = vm.SERIES_CHANGES["esxi-iso-series"]
    assert iso["b"]["modified"]["S.V00!/s.vxz!/s.vtar!/bin/hostd"] == (48_000, 49_234)
    assert iso["b"]["modified"]["S.V00!/s.vxz!/s.vtar!/lib64/libvmkctl.so"] == (30_000, 29_488)
    assert iso["c"]["added"] == {"NET_IXGB.V00!/net-ixgb.vtar!/etc/vmware/driver.map.d/ixgbe_fw.map": 48}
    assert iso["d"]["removed"] == {"S.V00!/s.vxz!/s.vtar!/usr/lib/vmware/hostd/docroot/index.html": 2_400}
    payload_changes = {p for p in iso["b"]["modified"] if p.startswith("S.V00!/")}
    assert payload_changes == {"S.V00!/s.vxz!/s.vtar!/bin/hostd", "S.V00!/s.vxz!/s.vtar!/lib64/libvmkctl.so"}
    assert vm.SERIES_CHANGES["esxi-depot-series"]["c"]["renamed"] == {
        f"vib20/net-ixgbe/{vm.release('b').vib('net-ixgbe').file_name}":
            f"vib20/net-ixgbe/{vm.release('c').vib('net-ixgbe').file_name}"}
