"""UDF-only Windows-style ISOs: the UDF tree is read (not the ISO 9660 README stub), and we say so."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fixtures.microsoft import HYPERV_SERIES, UDF_README
from inspector.model import EntryKind
from inspector.walker import walk
from tests.conftest import require_tool


def _iso(built, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built("windows-udf-iso") if p.name == name)


def _members(inv, container: str) -> dict[str, object]:  # noqa: ANN001
    prefix = container + "!/"
    return {e.path[len(prefix):]: e for e in inv.entries
            if e.path.startswith(prefix) and "!/" not in e.path[len(prefix):]}


def _sevenzip_files(path: Path) -> dict[str, int]:
    tool = "7zz" if subprocess.run(["which", "7zz"], capture_output=True).returncode == 0 else "7z"
    out = subprocess.run([tool, "l", "-ba", str(path)], capture_output=True, text=True, check=True).stdout
    return {line[53:]: int(line[26:38]) for line in out.splitlines() if len(line) > 53 and line[20] != "D"}


def test_udf_only_iso_says_the_udf_tree_was_read(built) -> None:  # noqa: ANN001
    inv = walk(_iso(built, "hyperv-udf.iso"))
    assert inv.root.container == "iso9660"
    assert inv.root.meta["tree"] == "udf"
    assert inv.root.meta["trees"] == ["udf", "iso9660"]


def test_udf_only_iso_lists_the_udf_files_not_the_readme_stub(built) -> None:  # noqa: ANN001
    inv = walk(_iso(built, "hyperv-udf.iso"))
    names = _members(inv, "hyperv-udf.iso")
    assert "README.TXT" not in names
    for expected in ("bootmgr", "setup.exe", "boot/bcd", "boot/etfsboot.com", "efi/microsoft/boot/bcd",
                     "sources/install.wim", "sources/boot.wim"):
        assert names[expected].kind is EntryKind.FILE


def test_udf_only_iso_listing_matches_7zip(built) -> None:  # noqa: ANN001
    require_tool("7zz")
    path = _iso(built, "hyperv-udf.iso")
    ours = {k: e.size for k, e in _members(walk(path), path.name).items() if e.kind is EntryKind.FILE}
    assert ours == _sevenzip_files(path)


def test_udf_only_iso_holds_only_the_135_byte_readme_for_iso9660_readers(built) -> None:  # noqa: ANN001
    require_tool("bsdtar")
    out = subprocess.run(["bsdtar", "-tvf", str(_iso(built, "hyperv-udf.iso"))], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    files = [line for line in out if line.startswith("-")]
    assert len(files) == 1 and files[0].endswith(" README.TXT") and f" {len(UDF_README)} " in files[0]
    assert len(UDF_README) == 135


def test_wims_inside_the_udf_iso_are_opened(built) -> None:  # noqa: ANN001
    inv = walk(_iso(built, "hyperv-udf.iso"))
    by = inv.by_path()
    install = by["hyperv-udf.iso!/sources/install.wim"]
    boot = by["hyperv-udf.iso!/sources/boot.wim"]
    assert (install.container, install.meta["compression"], install.meta["decoded"]) == ("wim", "lzx", True)
    assert (boot.container, boot.meta["compression"], boot.meta["decoded"]) == ("wim", "xpress", True)
    assert "hyperv-udf.iso!/sources/boot.wim!/1/Windows/System32/ntoskrnl.exe" in by
    assert "hyperv-udf.iso!/sources/install.wim!/1/Windows/System32/ntoskrnl.exe" in by
    assert inv.problems == ()


def test_genisoimage_udf_bridge_is_read_through_udf_and_matches_7zip(built) -> None:  # noqa: ANN001
    require_tool("7zz")
    path = _iso(built, "udf-bridge.iso")
    inv = walk(path)
    assert inv.root.meta["tree"] == "udf"
    assert "iso9660" in inv.root.meta["trees"] and "joliet" in inv.root.meta["trees"]
    ours = {k: e.size for k, e in _members(inv, path.name).items() if e.kind is EntryKind.FILE}
    assert ours == _sevenzip_files(path)
    assert "efi/microsoft/boot/efisys.bin" in ours  # UDF names keep their case


def test_hyperv_series_is_an_iso_and_three_msu_patches_in_date_order_of_the_constant(built) -> None:  # noqa: ANN001
    files = built("hyperv-series")
    assert [p.name for p in files] == [str(i["file"]) for i in HYPERV_SERIES]
    kinds = [walk(p).root.container for p in files]
    assert kinds == ["iso9660", "msu", "msu", "msu"]
    kbs = [walk(p).root.meta.get("kb") for p in files[1:]]
    assert kbs == [i["kb"] for i in HYPERV_SERIES[1:]]


def test_bridge_with_a_broken_iso9660_descriptor_still_lists_its_udf_tree(built) -> None:  # noqa: ANN001
    path = built("udf-bridge-bad-pvd")[0]
    inv = walk(path)
    names = _members(inv, path.name)
    assert inv.root.meta["tree"] == "udf"
    assert names["sources/install.wim"].size == 50_000 and names["sources/install.wim"].sha256
    assert [(p.kind.value, p.path) for p in inv.problems] == [("warning", path.name)]
    assert "ISO 9660" in inv.problems[0].reason


def test_a_small_file_in_one_recorded_piece_is_handed_over_with_its_content() -> None:
    import io

    from inspector.streams import ReadWindow
    from inspector.unpack.udf import _small_content
    from inspector.unpack.udf_volume import Piece

    image = io.BytesIO(bytes(2048) + b"udf data" + bytes(2040))
    assert _small_content(ReadWindow(image), [Piece(0, 8, 2048)], 8) == b"udf data"


def test_a_sparse_split_large_or_cut_short_file_is_left_to_its_reader() -> None:
    import io

    from inspector.streams import HEAD_SIZE, ReadWindow
    from inspector.unpack.udf import _small_content
    from inspector.unpack.udf_volume import Piece

    image = io.BytesIO(bytes(4096))
    assert _small_content(ReadWindow(image), [Piece(0, 8, None)], 8) is None  # unrecorded: zeros, the reader's to give
    assert _small_content(ReadWindow(image), [Piece(0, 4, 0), Piece(4, 4, 2048)], 8) is None
    assert _small_content(ReadWindow(image), [Piece(0, HEAD_SIZE + 1, 0)], HEAD_SIZE + 1) is None
    assert _small_content(ReadWindow(io.BytesIO(b"abc")), [Piece(0, 8, 0)], 8) is None
