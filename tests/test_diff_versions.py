"""Version-string normalisation used for version-aware pairing."""

import pytest

from inspector.diff.versions import natural_key, normalise_name


@pytest.mark.parametrize(("old", "new"), [
    ("xen-4.17.3.gz", "xen-4.17.5.gz"),
    ("VMware-VMvisor-big-3.5.0-110271.i386.dd.bz2", "VMware-VMvisor-big-3.5.0-123629.i386.dd.bz2"),
    ("VMware_bootbank_esx-base_8.0.3-0.35.24280767.vib", "VMware_bootbank_esx-base_8.0.3-0.40.24414501.vib"),
    ("Intel_bootbank_net-ixgbe_3.7.13-1OEM.500.0.0.472560", "Intel_bootbank_net-ixgbe_3.7.14-2OEM.600.0.0.2494585"),
    ("name_1.2-3_amd64.deb", "name_1.10-1_amd64.deb"),
    ("xen-hypervisor-4.17-amd64_4.17.3+10-g091466ba55-1~deb12u1_amd64.deb",
     "xen-hypervisor-4.17-amd64_4.17.5+23-ga4e5191dcf-1~deb12u2_amd64.deb"),
    ("a-1.0.tgz", "a-1.1.tgz"),
    ("libfoo.so.1.2.3", "libfoo.so.1.3"),
])
def test_names_differing_only_in_version_normalise_equal(old: str, new: str) -> None:
    assert normalise_name(old) == normalise_name(new)


@pytest.mark.parametrize(("a", "b"), [
    ("xen-4.17.3.gz", "xen-4.17.3.efi"),
    ("name_1.2-3_amd64.deb", "name_1.2-3_i386.deb"),
    ("file1.txt", "file2.txt"),
    ("S.V00", "S.V01"),
])
def test_names_differing_otherwise_stay_apart(a: str, b: str) -> None:
    assert normalise_name(a) != normalise_name(b)


def test_names_without_versions_are_unchanged() -> None:
    assert normalise_name("README") == "README"
    assert normalise_name("vmware.xml") == "vmware.xml"


def test_natural_key_orders_numbers_numerically() -> None:
    assert sorted(["a-1.10", "a-1.9", "a-1.2"], key=natural_key) == ["a-1.2", "a-1.9", "a-1.10"]
