"""ISO 9660 images (Rock Ridge, Joliet, plain, El Torito) list and hash like xorriso and isoinfo see them."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import subprocess
from pathlib import Path

import pytest

from fixtures.generic import EXTRAS_TGZ, LONG_NAME, XEN_DEB, XEN_POOL_PATH
from inspector.model import NEST, EntryKind, Inventory
from inspector.walker import walk
from tests.conftest import require_tool

_LSDL = re.compile(r"^(\S)\S{9}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\w+\s+\d+\s+\d+\s+'(.*?)'(?: -> '(.*)')?$")
_KINDS = {"-": EntryKind.FILE, "d": EntryKind.DIR, "l": EntryKind.SYMLINK, "e": EntryKind.FILE}


def _xorriso_listing(iso: Path) -> dict[str, tuple[EntryKind, int | None, str | None]]:
    """path -> (kind, size for files, link target) from ``xorriso -find / -exec lsdl``."""
    out = subprocess.run(["xorriso", "-indev", str(iso), "-find", "/", "-exec", "lsdl", "--"],
                         capture_output=True, text=True, check=True).stdout
    listing = {}
    for line in out.splitlines():
        m = _LSDL.match(line)
        if not m or m.group(3) == "/":
            continue
        kind = _KINDS[m.group(1)]  # "e" is xorriso's mark for the El Torito boot catalog, a file
        listing[m.group(3).lstrip("/")] = (kind, int(m.group(2)) if kind is EntryKind.FILE else None, m.group(4))
    return listing


def _our_listing(inv: Inventory, container: str) -> dict[str, tuple[EntryKind, int | None, str | None]]:
    """Direct members of ``container`` as (kind, size for files, link target)."""
    return {e.name: (e.kind, e.size if e.kind is EntryKind.FILE else None, e.link_target)
            for e in inv.entries if e.parent == container}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def linux(built) -> tuple[Path, Inventory]:
    iso = built("linux-iso")[0]
    return iso, walk(iso)


def test_xorriso_iso_listing_matches_xorriso_find(linux) -> None:
    require_tool("xorriso")
    iso, inv = linux
    assert _our_listing(inv, iso.name) == _xorriso_listing(iso)


def test_genisoimage_iso_listing_matches_xorriso_find(built) -> None:
    require_tool("xorriso")
    iso = built("linux-iso-genisoimage")[0]
    assert _our_listing(walk(iso), iso.name) == _xorriso_listing(iso)


def test_genisoimage_iso_names_match_isoinfo_rock_ridge_find(built) -> None:
    require_tool("isoinfo")
    iso = built("linux-iso-genisoimage")[0]
    out = subprocess.run(["isoinfo", "-f", "-R", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    theirs = {line.lstrip("/") for line in out.splitlines() if line.strip()}
    assert set(_our_listing(walk(iso), iso.name)) == theirs


@pytest.mark.parametrize("member", ["casper/vmlinuz", "casper/initrd.gz", XEN_POOL_PATH, EXTRAS_TGZ,
                                    "docs/" + LONG_NAME, "isolinux/isolinux.bin", "isolinux/boot.cat"])
def test_member_sha256_matches_isoinfo_extraction(linux, member: str) -> None:
    require_tool("isoinfo")
    iso, inv = linux
    data = subprocess.run(["isoinfo", "-R", "-i", str(iso), "-x", "/" + member], capture_output=True,
                          check=True).stdout
    entry = inv.by_path()[f"{iso.name}{NEST}{member}"]
    assert (entry.size, entry.sha256) == (len(data), _sha(data))


def test_genisoimage_member_sha256_matches_xorriso_extraction(built, tmp_path: Path) -> None:
    require_tool("xorriso")
    iso = built("linux-iso-genisoimage")[0]
    out = tmp_path / "vmlinuz"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/casper/vmlinuz", str(out)],
                   capture_output=True, check=True)
    entry = walk(iso).by_path()[f"{iso.name}{NEST}casper/vmlinuz"]
    assert entry.sha256 == _sha(out.read_bytes())


def test_deep_chain_is_opened_to_the_payload_with_the_nested_logical_path(linux) -> None:
    iso, inv = linux
    path = NEST.join([iso.name, EXTRAS_TGZ, "extras.tar", XEN_DEB, "data.tar.xz", "data.tar",
                      "boot/xen-4.17-amd64.gz", "xen-4.17-amd64"])
    entry = inv.by_path()[path]
    assert entry.depth == 7
    assert entry.detected == "elf-executable"
    assert entry.is_leaf_file


def test_deep_chain_payload_hash_matches_dpkg_deb_and_gzip(linux, tmp_path: Path) -> None:
    require_tool("isoinfo", "dpkg-deb", "tar")
    iso, inv = linux
    deb = tmp_path / "x.deb"
    deb.write_bytes(subprocess.run(["isoinfo", "-R", "-i", str(iso), "-x", "/" + XEN_POOL_PATH],
                                   capture_output=True, check=True).stdout)
    fsys = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    gz = subprocess.run(["tar", "-xOf", "-", "./boot/xen-4.17-amd64.gz"], input=fsys, capture_output=True,
                        check=True).stdout
    payload = gzip.decompress(gz)
    path = NEST.join([iso.name, XEN_POOL_PATH, "data.tar.xz", "data.tar", "boot/xen-4.17-amd64.gz",
                      "xen-4.17-amd64"])
    assert inv.by_path()[path].sha256 == _sha(payload)


def test_deb_data_listing_matches_dpkg_deb_contents(linux, tmp_path: Path) -> None:
    require_tool("isoinfo", "dpkg-deb")
    iso, inv = linux
    deb = tmp_path / "x.deb"
    deb.write_bytes(subprocess.run(["isoinfo", "-R", "-i", str(iso), "-x", "/" + XEN_POOL_PATH],
                                   capture_output=True, check=True).stdout)
    theirs = {}
    for line in subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        perms, _owner, size, _date, _time, name = line.split(None, 5)
        name = name.removeprefix("./").rstrip("/") or "."
        kind = {"-": EntryKind.FILE, "d": EntryKind.DIR}[perms[0]]
        theirs[name] = (kind, int(size) if kind is EntryKind.FILE else None, None)
    container = NEST.join([iso.name, XEN_POOL_PATH, "data.tar.xz", "data.tar"])
    assert _our_listing(inv, container) == theirs


def test_el_torito_boot_entries_are_in_the_iso_meta_as_xorriso_reports_them(linux) -> None:
    require_tool("xorriso")
    iso, inv = linux
    out = subprocess.run(["xorriso", "-indev", str(iso), "-report_el_torito", "plain"], capture_output=True,
                         text=True, check=True).stdout
    lbas = [int(line.split()[-1]) for line in out.splitlines() if line.startswith("El Torito boot img :")]
    boot = inv.root.meta["el_torito"]
    assert [(b["platform"], b["emulation"], b["file"], b["load_rba"]) for b in boot] == [
        ("bios", "none", "isolinux/isolinux.bin", lbas[0]),
        ("efi", "none", "boot/grub/efiboot.img", lbas[1]),
    ]


def test_rock_ridge_is_the_tree_read_when_all_three_are_present(linux) -> None:
    _iso, inv = linux
    assert inv.root.meta["tree"] == "rock-ridge"
    assert inv.root.meta["trees"] == ["rock-ridge", "joliet", "iso9660"]


def test_rock_ridge_keeps_symlinks_long_names_modes_and_empty_files(linux) -> None:
    iso, inv = linux
    by = inv.by_path()
    link = by[f"{iso.name}{NEST}dists"]
    assert (link.kind, link.link_target) == (EntryKind.SYMLINK, "pool")
    assert by[f"{iso.name}{NEST}docs/{LONG_NAME}"].size == 28
    empty = by[f"{iso.name}{NEST}docs/empty.txt"]
    assert (empty.size, empty.sha256) == (0, _sha(b""))
    assert by[f"{iso.name}{NEST}casper/vmlinuz"].mode == 0o644


def test_inventory_of_the_linux_iso_is_complete(linux) -> None:
    _iso, inv = linux
    assert inv.complete, [p.line() for p in inv.problems]


def test_joliet_only_image_lists_joliet_names_like_isoinfo(built) -> None:
    require_tool("isoinfo")
    iso = next(p for p in built("iso-variants") if p.name == "joliet-only.iso")
    inv = walk(iso)
    out = subprocess.run(["isoinfo", "-f", "-J", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    assert inv.root.meta["tree"] == "joliet"
    assert set(_our_listing(inv, iso.name)) == {line.lstrip("/") for line in out.splitlines() if line.strip()}
    assert f"{iso.name}{NEST}Mixed Case Name.txt" in inv.by_path()


def test_plain_iso9660_image_lists_names_without_version_suffix(built) -> None:
    require_tool("isoinfo")
    iso = next(p for p in built("iso-variants") if p.name == "iso9660-only.iso")
    inv = walk(iso)
    out = subprocess.run(["isoinfo", "-f", "-i", str(iso)], capture_output=True, text=True, check=True).stdout
    theirs = {re.sub(r"\.?;\d+$", "", line.lstrip("/")) for line in out.splitlines() if line.strip()}
    assert inv.root.meta["tree"] == "iso9660"
    assert set(_our_listing(inv, iso.name)) == theirs


def test_plain_iso9660_member_hash_matches_isoinfo_extraction(built) -> None:
    require_tool("isoinfo")
    iso = next(p for p in built("iso-variants") if p.name == "iso9660-only.iso")
    data = subprocess.run(["isoinfo", "-i", str(iso), "-x", "/DIR1/DIR2/DATA.BIN;1"], capture_output=True,
                          check=True).stdout
    assert walk(iso).by_path()[f"{iso.name}{NEST}DIR1/DIR2/DATA.BIN"].sha256 == _sha(data)


def test_a_small_one_extent_file_is_handed_over_with_its_content() -> None:
    from inspector.streams import ReadWindow
    from inspector.unpack.iso9660_walk import _small_content

    image = io.BytesIO(b"x" * 2048 + b"content!" + bytes(2040))
    assert _small_content(ReadWindow(image), [(2048, 8)], 8) == b"content!"


def test_a_multi_extent_large_or_empty_file_is_left_to_its_stream() -> None:
    from inspector.streams import HEAD_SIZE, ReadWindow
    from inspector.unpack.iso9660_walk import _small_content

    image = io.BytesIO(bytes(4 * HEAD_SIZE))
    assert _small_content(ReadWindow(image), [(0, 8), (2048, 8)], 16) is None
    assert _small_content(ReadWindow(image), [(0, HEAD_SIZE + 1)], HEAD_SIZE + 1) is None
    assert _small_content(ReadWindow(image), [(0, 0)], 0) is None


def test_a_small_file_the_image_cuts_short_is_left_to_its_stream_which_says_so() -> None:
    from inspector.streams import ReadWindow
    from inspector.unpack.iso9660_walk import _small_content

    assert _small_content(ReadWindow(io.BytesIO(b"abc")), [(0, 8)], 8) is None
