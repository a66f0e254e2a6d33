"""WIM: header, lookup table and XML for every compression; file trees for uncompressed, XPRESS and LZX WIMs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from fixtures.microsoft import windows_tree
from inspector.model import EntryKind
from inspector.unpack import xpress
from inspector.walker import walk
from tests.conftest import require_tool


def _wim(built, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built("wim") if p.name == name)


def _children(inv, container: str) -> dict[str, object]:  # noqa: ANN001
    prefix = container + "!/"
    return {e.path[len(prefix):]: e for e in inv.entries if e.path.startswith(prefix) and "!/" not in
            e.path[len(prefix):]}


def _sevenzip_files(path: Path) -> dict[str, int]:
    """Regular files and sizes as 7-Zip lists them (``7zz l``)."""
    tool = "7zz" if subprocess.run(["which", "7zz"], capture_output=True).returncode == 0 else "7z"
    out = subprocess.run([tool, "l", "-ba", str(path)], capture_output=True, text=True, check=True).stdout
    files = {}
    for line in out.splitlines():
        if len(line) > 53 and line[20] != "D" and not line[53:].startswith("["):  # [1].xml: 7-Zip's own
            files[line[53:]] = int(line[26:38])
    return files


def _wiminfo(path: Path) -> dict[str, str]:
    out = subprocess.run(["wiminfo", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^([A-Za-z ]+):\s+(.*)$", out, re.M))


def test_lzx_wim_reports_image_name_and_counts_like_wiminfo(built) -> None:  # noqa: ANN001
    require_tool("wiminfo")
    path = _wim(built, "install-lzx.wim")
    inv = walk(path)
    info = _wiminfo(path)
    image = inv.root.meta["images"][0]
    assert inv.root.meta["compression"] == "lzx" == info["Compression"].lower()
    assert image["name"] == info["Name"]
    assert image["dir_count"] == int(info["Directory Count"])
    assert image["file_count"] == int(info["File Count"])
    assert image["total_bytes"] == int(info["Total Bytes"])


def test_lzx_wim_is_decoded_file_by_file_without_problems(built) -> None:  # noqa: ANN001
    inv = walk(_wim(built, "install-lzx.wim"))
    assert inv.problems == () and inv.complete
    assert inv.root.meta["decoded"] is True
    assert "install-lzx.wim!/1/Windows/System32/ntoskrnl.exe" in inv.by_path()


@pytest.mark.parametrize("name", ["install-none.wim", "install-xpress.wim", "install-lzx.wim"])
def test_decodable_wim_lists_the_same_files_and_sizes_as_7zip(built, name: str) -> None:  # noqa: ANN001
    require_tool("7zz")
    path = _wim(built, name)
    inv = walk(path)
    ours = {k: e.size for k, e in _children(inv, path.name).items() if e.kind is EntryKind.FILE}
    assert ours == {f"1/{k}": v for k, v in _sevenzip_files(path).items()}  # 7-Zip omits a lone image's index
    assert inv.complete


def test_decodable_wim_lists_the_same_paths_as_wimlib_dir(built) -> None:  # noqa: ANN001
    require_tool("wimlib-imagex")
    path = _wim(built, "install-xpress.wim")
    out = subprocess.run(["wimlib-imagex", "dir", str(path), "1"], capture_output=True, text=True,
                         check=True).stdout
    theirs = {"1"} | {"1" + line for line in out.splitlines() if line != "/"}
    assert set(_children(walk(path), path.name)) == theirs


@pytest.mark.parametrize("name", ["install-xpress.wim", "install-lzx.wim"])
def test_compressed_wim_content_decodes_to_the_same_bytes_as_the_uncompressed_wim(built, name: str) -> None:  # noqa: ANN001
    plain = walk(_wim(built, "install-none.wim"))
    packed = walk(_wim(built, name))

    def hashes(inv, name):  # noqa: ANN001, ANN202
        return {k: e.sha256 for k, e in _children(inv, name).items() if e.kind is EntryKind.FILE}

    assert hashes(packed, name) == hashes(plain, "install-none.wim")
    sizes = {k: (e.size, e.stored_size) for k, e in _children(packed, name).items()}
    assert sizes["1/Windows/System32/ntoskrnl.exe"][1] < sizes["1/Windows/System32/ntoskrnl.exe"][0]
    assert sizes["1/Windows/System32/config/SYSTEM"][1] == sizes["1/Windows/System32/config/SYSTEM"][0]  # raw


def test_decoded_wim_members_are_sniffed_like_any_file(built) -> None:  # noqa: ANN001
    inv = walk(_wim(built, "install-xpress.wim"))
    kids = _children(inv, "install-xpress.wim")
    assert kids["1/Windows/System32/ntoskrnl.exe"].detected == "pe"
    assert kids["1/Users/Public/desktop.ini"].size == 0


def test_multi_image_wim_prefixes_paths_with_the_image_index_like_7zip(built) -> None:  # noqa: ANN001
    require_tool("7zz")
    path = _wim(built, "multi-xpress.wim")
    inv = walk(path)
    ours = {k: e.size for k, e in _children(inv, path.name).items() if e.kind is EntryKind.FILE}
    assert ours == _sevenzip_files(path)
    assert [i["name"] for i in inv.root.meta["images"]] == ["Core (fixture)", "Full (fixture)"]
    assert "2/Windows/System32/drivers/storvsp.sys" in ours and "1/Windows/System32/drivers/storvsp.sys" not in ours


def test_wim_lookup_table_past_the_end_is_a_clear_error(built) -> None:  # noqa: ANN001
    path = next(p for p in built("ms-bad") if p.name == "lookup-past-end.wim")
    inv = walk(path)
    assert not inv.complete
    assert [p.line() for p in inv.problems] == [
        f"lookup-past-end.wim: WIM: lookup table at offset {path.stat().st_size + 4096} (500 bytes) runs past "
        f"the end of the file ({path.stat().st_size} bytes)"]


def test_wim_stream_past_the_end_names_the_file_and_still_lists_the_rest(built) -> None:  # noqa: ANN001
    path = next(p for p in built("ms-bad") if p.name == "stream-past-end.wim")
    inv = walk(path)
    assert not inv.complete
    (problem,) = inv.problems
    assert problem.path == "stream-past-end.wim!/1/Windows/System32/ntoskrnl.exe"
    assert "runs past the end of the file" in problem.reason
    kids = _children(inv, path.name)
    kernel = kids["1/Windows/System32/ntoskrnl.exe"]
    assert kernel.size == 48_000 and kernel.sha256 is None
    assert kids["1/Windows/System32/hal.dll"].sha256 is not None
    assert len([e for e in kids.values() if e.kind is EntryKind.FILE]) == len(windows_tree())


def test_truncated_xpress_wim_is_a_clear_error_not_a_traceback(built) -> None:  # noqa: ANN001
    path = next(p for p in built("ms-bad") if p.name == "xpress-truncated.wim")
    inv = walk(path)
    assert not inv.complete
    assert "runs past the end of the file" in inv.problems[0].reason


def test_xpress_decoder_rejects_a_chunk_without_its_huffman_table() -> None:
    with pytest.raises(xpress.XpressError):
        xpress.decompress(b"\x00" * 100, 10)


def test_xpress_decoder_rejects_an_oversubscribed_code() -> None:
    with pytest.raises(xpress.XpressError):
        xpress.decompress(b"\x11" * 256 + b"\x00" * 16, 10)


def test_content_that_does_not_match_its_lookup_table_sha1_is_reported_not_listed(built, tmp_path: Path) -> None:  # noqa: ANN001
    wim = _wim(built, "install-none.wim")
    inv = walk(wim)
    victim = max((e for e in inv.entries[1:] if e.kind is EntryKind.FILE and (e.size or 0) > 100),
                 key=lambda e: e.size or 0)
    data = bytearray(wim.read_bytes())
    content = _extract_by_hash(data, victim.sha256)
    at = data.find(content) + len(content) // 2
    data[at] ^= 0xFF  # same size, different bytes: only the SHA-1 can tell
    bad = tmp_path / "damaged.wim"
    bad.write_bytes(bytes(data))
    again = walk(bad)
    problems = [p for p in again.problems if p.path.endswith(victim.name)]
    assert problems and "SHA-1 in the WIM lookup table" in problems[0].reason
    assert not again.complete
    damaged = {e.name: e for e in again.entries}[victim.name]
    assert damaged.unread


def _extract_by_hash(data: bytearray, sha256: str | None) -> bytes:
    """The uncompressed file content in the WIM whose SHA-256 is ``sha256`` (searched in windows_tree)."""
    import hashlib

    for content in windows_tree().values():
        if isinstance(content, bytes) and hashlib.sha256(content).hexdigest() == sha256 and content in data:
            return content
    raise AssertionError("victim content not found in the uncompressed WIM")
