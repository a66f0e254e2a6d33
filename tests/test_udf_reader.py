"""Our UDF reader, revision by revision and corner by corner, cross-checked against 7-Zip and libudfread.

Every image here is pure UDF (no ISO 9660 volume descriptor) unless it says otherwise: the reader
that came before (pycdlib) stopped at "must have at least one PVD" on all of them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fixtures.udf import (
    BLURAY_FILES,
    HUGE_CHUNKS,
    HUGE_SIZE,
    MKUDFFS_FILES,
    REVISIONS,
    revision_entries,
)
from fixtures.udf_writer import File
from inspector.model import EntryKind, ProblemKind
from inspector.walker import walk
from tests.conftest import require_tool
from tests.udf_oracles import libudfread_available, libudfread_files, sevenzip_extracted

_WALKS: dict[Path, object] = {}


def _walk(image: Path):  # noqa: ANN202 - an Inventory
    """``walk(image)``, once per image per session (the listings are read by many tests)."""
    if image not in _WALKS:
        _WALKS[image] = walk(image)
    return _WALKS[image]


def _image(built, fixture: str, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built(fixture) if p.name == name)


def _members(inv, image: Path) -> dict[str, object]:  # noqa: ANN001
    prefix = image.name + "!/"
    return {e.path[len(prefix):]: e for e in inv.entries
            if e.path.startswith(prefix) and "!/" not in e.path[len(prefix):]}


def _files(inv, image: Path) -> dict[str, tuple[int, str]]:  # noqa: ANN001
    """path -> (size, SHA-256) of files, hard links resolved to their target's content."""
    members = _members(inv, image)
    files = {k: (e.size, e.sha256) for k, e in members.items() if e.kind is EntryKind.FILE}
    links = {k: files[e.link_target] for k, e in members.items() if e.kind is EntryKind.HARDLINK}
    return {**files, **links}


def _need_libudfread() -> None:
    if not libudfread_available():
        pytest.skip("libudfread not installed (Debian package libudfread0)")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- recognition ------------------------------------------------------------------------------------
def test_pure_udf_image_is_read_as_a_udf_container(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-revisions", REVISIONS["2.01"][0])
    inv = _walk(image)
    assert inv.root.container == "udf"
    assert inv.root.meta["tree"] == "udf"
    assert inv.problems == ()
    assert _members(inv, image)["README.TXT"].kind is EntryKind.FILE


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_each_revision_reports_its_udf_revision_and_partition_maps(built, revision: str) -> None:  # noqa: ANN001
    name, opts = REVISIONS[revision]
    udf = _walk(_image(built, "udf-revisions", name)).root.meta["udf"]
    assert udf["revision"] == revision
    assert udf["partition_maps"] == (["physical", "metadata"] if opts.metadata else ["physical"])


# -- agreement with independent readers -------------------------------------------------------------
@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_each_revision_lists_what_7zip_extracts(built, tmp_path: Path, revision: str) -> None:  # noqa: ANN001
    require_tool("7zz")
    image = _image(built, "udf-revisions", REVISIONS[revision][0])
    ours = _files(_walk(image), image)
    assert ours == sevenzip_extracted(image, tmp_path)
    assert len(ours) == len(revision_entries())


@pytest.mark.parametrize("revision", sorted(REVISIONS))
def test_each_revision_lists_what_libudfread_reads(built, revision: str) -> None:  # noqa: ANN001
    _need_libudfread()
    image = _image(built, "udf-revisions", REVISIONS[revision][0])
    assert _files(_walk(image), image) == libudfread_files(image)


def test_each_revision_holds_the_content_it_was_written_with(built) -> None:  # noqa: ANN001
    expected = {p: (len(s.data), _sha(s.data)) for p, s in revision_entries().items() if isinstance(s, File)}
    for name, _ in REVISIONS.values():
        image = _image(built, "udf-revisions", name)
        ours = _files(_walk(image), image)
        assert {k: v for k, v in ours.items() if k in expected} == expected, name


@pytest.mark.parametrize("revision", ["1.02", "1.50", "2.01"])
def test_mkudffs_volumes_with_added_files_match_7zip_and_libudfread(built, tmp_path: Path, revision: str) -> None:  # noqa: ANN001
    require_tool("7zz")
    image = _image(built, "udf-mkudffs", f"mkudffs-{revision}.img")
    inv = _walk(image)
    ours = _files(inv, image)
    assert ours == {k: (len(v), _sha(v)) for k, v in MKUDFFS_FILES.items()}
    assert ours == sevenzip_extracted(image, tmp_path)
    if libudfread_available():
        assert ours == libudfread_files(image)
    assert inv.root.meta["udf"]["revision"] == revision
    assert inv.problems == ()


@pytest.mark.parametrize("revision", ["2.50", "2.60"])
def test_mkudffs_write_once_volumes_are_read_through_their_virtual_allocation_table(built, revision: str) -> None:  # noqa: ANN001
    # mkudffs writes UDF 2.50/2.60 only for write-once media, with a VAT (7-Zip and libudfread
    # refuse these images): the root directory is reached through the virtual partition.
    image = _image(built, "udf-mkudffs", f"mkudffs-{revision}.img")
    inv = _walk(image)
    assert inv.root.container == "udf"
    assert inv.root.meta["udf"]["partition_maps"] == ["physical", "virtual"]
    assert inv.root.meta["udf"]["revision"] == revision
    assert _members(inv, image) == {}
    assert inv.problems == ()


def test_udfkit_bluray_metadata_partition_matches_its_files_and_libudfread(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-bluray", "bluray.iso")
    inv = _walk(image)
    ours = _files(inv, image)
    assert inv.root.container == "udf"
    assert inv.root.meta["udf"]["partition_maps"] == ["physical", "metadata"]
    assert ours == {k: (len(v), _sha(v)) for k, v in BLURAY_FILES.items()}
    if libudfread_available():
        assert ours == libudfread_files(image)


def test_corner_images_match_libudfread_on_every_regular_file(built) -> None:  # noqa: ANN001
    _need_libudfread()
    for image in built("udf-corners"):
        inv = _walk(image)
        members = _members(inv, image)
        ours = _files(inv, image)  # var/all-holes.img (3 GiB, nothing recorded) is listed unhashed
        theirs = libudfread_files(image, max_hash_size=1 << 30)
        # libudfread lists symlinks, devices and FIFOs as files of their raw content: compare files only.
        theirs = {k: v for k, v in theirs.items() if members[k].kind in (EntryKind.FILE, EntryKind.HARDLINK)}
        assert ours == theirs, image.name


# -- corners ----------------------------------------------------------------------------------------
def test_hard_link_is_listed_as_a_link_and_its_content_counted_once(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-revisions", REVISIONS["2.50"][0])
    members = _members(_walk(image), image)
    link = members["sources/install-hardlink.wim"]
    assert link.kind is EntryKind.HARDLINK
    assert link.link_target == "sources/install.wim"
    assert link.size is None and link.sha256 is None
    assert members["sources/install.wim"].meta["link_count"] == 2


def test_embedded_data_is_read_from_the_file_entry(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-revisions", REVISIONS["1.02"][0])
    entry = _members(_walk(image), image)["embedded.txt"]
    data = b"stored inside its file entry"
    assert (entry.size, entry.sha256, entry.meta["embedded"]) == (len(data), _sha(data), True)


def test_symlinks_are_rebuilt_from_their_path_components(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-corners", "corners-meta.img")
    members = _members(_walk(image), image)
    assert {k: (e.kind, e.link_target) for k, e in members.items() if e.kind is EntryKind.SYMLINK} == {
        "bin/sh": (EntryKind.SYMLINK, "busybox"),
        "usr/bin/env": (EntryKind.SYMLINK, "../../bin/busybox"),
        "etc/mtab": (EntryKind.SYMLINK, "/proc/self/mounts"),
    }


def test_device_nodes_carry_major_and_minor_numbers(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-corners", "corners-efe-ext.img")
    members = _members(_walk(image), image)
    assert members["dev/sda"].kind is EntryKind.DEVICE
    assert dict(members["dev/sda"].meta) == {"device": "block", "major": 8, "minor": 0}
    assert dict(members["dev/null"].meta) == {"device": "char", "major": 1, "minor": 3}
    assert members["dev/null"].mode == 0o666


def test_fifo_is_listed_as_other_not_as_an_empty_file(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-corners", "corners-meta.img")
    fifo = _members(_walk(image), image)["run/initctl"]
    assert (fifo.kind, fifo.meta["udf_type"], fifo.sha256) == (EntryKind.OTHER, "fifo", None)


def _huge_sha() -> str:
    h = hashlib.sha256()
    pos = 0
    zeros = bytes(1 << 20)
    for off, data in HUGE_CHUNKS:
        while pos < off:
            n = min(len(zeros), off - pos)
            h.update(zeros[:n])
            pos += n
        h.update(data)
        pos += len(data)
    while pos < HUGE_SIZE:
        n = min(len(zeros), HUGE_SIZE - pos)
        h.update(zeros[:n])
        pos += n
    return h.hexdigest()


def test_file_over_4_gib_in_hundreds_of_continued_descriptors_has_its_full_size_and_hash(built) -> None:  # noqa: ANN001
    # 560 allocation descriptors (recorded chunks and holes): far more than a file entry holds, so the
    # list continues in allocation extent descriptors; the holes read as zeros. libudfread agrees on
    # the size (its hash is not computed: 4 GiB through ctypes).
    image = _image(built, "udf-huge", "huge.img")
    inv = walk(image)
    huge = _members(inv, image)["var/huge.img"]
    assert huge.size == HUGE_SIZE > 1 << 32
    assert huge.stored_size == sum(len(d) for _, d in HUGE_CHUNKS)
    assert huge.sha256 == _huge_sha()
    assert huge.meta["sparse"] is True
    assert inv.problems == ()
    if libudfread_available():
        assert libudfread_files(image, max_hash_size=0)["var/huge.img"][0] == HUGE_SIZE


def test_allocated_but_unrecorded_extents_read_as_zeros(built) -> None:  # noqa: ANN001
    from fixtures.common import pseudo_random

    image = _image(built, "udf-corners", "corners-efe-ext.img")
    entry = _members(_walk(image), image)["var/prealloc.bin"]
    data = pseudo_random("pre", 4 * 2048)
    expected = data + bytes(40 * 2048 + 5 - len(data))
    assert (entry.size, entry.stored_size, entry.sha256) == (len(expected), len(data), _sha(expected))


def test_file_with_nothing_recorded_is_listed_with_its_size_but_not_hashed_past_a_gigabyte(built) -> None:  # noqa: ANN001
    # 3 GiB described by three descriptors and no data: hashing it would cost minutes for nothing,
    # and the walker's expansion-ratio guard has no stored bytes to measure against.
    image = _image(built, "udf-corners", "corners-meta.img")
    inv = _walk(image)
    entry = _members(inv, image)["var/all-holes.img"]
    assert (entry.size, entry.stored_size, entry.sha256) == (3 << 30, 0, None)
    assert [p.kind for p in inv.problems if p.path.endswith("!/var/all-holes.img")] == [ProblemKind.LIMIT]


def test_odd_names_are_escaped_never_split_or_reinterpreted(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-odd-names", "odd-names.img")
    inv = _walk(image)
    members = _members(inv, image)
    assert "a\\ud800b" in members  # a lone UTF-16 surrogate, escaped
    assert "a\\x2fb" in members  # a '/' inside one name is not a path separator
    assert "dir/etc\\x2fpasswd/inside.txt" in members
    assert members["etc/passwd"].size == len(b"not the same file\n")
    assert "x\\x00" in members  # a 16-bit name with an odd byte count keeps the odd byte
    warned = {p.path.split("!/", 1)[1] for p in inv.problems if p.kind is ProblemKind.WARNING}
    assert warned == {"a\\ud800b", "x\\x00"}
    assert all(members[k].kind is EntryKind.FILE for k in ("a\\ud800b", "a\\x2fb", "x\\x00"))


def test_pycdlib_bridge_hard_link_and_symlink_are_read_from_udf(built) -> None:  # noqa: ANN001
    image = _image(built, "udf-pycdlib-links", "pycdlib-links.iso")
    inv = _walk(image)
    members = _members(inv, image)
    assert (inv.root.container, inv.root.meta["tree"]) == ("iso9660", "udf")
    assert (members["file-link.bin"].kind, members["file-link.bin"].link_target) == (EntryKind.HARDLINK,
                                                                                      "dir/file.bin")
    assert (members["dir/to-file"].kind, members["dir/to-file"].link_target) == (EntryKind.SYMLINK, "file.bin")
    assert "README.TXT" not in members


def test_sparable_partition_reads_a_remapped_packet_from_its_spare_sector(built) -> None:  # noqa: ANN001
    # mkudffs's CD-RW layout; one packet of data.bin was moved to a spare sector and zeroed in place,
    # so the file's bytes are no longer contiguous in the image: only the sparing table gives them back.
    image = _image(built, "udf-mkudffs", "mkudffs-2.01-sparable.img")
    inv = _walk(image)
    assert inv.root.meta["udf"]["partition_maps"] == ["sparable"]
    assert MKUDFFS_FILES["data.bin"] not in image.read_bytes()
    assert _files(inv, image) == {k: (len(v), _sha(v)) for k, v in MKUDFFS_FILES.items()}
    assert inv.problems == ()


def test_strategy_4096_volume_is_read(built) -> None:  # noqa: ANN001
    # mkudffs --strategy=4096 (ICB hierarchies for write-once rewriting); 7-Zip and libudfread refuse it.
    image = _image(built, "udf-mkudffs", "mkudffs-2.01-strategy4096.img")
    inv = _walk(image)
    assert _files(inv, image) == {k: (len(v), _sha(v)) for k, v in MKUDFFS_FILES.items()}
    assert inv.problems == ()


def _udfinfo(image: Path) -> dict[str, str]:
    import subprocess

    out = subprocess.run(["udfinfo", str(image)], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("start="))


@pytest.mark.parametrize("name", ["mkudffs-1.02.img", "mkudffs-1.50.img", "mkudffs-2.01.img", "mkudffs-2.50.img",
                                  "mkudffs-2.60.img", "mkudffs-2.01-sparable.img"])
def test_volume_facts_match_udfinfo(built, name: str) -> None:  # noqa: ANN001
    # The LVD domain revision is the revision the volume was written in (udfinfo: udfwriterev; its
    # "udfrev" is the minimum reader revision, 2.50 for a 2.60 volume).
    require_tool("udfinfo")
    image = _image(built, "udf-mkudffs", name)
    info = _udfinfo(image)
    udf = _walk(image).root.meta["udf"]
    assert (udf["revision"], str(udf["block_size"]), udf["logical_volume_id"], udf["file_set_id"]) == (
        info["udfwriterev"], info["blocksize"], info["lvid"], info["fsid"])
