"""Footprints of the built fixtures (ESXi 5+ ISO and depot, ESXi 3.5 ISO, Hyper-V ISO, MSU, Xen .deb).

Each test skips when its fixture is not registered, so the suite runs while fixture families are added.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.registry import builders
from inspector.cli import app
from inspector.footprint import UNCLASSIFIED, Footprint, classify, guess_profile, load_profile
from inspector.inventory import totals
from inspector.model import Inventory
from inspector.walker import walk

Built = Callable[[str], list[Path]]


@cache
def _walk(path: Path) -> Inventory:
    return walk(path)


def _image(built: Built, fixture: str, suffix: str, contains: str = "") -> Path:
    if fixture not in builders():
        pytest.skip(f"fixture {fixture} not available yet")
    files = [p for p in built(fixture) if p.name.endswith(suffix) and contains in p.name]
    if not files:
        pytest.skip(f"fixture {fixture} has no *{suffix} file")
    return files[0]


def _fp(path: Path, profile: str) -> Footprint:
    return classify(_walk(path), load_profile(profile))


def _by_tail(fp: Footprint) -> dict[str, str]:
    """Category of every file keyed by the path inside its own container."""
    return {a.path.rsplit("!/", 1)[-1]: a.category for a in fp.assignments}


# -- ESXi 5+ installer ISO --------------------------------------------------------------------------------
def test_esxi_iso_files_land_in_the_expected_categories(built: Built) -> None:
    cats = _by_tail(_fp(_image(built, "esxi-iso", ".iso"), "esxi"))
    assert cats["k"] == "hypervisor-kernel"
    assert cats["b"] == "boot"
    assert cats["usr/lib/vmware/vmkmod/ixgbe"] == "drivers"
    assert cats["etc/vmware/driver.map.d/ixgbe.map"] == "drivers"
    assert cats["bin/hostd"] == "management"
    assert cats["vmtools/windows.iso"] == "management"
    assert cats["BOOT.CFG"] == "boot"
    assert cats["ISOLINUX.BIN"] == "boot"


def test_esxi_iso_has_no_unclassified_files(built: Built) -> None:
    fp = _fp(_image(built, "esxi-iso", ".iso"), "esxi")
    assert fp.unclassified == ()


def test_esxi_iso_category_totals_equal_the_inventory_totals(built: Built) -> None:
    path = _image(built, "esxi-iso", ".iso")
    fp, t = _fp(path, "esxi"), totals(_walk(path))
    assert sum(c.unpacked for c in fp.categories) == t.unpacked_size
    assert sum(c.files for c in fp.categories) == t.files
    assert fp.stored_size <= fp.download_size == path.stat().st_size


def test_esxi_profile_is_picked_for_the_esxi_iso(built: Built) -> None:
    assert guess_profile(_walk(_image(built, "esxi-iso", ".iso"))).name == "esxi"


# -- ESXi depot --------------------------------------------------------------------------------------------
def test_esxi_depot_boot_payloads_are_classified_by_payload_metadata(built: Built) -> None:
    cats = _by_tail(_fp(_image(built, "esxi-depot", ".zip", "depot"), "esxi"))
    assert (cats["k"], cats["b"]) == ("hypervisor-kernel", "boot")
    assert cats["usr/lib/vmware/vmkmod/ixgbe"] == "drivers"
    assert cats["descriptor.xml"] == "other"


def test_esxi_depot_installed_size_is_the_sum_of_the_vib_payloads_stored_there(built: Built) -> None:
    path = _image(built, "esxi-depot", ".zip", "depot")
    inv = _walk(path)
    payloads = [e for e in inv.entries if e.parent and e.parent.endswith(".vib") and e.kind.value == "file"
                and e.name not in ("descriptor.xml", "sig.pkcs7")]
    assert _fp(path, "esxi").installed_size == sum(e.size or 0 for e in payloads)


# -- ESXi 3.5 installer ISO with its disk image ------------------------------------------------------------
def test_esxi35_bootbank_kernel_counts_and_the_installers_own_copy_is_installer_only(built: Built) -> None:
    fp = _fp(_image(built, "esxi35-dd", ".iso"), "esxi")
    kernels = {a.path: a.category for a in fp.assignments if a.path.endswith("vmkernel.gz!/vmkernel")}
    bootbank = [c for p, c in kernels.items() if "!/p5!/" in p]
    root = [c for p, c in kernels.items() if "install.tgz" not in p]
    assert (bootbank, root) == (["hypervisor-kernel"], ["installer"])


def test_esxi35_store_partition_is_management_and_boot_partition_is_boot(built: Built) -> None:
    fp = _fp(_image(built, "esxi35-dd", ".iso"), "esxi")
    store = {a.category for a in fp.assignments if "!/p8!/" in a.path}
    boot = {a.category for a in fp.assignments if "!/p4!/" in a.path}
    assert (store, boot) == ({"management"}, {"boot"})


def test_esxi35_iso_has_no_unclassified_files(built: Built) -> None:
    assert _fp(_image(built, "esxi35-dd", ".iso"), "esxi").unclassified == ()


# -- Windows / Hyper-V ----------------------------------------------------------------------------------------
def test_hyperv_profile_is_picked_for_the_windows_iso(built: Built) -> None:
    assert guess_profile(_walk(_image(built, "windows-udf-iso", ".iso", "hyperv"))).name == "hyperv"


def test_hyperv_iso_setup_environment_is_installer_only_and_boot_files_are_boot(built: Built) -> None:
    fp = _fp(_image(built, "windows-udf-iso", ".iso", "hyperv"), "hyperv")
    setup = {a.category for a in fp.assignments if "!/sources/boot.wim!/" in a.path}
    cats = _by_tail(fp)
    assert setup == {"installer"}
    assert (cats["bootmgr"], cats["boot/bcd"], cats["setup.exe"]) == ("boot", "boot", "installer")


def test_hyperv_iso_has_no_unclassified_files(built: Built) -> None:
    assert _fp(_image(built, "windows-udf-iso", ".iso", "hyperv"), "hyperv").unclassified == ()


def test_a_decoded_install_wim_separates_hypervisor_stack_and_parent_os(built: Built) -> None:
    cats = _by_tail(_fp(_image(built, "wim", ".wim", "xpress"), "hyperv"))
    assert cats["1/Windows/System32/drivers/hvboot.sys"] == "hypervisor-kernel"
    assert cats["1/Windows/System32/vmms.exe"] == "virtualization-stack"
    assert cats["1/Windows/System32/drivers/vmbus.sys"] == "virtualization-stack"
    assert cats["1/Windows/System32/ntoskrnl.exe"] == "parent-os"


def test_msu_component_files_and_servicing_metadata_are_classified(built: Built) -> None:
    fp = _fp(_image(built, "msu", ".msu"), "hyperv")
    cats = _by_tail(fp)
    assert cats["update.mum"] == "other"
    assert {c for p, c in cats.items() if p.endswith(".dll")} == {"parent-os"}
    assert fp.unclassified == ()


def test_a_user_profile_overrides_the_builtin_on_a_real_fixture(built: Built, tmp_path: Path) -> None:
    user = tmp_path / "strict.toml"
    user.write_text('[profile]\nname = "strict"\nextends = "hyperv"\n[[rule]]\nid = "vmms-is-hypervisor"\n'
                    'category = "hypervisor-kernel"\nsource = "test"\nbasename = "vmms.exe"\n', encoding="utf-8")
    path = _image(built, "wim", ".wim", "xpress")
    fp = classify(_walk(path), load_profile(str(user)))
    assert fp.category_of(f"{path.name}!/1/Windows/System32/vmms.exe") == "hypervisor-kernel"


# -- Xen on Debian ----------------------------------------------------------------------------------------------
def test_xen_hypervisor_image_is_the_hypervisor_kernel(built: Built) -> None:
    fp = _fp(_image(built, "xen-deb-series", ".deb"), "xen")
    kernel = [a.path.rsplit("!/", 1)[-1] for a in fp.files_in("hypervisor-kernel")]
    assert sorted(kernel) == ["boot/xen-4.17-amd64.efi", "xen-4.17-amd64"]
    assert fp.unclassified == ()


def test_xen_installed_size_matches_dpkg_deb(built: Built) -> None:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    path = _image(built, "xen-deb-series", ".deb")
    kib = subprocess.run(["dpkg-deb", "-f", str(path), "Installed-Size"], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert _fp(path, "xen").installed_size == int(kib) * 1024


# -- the command on fixtures ---------------------------------------------------------------------------------------
def test_footprint_command_shows_esxi_and_windows_side_by_side(built: Built) -> None:
    esxi = _image(built, "esxi-iso", ".iso")
    win = _image(built, "windows-udf-iso", ".iso", "hyperv")
    result = CliRunner().invoke(app, ["footprint", str(esxi), str(win), "--no-store"])
    header = result.output.splitlines()[0].split()
    assert header == [esxi.name, win.name]
    assert "hypervisor kernel" in result.output and UNCLASSIFIED in result.output


def test_explain_on_a_fixture_names_the_rule(built: Built) -> None:
    esxi = _image(built, "esxi-iso", ".iso")
    result = CliRunner().invoke(app, ["footprint", str(esxi), "--no-store", "--explain", "hypervisor-kernel"])
    assert result.exit_code == 0 and "esxi-vmkernel-payload" in result.output


def test_hyperv_installed_size_is_install_wims_total_bytes_only(built: Built) -> None:
    path = _image(built, "windows-udf-iso", ".iso", "hyperv")
    wim = next(e for e in _walk(path).entries if e.path.endswith("install.wim"))
    assert _fp(path, "hyperv").installed_size == sum(i["total_bytes"] for i in wim.meta["images"])
