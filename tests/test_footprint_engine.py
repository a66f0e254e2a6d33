"""Footprint engine over synthetic inventories: categories, exact totals, stored shares, first match wins."""

from __future__ import annotations

import pytest

from inspector.footprint import UNCLASSIFIED, classify, load_profile
from inspector.footprint.engine import stored_shares
from inspector.footprint.profile import Conditions, Profile, Rule
from inspector.inventory import totals
from inspector.model import Inventory
from tests.test_footprint_helpers import container, esxi_like, leaf

EXPECTED_ESXI = {
    "esxi.iso!/ISOLINUX.BIN": ("boot", "esxi-boot-loaders"),
    "esxi.iso!/BOOT.CFG": ("boot", "esxi-boot-loaders"),
    "esxi.iso!/EFI/BOOT/BOOTX64.EFI": ("boot", "esxi-boot-loaders"),
    "esxi.iso!/K.B00!/k": ("hypervisor-kernel", "esxi-vmkernel"),
    "esxi.iso!/B.B00!/b": ("boot", "esxi-firmware"),
    "esxi.iso!/S.V00!/s.vtar!/usr/lib/vmware/vmkmod/vmkapi": ("hypervisor-kernel", "esxi-vmkmod"),
    "esxi.iso!/S.V00!/s.vtar!/bin/vmx": ("virtualization-stack", "esxi-vmx"),
    "esxi.iso!/S.V00!/s.vtar!/usr/lib/vmware/hostd/bin/hostd": ("management", "esxi-agents"),
    "esxi.iso!/S.V00!/s.vtar!/usr/share/doc/open_source_licenses.txt": ("documentation", "esxi-docs"),
    "esxi.iso!/S.V00!/s.vtar!/etc/vmware/config": ("other", "esxi-config"),
    "esxi.iso!/NET_E100.V00!/net-e1000.vtar!/usr/lib/vmware/vmkmod/e1000": ("drivers", "esxi-driver-payloads"),
    "esxi.iso!/WEASELIN.T00!/weaselin.tar!/usr/lib/vmware/weasel/weasel.py": ("installer", "esxi-installer"),
    "esxi.iso!/MYSTERY.DAT": (UNCLASSIFIED, None),
}


def _rule(rid: str, category: str, **when: object) -> Rule:
    return Rule(id=rid, category=category, when=Conditions(**when))  # type: ignore[arg-type]


def test_every_file_of_an_esxi_like_image_lands_in_the_expected_category() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    got = {a.path: (a.category, a.rule) for a in fp.assignments}
    assert got == EXPECTED_ESXI


def test_category_unpacked_sizes_add_up_to_the_inventory_unpacked_total_exactly() -> None:
    inv = esxi_like()
    fp = classify(inv, load_profile("esxi"))
    assert sum(c.unpacked for c in fp.categories) == fp.unpacked_size == totals(inv).unpacked_size


def test_category_file_counts_add_up_to_the_inventory_file_count() -> None:
    inv = esxi_like()
    fp = classify(inv, load_profile("esxi"))
    assert sum(c.files for c in fp.categories) == fp.files == totals(inv).files


def test_category_stored_sizes_add_up_to_the_stored_total() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    assert sum(c.stored for c in fp.categories) == fp.stored_size


def test_stored_total_never_exceeds_the_download_size() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    assert 0 < fp.stored_size <= fp.download_size


def test_a_compressed_payload_carries_the_compressed_size_as_its_stored_share() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    k = next(a for a in fp.assignments if a.path == "esxi.iso!/K.B00!/k")
    assert (k.size, k.stored) == (30_000, 10_000)


def test_files_in_a_compressed_tar_share_its_compressed_bytes_in_proportion_to_size() -> None:
    shares = stored_shares(esxi_like())
    # s.vtar (60,000 B) is stored as 20,000 B: each member keeps a third of its size.
    assert shares["esxi.iso!/S.V00!/s.vtar!/bin/vmx"] == pytest.approx(4_000)


def test_a_members_stated_stored_size_is_used_over_its_size() -> None:
    inv = Inventory(source="b.zip", entries=(
        container("b.zip", 1_000, "zip"),
        leaf("b.zip!/a", 5_000, stored=400),
        leaf("b.zip!/b", 100, stored=100),
    ))
    shares = stored_shares(inv)
    assert (shares["b.zip!/a"], shares["b.zip!/b"]) == (400, 100)


def test_unmatched_files_are_listed_as_unclassified_not_dropped() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    assert [a.path for a in fp.unclassified] == ["esxi.iso!/MYSTERY.DAT"]
    assert fp.category(UNCLASSIFIED).unpacked == 777


def test_the_first_matching_rule_wins() -> None:
    profile = Profile(name="t", title="t", rules=(
        _rule("first", "drivers", basename=("*.sys",)),
        _rule("second", "other", basename=("*",)),
    ))
    inv = Inventory(source="x.tar", entries=(container("x.tar", 10, "tar"), leaf("x.tar!/a.sys", 3)))
    fp = classify(inv, profile)
    assert (fp.category_of("x.tar!/a.sys"), fp.assignments[0].rule) == ("drivers", "first")


def test_category_of_an_unknown_path_raises_key_error() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    with pytest.raises(KeyError):
        fp.category_of("esxi.iso!/nope")


def test_containers_and_directories_are_not_classified() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    paths = {a.path for a in fp.assignments}
    assert "esxi.iso!/K.B00" not in paths and "esxi.iso!/EFI" not in paths


def test_categories_are_in_profile_order_with_unclassified_last() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    assert [c.id for c in fp.categories][:2] == ["hypervisor-kernel", "virtualization-stack"]
    assert fp.categories[-1].id == UNCLASSIFIED


def test_an_empty_category_is_reported_with_zero_files() -> None:
    inv = Inventory(source="x.tar", entries=(container("x.tar", 10, "tar"), leaf("x.tar!/README", 3, "text")))
    fp = classify(inv, load_profile("esxi"))
    assert fp.category("virtualization-stack").files == 0


def test_installed_size_comes_from_the_metadata_keys_the_profile_names() -> None:
    inv = Inventory(source="x.deb", entries=(
        container("x.deb", 100, "deb", control={"package": "xen-hypervisor-4.17-amd64", "installed_size": 4096}),
        leaf("x.deb!/debian-binary", 4, "text"),
    ))
    fp = classify(inv, load_profile("xen"))
    assert fp.installed_size == 4096


def test_installed_size_is_none_when_no_metadata_states_it() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    assert fp.installed_size is None


def test_unread_files_are_classified_and_listed_but_not_counted() -> None:
    inv = Inventory(source="x.tar", entries=(
        container("x.tar", 10_000, "tar"),
        leaf("x.tar!/boot/xen-4.17-amd64.efi", 3_000, "pe"),
        leaf("x.tar!/boot/xen.gz", 5_000, unread=True),
    ))
    fp = classify(inv, load_profile("xen"))
    kernel = fp.category("hypervisor-kernel")
    assert fp.category_of("x.tar!/boot/xen.gz") == "hypervisor-kernel"
    assert (kernel.files, kernel.unpacked, kernel.unread) == (1, 3_000, 1)
    assert fp.unpacked_size == totals(inv).unpacked_size == 3_000
