"""The generic fixtures are reproducible, small, and made the way the brief says."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from fixtures.registry import build
from tests.conftest import require_tool

GENERIC = ["linux-iso", "linux-iso-genisoimage", "iso-variants", "zip-bundle", "cab", "archives", "bad"]


def _digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.mark.parametrize("name", GENERIC)
def test_building_twice_gives_byte_identical_files(name: str, tmp_path: Path) -> None:
    require_tool("xorriso", "genisoimage", "dpkg-deb", "zip", "gcab", "cpio", "7zz", "zstd")
    first = _digests(build(name, tmp_path / "one"))
    time.sleep(1.1)  # a build that stamped the clock anywhere would now differ
    second = _digests(build(name, tmp_path / "two"))
    assert first == second


def test_generic_fixtures_stay_well_under_twenty_megabytes(built) -> None:
    total = sum(p.stat().st_size for name in GENERIC for p in built(name))
    assert total < 5 * 1024 * 1024


def test_linux_iso_has_bios_and_efi_el_torito_entries_per_xorriso(built) -> None:
    require_tool("xorriso")
    iso = built("linux-iso")[0]
    out = subprocess.run(["xorriso", "-indev", str(iso), "-report_el_torito", "plain"],
                         capture_output=True, text=True, check=True).stdout
    assert "El Torito boot img :   1  BIOS  y   none" in out
    assert "El Torito boot img :   2  UEFI  y   none" in out


def test_genisoimage_variant_carries_rock_ridge_and_joliet(built) -> None:
    require_tool("isoinfo")
    iso = built("linux-iso-genisoimage")[0]
    out = subprocess.run(["isoinfo", "-d", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    assert "Rock Ridge signatures" in out
    assert "Joliet" in out
    assert "El Torito" in out


def test_deb_in_the_pool_is_a_valid_package_holding_the_xen_image(built, tmp_path: Path) -> None:
    require_tool("xorriso", "dpkg-deb")
    from fixtures.generic import XEN_POOL_PATH

    deb = tmp_path / "x.deb"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(built("linux-iso")[0]),
                    "-extract", "/" + XEN_POOL_PATH, str(deb)], capture_output=True, check=True)
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./boot/xen-4.17-amd64.gz" in listing
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package"], capture_output=True, text=True,
                            check=True).stdout
    assert fields.strip() == "xen-hypervisor-4.17-amd64"


def test_encrypted_zip_opens_with_its_password_in_unzip(built) -> None:
    require_tool("unzip")
    enc = next(p for p in built("zip-bundle") if p.name == "encrypted.zip")
    out = subprocess.run(["unzip", "-P", "fixture", "-p", str(enc), "secret.txt"], capture_output=True,
                         check=True).stdout
    assert out == b"top secret\n" * 10
    wrong = subprocess.run(["unzip", "-P", "nope", "-p", str(enc), "secret.txt"], capture_output=True)
    assert wrong.returncode != 0
