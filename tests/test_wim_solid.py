"""Solid WIMs/ESDs, links, boot flag, both decoder paths and the decoder window limit.

Cross-checked against ``wimlib-imagex apply`` (every file's bytes), ``wimlib-imagex dir`` (every path) and
``wiminfo`` (boot index, image count).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.wim import LARGE_SIZE
from inspector.limits import Limits
from inspector.model import EntryKind, Inventory, ProblemKind
from inspector.unpack import wimcodec
from inspector.walker import walk
from tests.conftest import require_tool
from tests.wim_helpers import decoder_path, require_native  # noqa: F401 - pytest fixture

Built = Callable[[str], list[Path]]


def _fixture(built: Built, name: str) -> Path:
    require_tool("wimlib-imagex")
    return next(p for p in built("wim-solid") if p.name == name)


def _files(inv: Inventory, wim: Path) -> dict[str, tuple[int | None, str | None]]:
    prefix = f"{wim.name}!/"
    return {e.path[len(prefix):]: (e.size, e.sha256) for e in inv.entries
            if e.path.startswith(prefix) and e.kind is EntryKind.FILE and "!/" not in e.path[len(prefix):]}


def _applied(wim: Path, image: int, dest: Path) -> dict[str, tuple[int, str]]:
    """Every regular file ``wimlib-imagex apply`` extracts (hard-linked names once each), size and SHA-256."""
    subprocess.run(["wimlib-imagex", "apply", str(wim), str(image), str(dest)], check=True, capture_output=True)
    seen: set[int] = set()
    out = {}
    for p in sorted(dest.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.stat().st_ino not in seen:
            seen.add(p.stat().st_ino)
            out[f"{image}/{p.relative_to(dest).as_posix()}"] = (p.stat().st_size,
                                                                 hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def test_solid_esd_hashes_every_file_of_every_image_like_wimlib_apply(built: Built, tmp_path: Path) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    inv = walk(esd)
    assert inv.complete and inv.problems == ()
    theirs = {**_applied(esd, 1, tmp_path / "1"), **_applied(esd, 2, tmp_path / "2")}
    assert _files(inv, esd) == theirs


def test_solid_esd_lists_the_same_paths_as_wimlib_dir(built: Built) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    inv = walk(esd)
    ours = {p for p in (e.path.split("!/", 1)[1] for e in inv.entries[1:]) if "!/" not in p}
    theirs = set()
    for image in (1, 2):
        out = subprocess.run(["wimlib-imagex", "dir", str(esd), str(image)], capture_output=True, text=True,
                             check=True).stdout
        theirs |= {str(image)} | {f"{image}{line}" for line in out.splitlines() if line != "/"}
    assert ours == theirs


def test_solid_resource_is_described_in_the_container_meta(built: Built) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    inv = walk(esd)
    (solid,) = inv.root.meta["solid_resources"]
    assert (solid["compression"], solid["chunk_size"]) == ("lzms", 65536)
    assert solid["original_size"] == inv.root.meta["streams"]["original_bytes"]
    assert solid["offset"] + solid["stored_size"] <= esd.stat().st_size


def test_solid_file_stored_size_is_its_share_of_the_solid_resource(built: Built) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    inv = walk(esd)
    (solid,) = inv.root.meta["solid_resources"]
    setup = inv.by_path()[f"{esd.name}!/1/big/setup.exe"]
    assert setup.meta["solid_resource"] == 0
    expected = (solid["stored_size"] * setup.size + solid["original_size"] // 2) // solid["original_size"]
    assert setup.stored_size == expected


def test_every_image_is_a_directory_named_by_its_index_carrying_its_name(built: Built) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    by = walk(esd).by_path()
    assert by[f"{esd.name}!/1"].kind is EntryKind.DIR
    assert by[f"{esd.name}!/1"].meta["name"] == "Hyper-V Server (fixture)"
    assert by[f"{esd.name}!/2"].meta["name"] == "Hyper-V Server (fixture) (second)"


def test_single_image_wim_paths_name_the_image_segment(built: Built) -> None:
    wim = _fixture(built, "links-lzx.wim")
    paths = [e.path for e in walk(wim).entries[1:]]
    assert paths[0] == f"{wim.name}!/1"
    assert all(p.startswith(f"{wim.name}!/1/") for p in paths[1:])


def test_boot_index_matches_wiminfo(built: Built) -> None:
    require_tool("wiminfo")
    for name in ("install.esd", "links-lzx.wim", "lzms.wim"):
        wim = _fixture(built, name)
        info = subprocess.run(["wiminfo", str(wim)], capture_output=True, text=True, check=True).stdout
        (boot,) = re.findall(r"^Boot Index:\s+(\d+)", info, re.M)
        assert walk(wim).root.meta["boot_index"] == int(boot)


def test_hard_link_is_listed_once_as_a_file_and_then_as_a_hardlink(built: Built) -> None:
    wim = _fixture(built, "links-lzx.wim")
    by = walk(wim).by_path()
    names = (f"{wim.name}!/1/Windows/System32/hal.dll", f"{wim.name}!/1/Windows/System32/halmacpi.dll")
    kinds = sorted((by[n].kind.value, by[n].link_target) for n in names)
    assert kinds[0][0] == "file" and kinds[1][0] == "hardlink"
    assert kinds[1][1] in {n.split("!/", 1)[1] for n in names}


def test_symbolic_link_captured_as_a_reparse_point_is_a_symlink_with_its_target(built: Built) -> None:
    wim = _fixture(built, "links-lzx.wim")
    link = walk(wim).by_path()[f"{wim.name}!/1/Windows/kernel-link.exe"]
    assert (link.kind, link.link_target) == (EntryKind.SYMLINK, "System32/ntoskrnl.exe")
    assert link.meta["reparse_tag"] == "0xa000000c"


@pytest.mark.usefixtures("decoder_path")
@pytest.mark.parametrize("name", ["links-lzx.wim"])
def test_both_decoder_paths_list_the_same_files_and_hashes(built: Built, name: str) -> None:
    wim = _fixture(built, name)
    inv = walk(wim)
    assert inv.root.meta["decoder"] == wimcodec.backend()
    wimcodec.use_native(False)
    try:
        reference = walk(wim)
    finally:
        wimcodec.use_native(None)
    assert [(e.path, e.kind, e.size, e.stored_size, e.sha256) for e in inv.entries] == \
        [(e.path, e.kind, e.size, e.stored_size, e.sha256) for e in reference.entries]


def test_xpress_wim_gives_identical_entries_with_wimlib_and_pure_python(built: Built) -> None:
    require_native()
    wim = next(p for p in built("wim") if p.name == "multi-xpress.wim")
    native = walk(wim)
    wimcodec.use_native(False)
    try:
        pure = walk(wim)
    finally:
        wimcodec.use_native(None)
    assert native.root.meta["decoder"] == "wimlib" and pure.root.meta["decoder"] == "python"
    assert [(e.path, e.size, e.stored_size, e.sha256) for e in native.entries] == \
        [(e.path, e.size, e.stored_size, e.sha256) for e in pure.entries]


def test_solid_chunks_over_the_window_limit_are_a_limit_problem_and_files_stay_listed(built: Built) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    assert walk(esd).root.meta["chunk_size"] == 32768  # the metadata's chunks stay under the limit
    inv = walk(esd, Limits(max_window_bytes=32768))
    assert not inv.complete
    (problem,) = [p for p in inv.problems if p.kind is ProblemKind.LIMIT]
    assert problem.path == esd.name
    assert "65536 bytes, over the 32768-byte decoder window limit (max_window_bytes)" in problem.reason
    setup = inv.by_path()[f"{esd.name}!/1/big/setup.exe"]
    assert setup.size == 150_000 and setup.sha256 is None


def test_header_chunk_size_over_the_window_limit_is_refused_before_decoding(built: Built) -> None:
    wim = _fixture(built, "links-lzx.wim")
    inv = walk(wim, Limits(max_window_bytes=16384))
    assert not inv.complete
    assert [p.kind for p in inv.problems] == [ProblemKind.LIMIT]
    assert "over the 16384-byte decoder window limit" in inv.problems[0].reason


def test_corrupt_solid_chunk_is_a_problem_on_its_files_and_the_walk_goes_on(built: Built, tmp_path: Path) -> None:
    require_native()
    esd = _fixture(built, "install.esd")
    good = walk(esd)
    (solid,) = good.root.meta["solid_resources"]
    data = bytearray(esd.read_bytes())
    table_end = solid["offset"] + 16 + 4 * ((solid["original_size"] + 65535) // 65536)
    for i in range(table_end + 100, table_end + 400):  # inside the first chunk's compressed data
        data[i] ^= 0x5A
    bad = tmp_path / "bad.esd"
    bad.write_bytes(bytes(data))
    inv = walk(bad)
    assert not inv.complete and inv.problems
    assert all(p.path.startswith("bad.esd!/") for p in inv.problems)
    ok = [e for e in _files(inv, bad).values() if e[1] is not None]
    assert ok and set(ok) <= set(_files(good, esd).values())


def test_file_over_4_gib_uses_the_wide_chunk_table_and_matches_wimlibs_size_and_sha1(built: Built) -> None:
    """A sparse source of 4 GiB + 64 KiB: 8-byte chunk table entries, size and SHA-1 as wimlib records them."""
    require_tool("wimlib-imagex")
    require_native()  # 4 GiB through the pure-Python decoder would take hours
    (wim,) = built("wim-large")
    out = subprocess.run(["wimlib-imagex", "dir", str(wim), "1", "--detailed"], capture_output=True, text=True,
                         check=True).stdout
    block = out.split('Full Path           = "/sparse.vhd"', 1)[1]
    sha1 = re.search(r"Hash\s+= 0x([0-9a-f]{40})", block).group(1)  # type: ignore[union-attr]
    size = int(re.search(r"Uncompressed size = (\d+) bytes", block).group(1))  # type: ignore[union-attr]
    inv = walk(wim)
    assert inv.complete and inv.problems == ()  # the content matched its SHA-1 while it was hashed
    big = inv.by_path()[f"{wim.name}!/1/sparse.vhd"]
    assert big.size == size == LARGE_SIZE > 1 << 32
    assert big.meta["sha1"] == sha1
    assert big.sha256 is not None


def _patched_solid_header(built: Built, tmp_path: Path, at: int, value: int) -> Path:
    """install.esd with one 32-bit field of its solid resource header replaced (8: chunk size, 12: format)."""
    esd = _fixture(built, "install.esd")
    (solid,) = walk(esd).root.meta["solid_resources"]
    data = bytearray(esd.read_bytes())
    data[solid["offset"] + at : solid["offset"] + at + 4] = value.to_bytes(4, "little")
    bad = tmp_path / "patched.esd"
    bad.write_bytes(bytes(data))
    return bad


def test_solid_header_declaring_a_1_gib_window_is_refused_without_allocating_it(built: Built,
                                                                                 tmp_path: Path) -> None:
    require_native()
    inv = walk(_patched_solid_header(built, tmp_path, 8, 1 << 30))
    assert [(p.kind, p.path) for p in inv.problems] == [(ProblemKind.LIMIT, "patched.esd")]
    limit = Limits().max_window_bytes
    assert f"1073741824 bytes, over the {limit}-byte decoder window limit" in inv.problems[0].reason
    assert inv.problems[0].limit == "max_window_bytes"
    files = [e for e in inv.entries if e.kind is EntryKind.FILE and e.path.startswith("patched.esd!/")]
    assert files and all(e.sha256 is None for e in files if e.size)


def test_solid_header_with_an_unknown_compression_is_unsupported_and_files_stay_listed(built: Built,
                                                                                     tmp_path: Path) -> None:
    require_native()
    inv = walk(_patched_solid_header(built, tmp_path, 12, 7))
    assert [(p.kind, p.path) for p in inv.problems] == [(ProblemKind.UNSUPPORTED, "patched.esd")]
    assert "type 7" in inv.problems[0].reason
    assert inv.by_path()["patched.esd!/1/big/setup.exe"].size == 150_000
