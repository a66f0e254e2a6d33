"""Offline bundles: bulletins, image profiles, VIBs located by relativePath, vendor wrappers."""

from __future__ import annotations

from pathlib import Path

from fixtures import vmware as vm
from inspector.walker import walk


def _depot(built, name: str) -> Path:
    return next(p for p in built("esxi-depot") if p.name.startswith(name))


def test_bulletin_and_image_profile_become_metadata(built):
    inv = walk(_depot(built, "ESXi803"))
    assert inv.complete and inv.problems == ()
    depot = inv.root.meta["depot"]
    (bul,) = depot["bulletins"]
    r = vm.release("a")
    assert (bul["id"], bul["severity"], bul["category"], bul["release_date"]) == (
        r.bulletin, r.severity, r.category, r.date)
    assert bul["reboot_required"] is True  # esx-base is not live-installable
    assert sorted(bul["vibs"]) == sorted(v.vib_id for v in r.vibs)
    assert depot["image_profiles"][0]["name"] == r.profile and depot["image_profiles"][0]["vibs"] == 5
    assert inv.root.meta["label"] == f"{r.profile} (offline bundle)"


def test_each_vib_member_is_tagged_with_bulletin_and_reboot_flag(built):
    inv = walk(_depot(built, "ESXi803"))
    vibs = {e.name: e for e in inv.entries if e.depth == 1 and e.container == "vib"}
    r = vm.release("a")
    assert set(vibs) == {f"vib20/{v.name}/{v.file_name}" for v in r.vibs}
    for v in r.vibs:
        e = vibs[f"vib20/{v.name}/{v.file_name}"]
        assert e.meta["vib_id"] == v.vib_id
        assert e.meta["bulletins"] == [r.bulletin]
        assert e.meta["reboot_required"] is (not v.live_install)


def test_vib_at_the_zip_root_is_found_through_relative_path(built):
    inv = walk(_depot(built, "ixgbe"))
    assert inv.problems == ()
    (vib,) = [e for e in inv.entries if e.container == "vib"]
    assert vib.name == vm.release("a").vib("net-ixgbe").file_name
    assert vib.meta["bulletins"] == ["ixgbe-3.7.13"]


def test_vendor_zip_wrapping_a_bundle_is_opened_recursively(built):
    inv = walk(_depot(built, "VMW-ESX"))
    assert inv.complete
    inner = next(e for e in inv.entries if e.name == "ixgbe-3.7.13-offline_bundle.zip")
    assert inner.meta["depot"]["bulletins"][0]["id"] == "ixgbe-3.7.13"
    vibs = [e for e in inv.entries if e.container == "vib"]
    assert len(vibs) == 2  # the bare VIB next to the bundle and the one inside it
    assert "depot" not in inv.root.meta


def test_metadata_naming_a_missing_vib_is_reported_and_rest_inventoried(tmp_path):
    p = tmp_path / "depot.zip"
    p.write_bytes(vm.depot_bytes(vm.release("a"), missing_vib="misc-drivers"))
    inv = walk(p)
    v = vm.release("a").vib("misc-drivers")
    (prob,) = inv.problems
    assert prob.kind == "mismatch"
    assert prob.path.endswith(f"!/vib20/misc-drivers/{v.file_name}")
    assert v.vib_id in prob.reason and "missing" in prob.reason
    assert sum(e.container == "vib" for e in inv.entries) == 4


def test_vib_that_differs_from_metadata_checksum_is_reported(tmp_path):
    r = vm.release("a")
    data = vm.depot_bytes(r)
    good = vm.vib_bytes(r.vib("net-ixgbe"))
    # Same length, one byte changed inside sig.pkcs7: the ZIP stays valid, the checksum does not.
    i = good.index(b"TUlJ")
    bad_vib = good[:i] + b"X" + good[i + 1:]
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            dst.writestr(info, bad_vib if info.filename.endswith(r.vib("net-ixgbe").file_name) else body)
    p = tmp_path / "d.zip"
    p.write_bytes(out.getvalue())
    inv = walk(p)
    assert [pr.kind for pr in inv.problems] == ["mismatch"]
    assert "sha-256" in inv.problems[0].reason


def test_ordinary_zip_gets_no_depot_metadata(tmp_path):
    p = tmp_path / "plain.zip"
    p.write_bytes(vm.zip_ordered({"index.xml": b"<x/>", "a.txt": b"hello"}))
    inv = walk(p)
    assert inv.root.container == "zip" and "depot" not in inv.root.meta


def test_depot_files_below_the_root_do_not_make_a_depot(tmp_path):
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(vm.depot_bytes(vm.release("a")))) as src:
        moved = {f"sub/{info.filename}": src.read(info) for info in src.infolist() if not info.is_dir()}
    p = tmp_path / "moved.zip"
    p.write_bytes(vm.zip_ordered(moved))
    inv = walk(p)
    assert "depot" not in inv.root.meta and "moved.zip!/sub/metadata.zip" in inv.by_path()


def test_depot_is_recognised_after_many_unrelated_members(tmp_path):
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(vm.depot_bytes(vm.release("a")))) as src:
        members = {info.filename: src.read(info) for info in src.infolist() if not info.is_dir()}
    p = tmp_path / "padded.zip"
    p.write_bytes(vm.zip_ordered({**{f"pad/{i:05d}.txt": b"" for i in range(5000)}, **members}))
    inv = walk(p)
    assert inv.root.meta["depot"]["vibs"] == len(vm.release("a").vibs) and not inv.problems
