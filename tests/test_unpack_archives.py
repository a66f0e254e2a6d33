"""tar, cpio, ar, 7z, CAB and ZIP list and hash as the formats' own tools (not libarchive) see them."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from inspector.model import NEST, EntryKind, Inventory
from inspector.names import member_path
from inspector.walker import walk
from tests.conftest import require_tool

Listing = dict[str, tuple[EntryKind, int | None, str | None]]
_KINDS = {"-": EntryKind.FILE, "d": EntryKind.DIR, "l": EntryKind.SYMLINK, "h": EntryKind.HARDLINK}


def _run(*cmd: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    return subprocess.run(cmd, input=stdin, capture_output=True, check=True, cwd=cwd).stdout


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ours(inv: Inventory, container: str | None = None) -> Listing:
    """Direct members of ``container`` (default: the image) as (kind, size of files, link target)."""
    container = container or inv.root.path
    return {e.name: (e.kind, e.size if e.kind is EntryKind.FILE else None, e.link_target)
            for e in inv.entries if e.parent == container}


def _entry(inv: Inventory, member: str):
    return inv.by_path()[f"{inv.root.path}{NEST}{member}"]


def _file(built, fixture: str, name: str) -> Path:
    return next(p for p in built(fixture) if p.name == name)


# -- tar: GNU tar is the oracle -------------------------------------------------------------------------
def _gnu_tar_listing(path: Path) -> Listing:
    out = _run("tar", "--numeric-owner", "--quoting-style=literal", "-tvf", str(path)).decode()
    listing: Listing = {}
    for line in out.splitlines():
        perms, _owner, size, _date, _time, rest = line.split(None, 5)
        kind = _KINDS[perms[0]]
        target = None
        if kind is EntryKind.SYMLINK:
            rest, target = rest.split(" -> ", 1)
        elif kind is EntryKind.HARDLINK:
            rest, target = rest.split(" link to ", 1)
            target = member_path(target)
        listing[member_path(rest)] = (kind, int(size) if kind is EntryKind.FILE else None, target)
    return listing


@pytest.mark.parametrize("name", ["gnu.tar", "pax.tar", "ustar.tar", "v7.tar", "v7-python.tar", "pax-python.tar"])
def test_tar_variant_listing_matches_gnu_tar(built, name: str) -> None:
    require_tool("tar")
    path = _file(built, "archives", name)
    assert _ours(walk(path)) == _gnu_tar_listing(path)


@pytest.mark.parametrize("name", ["pax.tar", "gnu.tar", "pax-python.tar"])
def test_tar_long_member_name_is_kept_whole(built, name: str) -> None:
    from fixtures.generic import LONG_TAR_DIR

    names = set(_ours(walk(_file(built, "archives", name))))
    assert any(n.startswith(LONG_TAR_DIR + "/") and len(n) > 100 for n in names)


@pytest.mark.parametrize("name", ["gnu.tar", "pax.tar", "ustar.tar", "v7.tar"])
def test_tar_member_sha256_matches_gnu_tar_extraction(built, name: str) -> None:
    require_tool("tar")
    path = _file(built, "archives", name)
    inv = walk(path)
    for member in ("bin/tool", "etc/config.txt", "lib/deep/er/still/lib.so"):
        data = _run("tar", "-xOf", str(path), "./" + member)
        assert _entry(inv, member).sha256 == _sha(data), member


def test_v7_header_without_magic_is_recognised_as_tar(built) -> None:
    path = _file(built, "archives", "v7-python.tar")
    assert path.read_bytes()[257:263] == b"\x00" * 6
    inv = walk(path)
    assert inv.root.container == "tar"
    assert _entry(inv, "hello.txt").sha256 == _sha(b"hello v7\n")


# -- cpio, ar, 7z -------------------------------------------------------------------------------------
def test_cpio_newc_listing_matches_gnu_cpio(built) -> None:
    require_tool("cpio")
    path = _file(built, "archives", "newc.cpio")
    out = _run("cpio", "-itvn", "--quiet", stdin=path.read_bytes()).decode()
    theirs = {}
    for line in out.splitlines():
        perms, _links, _uid, _gid, size, _mon, _day, _year, rest = line.split(None, 8)
        kind = _KINDS[perms[0]]
        if kind is EntryKind.SYMLINK:
            rest = rest.split(" -> ", 1)[0]
        theirs[rest] = (kind, int(size) if kind is EntryKind.FILE else None)
    ours = {name: (kind, size) for name, (kind, size, _target) in _ours(walk(path)).items()}
    assert ours == theirs


def test_cpio_hard_link_content_is_counted_once_with_the_link_that_carries_it(built) -> None:
    inv = walk(_file(built, "archives", "newc.cpio"))
    first, carrier = _entry(inv, "bin/tool"), _entry(inv, "bin/tool-hard")
    assert (first.size, carrier.size) == (0, 20 * 1024)
    assert carrier.kind is EntryKind.FILE and carrier.link_target == "bin/tool"
    assert carrier.sha256 == _entry(walk(_file(built, "archives", "gnu.tar")), "bin/tool").sha256


def test_cpio_member_sha256_matches_gnu_cpio_extraction(built) -> None:
    require_tool("cpio")
    path = _file(built, "archives", "newc.cpio")
    data = _run("cpio", "-i", "--to-stdout", "--quiet", "lib/deep/er/still/lib.so", stdin=path.read_bytes())
    assert _entry(walk(path), "lib/deep/er/still/lib.so").sha256 == _sha(data)


@pytest.mark.parametrize("fmt", ["bin", "odc", "newc", "crc"])
def test_cpio_of_every_gnu_cpio_format_is_opened(tmp_path: Path, fmt: str) -> None:
    require_tool("cpio")
    (tmp_path / "hello.txt").write_bytes(b"hello, cpio\n")
    archive = tmp_path / f"{fmt}.cpio"
    archive.write_bytes(_run("cpio", "-o", "-H", fmt, "--quiet", stdin=b"hello.txt\n", cwd=tmp_path))
    inv = walk(archive)
    assert inv.root.container == "cpio" and inv.complete
    assert _entry(inv, "hello.txt").sha256 == _sha(b"hello, cpio\n")


def test_a_file_that_merely_starts_with_the_binary_cpio_magic_is_a_plain_file(tmp_path: Path) -> None:
    # two magic bytes, then data no cpio writer makes: an unknown file type and no NUL-ended name
    path = tmp_path / "data.bin"
    path.write_bytes(b"\xc7\x71" + bytes(range(256)) * 8)
    inv = walk(path)
    assert inv.root.container is None and inv.complete and not inv.problems


def test_text_that_starts_with_an_ascii_cpio_magic_is_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"070701 is the magic of a newc cpio header, as this note explains at length.\n" * 4)
    inv = walk(path)
    assert inv.root.container is None and not inv.problems


def test_a_cpio_cut_inside_its_first_name_is_still_read_as_a_damaged_cpio(tmp_path: Path) -> None:
    require_tool("cpio")
    (tmp_path / ("long-name-" * 20 + ".txt")).write_bytes(b"x")
    whole = _run("cpio", "-o", "-H", "bin", "--quiet", stdin=("long-name-" * 20 + ".txt\n").encode(), cwd=tmp_path)
    path = tmp_path / "cut.cpio"
    path.write_bytes(whole[:60])
    inv = walk(path)
    assert inv.root.container == "cpio" and not inv.complete


def test_ar_listing_matches_binutils_ar_and_hides_the_long_name_table(built) -> None:
    require_tool("ar")
    path = _file(built, "archives", "lib.a")
    theirs = {}
    for line in _run("ar", "tv", str(path)).decode().splitlines():
        _perms, _owner, size, _mon, _day, _time, _year, name = line.split(None, 7)
        theirs[name] = (EntryKind.FILE, int(size), None)
    assert _ours(walk(path)) == theirs


def test_ar_member_sha256_matches_ar_print(built) -> None:
    require_tool("ar")
    path = _file(built, "archives", "lib.a")
    data = _run("ar", "p", str(path), "a-member-name-longer-than-15.o")
    assert _entry(walk(path), "a-member-name-longer-than-15.o").sha256 == _sha(data)


def _sevenzip_listing(path: Path) -> Listing:
    out = _run("7zz", "l", "-slt", str(path)).decode()
    listing: Listing = {}
    for block in out.split("\n\n"):
        fields = dict(line.split(" = ", 1) for line in block.splitlines() if " = " in line)
        if "Path" not in fields or "Attributes" not in fields:
            continue
        kind = EntryKind.DIR if fields["Attributes"].startswith("D") else EntryKind.FILE
        listing[fields["Path"]] = (kind, int(fields["Size"]) if kind is EntryKind.FILE else None, None)
    return listing


def test_7z_listing_matches_7zip(built) -> None:
    require_tool("7zz")
    path = _file(built, "archives", "tree.7z")
    assert _ours(walk(path)) == _sevenzip_listing(path)


def test_7z_member_sha256_matches_7zip_extraction(built) -> None:
    require_tool("7zz")
    path = _file(built, "archives", "tree.7z")
    data = _run("7zz", "e", "-so", str(path), "bin/tool")
    assert _entry(walk(path), "bin/tool").sha256 == _sha(data)


# -- CAB --------------------------------------------------------------------------------------------
def test_cab_listing_matches_cabextract(built) -> None:
    require_tool("cabextract")
    path = built("cab")[0]
    theirs = {}
    for line in _run("cabextract", "-l", str(path)).decode().splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            theirs[parts[2]] = (EntryKind.FILE, int(parts[0]), None)
    assert theirs and _ours(walk(path)) == theirs


def test_cab_listing_matches_gcab_with_backslash_paths_as_slashes(built) -> None:
    require_tool("gcab")
    path = built("cab")[0]
    theirs = {}
    for line in _run("gcab", "-l", str(path)).decode().splitlines():
        name, size = line.split()[:2]
        theirs[name.replace("\\", "/")] = (EntryKind.FILE, int(size), None)
    assert _ours(walk(path)) == theirs


@pytest.mark.parametrize("member", ["update.cat", "amd64_fixture/driver.sys"])
def test_cab_member_sha256_matches_cabextract_pipe(built, member: str) -> None:
    require_tool("cabextract")
    path = built("cab")[0]
    data = _run("cabextract", "-q", "-p", "-F", member, str(path))
    assert _entry(walk(path), member).sha256 == _sha(data)


# -- ZIP --------------------------------------------------------------------------------------------
def _zipinfo(path: Path) -> dict[str, tuple[EntryKind, int | None, int | None]]:
    """name -> (kind, size, compressed size) from ``unzip -Zl`` (Info-ZIP)."""
    listing = {}
    for line in _run("unzip", "-Zl", str(path)).decode().splitlines():
        parts = line.split(None, 9)
        if len(parts) != 10 or parts[1][0].isalpha():
            continue
        kind = EntryKind.DIR if parts[0].startswith("d") else EntryKind.FILE
        is_file = kind is EntryKind.FILE
        listing[parts[9].rstrip("/")] = (kind, int(parts[3]) if is_file else None, int(parts[5]) if is_file else None)
    return listing


def _ours_zip(inv: Inventory, container: str) -> dict[str, tuple[EntryKind, int | None, int | None]]:
    return {e.name: (e.kind, e.size if e.kind is EntryKind.FILE else None, e.stored_size)
            for e in inv.entries if e.parent == container}


def test_zip_bundle_listing_and_stored_sizes_match_zipinfo(built) -> None:
    require_tool("unzip")
    path = _file(built, "zip-bundle", "bundle.zip")
    assert _ours_zip(walk(path), path.name) == _zipinfo(path)


def test_nested_metadata_zip_listing_matches_zipinfo_of_the_extracted_zip(built, tmp_path: Path) -> None:
    require_tool("unzip")
    path = _file(built, "zip-bundle", "bundle.zip")
    inner = tmp_path / "metadata.zip"
    inner.write_bytes(_run("unzip", "-p", str(path), "metadata.zip"))
    assert _ours_zip(walk(path), f"{path.name}{NEST}metadata.zip") == _zipinfo(inner)


@pytest.mark.parametrize("member", ["payload/firmware.bin", "payload/notes.txt", "payload/tools.tar.gz", "index.xml"])
def test_zip_member_sha256_matches_unzip_pipe(built, member: str) -> None:
    require_tool("unzip")
    path = _file(built, "zip-bundle", "bundle.zip")
    data = _run("unzip", "-p", str(path), member)
    assert _entry(walk(path), member).sha256 == _sha(data)


def test_zip_stored_member_has_stored_size_equal_to_its_size(built) -> None:
    inv = walk(_file(built, "zip-bundle", "bundle.zip"))
    firmware = _entry(inv, "payload/firmware.bin")
    assert firmware.meta["method"] == "stored"
    assert firmware.stored_size == firmware.size == 40 * 1024


def test_tar_gz_inside_the_zip_is_opened_and_its_tar_matches_gnu_tar(built, tmp_path: Path) -> None:
    require_tool("unzip", "tar")
    path = _file(built, "zip-bundle", "bundle.zip")
    tgz = tmp_path / "tools.tar.gz"
    tgz.write_bytes(_run("unzip", "-p", str(path), "payload/tools.tar.gz"))
    container = NEST.join([path.name, "payload/tools.tar.gz", "tools.tar"])
    assert _ours(walk(path), container) == _gnu_tar_listing(tgz)
