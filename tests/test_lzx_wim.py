"""LZX WIMs read file by file: paths and SHA-256 of every file match what ``wimlib-imagex apply`` writes."""

from __future__ import annotations

import hashlib
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.common import pseudo_random
from fixtures.microsoft import capture_wim, fake_pe, windows_tree
from inspector.cli import app
from inspector.footprint import classify, load_profile
from inspector.model import EntryKind, Inventory
from inspector.unpack.wim import HEADER_SIZE, parse_header, parse_lookup
from inspector.walker import walk
from tests.conftest import require_tool
from tests.wim_helpers import pure_python, require_native  # noqa: F401 - pytest fixture

Built = Callable[[str], list[Path]]


def _calls(n: int) -> bytes:
    rng = random.Random(11)
    out = bytearray()
    while len(out) < n:
        out += rng.choice((b"\x55\x48\x89\xe5", b"\x90", b"\xc3")) + b"\xe8" + rng.randbytes(2) + b"\x00\x00"
    return bytes(out[:n])


def lzx_tree() -> dict[str, bytes]:
    """The Windows-like tree plus the shapes that stress chunking: spanning, stored raw, runs, edges."""
    files = windows_tree()
    files.update({
        "big/spanning.exe": fake_pe("spanning", 200_000),  # 7 chunks
        "big/incompressible.bin": pseudo_random("noise", 100_000),
        "big/repetitive.txt": b"Hyper-V Server " * 70_000,  # ~1 MB, ~32 chunks of one pattern
        "big/exactly-one-chunk.bin": fake_pe("one", 32_768),
        "big/one-chunk-and-a-byte.bin": fake_pe("one", 32_769),
        "big/calls.bin": _calls(90_000),  # E8-rich: the CALL translation at work
        "big/half-noise.bin": pseudo_random("half", 20_000) + b"\x00" * 50_000,
    })
    return files


@pytest.fixture(scope="module")
def wims(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``single.wim`` and ``multi.wim`` (LZX), ``lzms.wim`` (LZMS), built once for this module."""
    require_tool("wimlib-imagex")
    out = tmp_path_factory.mktemp("lzx-wims")
    variant = windows_tree(1)
    variant["big/spanning.exe"] = fake_pe("spanning-2", 100_000)
    return {
        "single": capture_wim(lzx_tree(), out / "single.wim", "LZX", "LZX fixture"),
        "multi": capture_wim(windows_tree(), out / "multi.wim", "LZX", "Core (fixture)", second=variant,
                             second_name="Full (fixture)"),
        "lzms": capture_wim(windows_tree(), out / "lzms.wim", "LZMS", "LZMS fixture"),
    }


def _applied(wim: Path, image: int, dest: Path) -> dict[str, tuple[int, str]]:
    """Every regular file ``wimlib-imagex apply`` extracts, with its size and SHA-256."""
    subprocess.run(["wimlib-imagex", "apply", str(wim), str(image), str(dest)], check=True, capture_output=True)
    return {p.relative_to(dest).as_posix(): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in dest.rglob("*") if p.is_file() and not p.is_symlink()}


def _ours(inv: Inventory, wim: Path) -> dict[str, tuple[int | None, str | None]]:
    prefix = f"{wim.name}!/"
    return {e.path[len(prefix):]: (e.size, e.sha256) for e in inv.entries
            if e.path.startswith(prefix) and e.kind is EntryKind.FILE and "!/" not in e.path[len(prefix):]}


def test_single_image_lzx_wim_hashes_every_file_like_wimlib_apply(wims: dict[str, Path], tmp_path: Path) -> None:
    inv = walk(wims["single"])
    assert inv.complete and inv.problems == ()
    assert inv.root.meta["compression"] == "lzx" and inv.root.meta["decoded"] is True
    assert _ours(inv, wims["single"]) == {f"1/{k}": v for k, v in _applied(wims["single"], 1, tmp_path / "1").items()}


def test_multi_image_lzx_wim_hashes_every_file_of_every_image_like_wimlib_apply(
        wims: dict[str, Path], tmp_path: Path) -> None:
    inv = walk(wims["multi"])
    assert inv.complete
    theirs = {f"{n}/{k}": v for n in (1, 2) for k, v in _applied(wims["multi"], n, tmp_path / str(n)).items()}
    assert _ours(inv, wims["multi"]) == theirs


def test_lzx_wim_keeps_incompressible_streams_stored_and_packs_repetitive_ones(wims: dict[str, Path]) -> None:
    by = walk(wims["single"]).by_path()
    noise = by["single.wim!/1/big/incompressible.bin"]
    runs = by["single.wim!/1/big/repetitive.txt"]
    assert noise.stored_size == noise.size == 100_000
    assert runs.size == 1_050_000 and runs.stored_size is not None and runs.stored_size < runs.size // 50


def test_lzx_wim_members_are_sniffed_like_any_file(wims: dict[str, Path]) -> None:
    by = walk(wims["single"]).by_path()
    assert by["single.wim!/1/big/spanning.exe"].detected == "pe"
    assert by["single.wim!/1/Users/Public/desktop.ini"].size == 0


@pytest.mark.usefixtures("pure_python")
def test_lzms_wim_without_wimlib_lists_its_streams_and_says_the_data_is_not_decoded(wims: dict[str, Path]) -> None:
    inv = walk(wims["lzms"])
    assert [(p.kind, p.reason) for p in inv.problems] == [
        ("unsupported", "LZMS-compressed WIM: needs wimlib (Debian libwim15), which is not available; header, "
                        "lookup table and XML read, file data not decoded")]
    assert inv.root.meta["decoded"] is False
    streams = [e for e in inv.entries[1:] if e.path.startswith("lzms.wim!/[streams]/")]
    totals = inv.root.meta["streams"]
    assert len(streams) == totals["count"]
    assert sum(e.size or 0 for e in streams) == totals["original_bytes"]


def test_lzms_wim_with_wimlib_hashes_every_file_like_wimlib_apply(wims: dict[str, Path], tmp_path: Path) -> None:
    require_native()
    inv = walk(wims["lzms"])
    assert inv.complete and inv.problems == ()
    assert inv.root.meta["decoded"] is True
    assert _ours(inv, wims["lzms"]) == {f"1/{k}": v for k, v in _applied(wims["lzms"], 1, tmp_path / "1").items()}


def test_corrupt_lzx_chunk_in_a_wim_is_a_problem_naming_the_file(wims: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(wims["single"].read_bytes())
    inv = walk(wims["single"])
    target = inv.by_path()["single.wim!/1/big/spanning.exe"]
    start = _resource_offset(wims["single"], target.meta["sha1"])  # scramble its chunks, not its chunk table
    rng = random.Random(5)
    for i in range(start + 40, start + 2200):
        data[i] = rng.randrange(256)
    bad = tmp_path / "bad.wim"
    bad.write_bytes(bytes(data))
    result = walk(bad)
    assert not result.complete
    problems = [p for p in result.problems if p.path == "bad.wim!/1/big/spanning.exe"]
    assert len(problems) == 1 and "LZX chunk" in problems[0].reason
    assert result.by_path()["bad.wim!/1/Windows/System32/hal.dll"].sha256 == \
        inv.by_path()["single.wim!/1/Windows/System32/hal.dll"].sha256


def _resource_offset(wim: Path, sha1: str) -> int:
    raw = wim.read_bytes()
    hdr = parse_header(raw[:HEADER_SIZE])
    table = raw[hdr.lookup.offset : hdr.lookup.offset + hdr.lookup.stored_size]
    (blob,) = [b for b in parse_lookup(table) if b.sha1.hex() == sha1]
    return blob.res.offset


# -- the Hyper-V media fixtures ------------------------------------------------------------------------------
def _hyperv_iso(built: Built) -> Path:
    return next(p for p in built("windows-udf-iso") if p.name == "hyperv-udf.iso")


def test_hyperv_iso_inventories_completely_with_install_wim_decoded(built: Built) -> None:
    path = _hyperv_iso(built)
    result = CliRunner().invoke(app, ["inventory", str(path), "--no-store", "--list", "none"])
    assert result.exit_code == 0, result.output
    inv = walk(path)
    files = [e for e in inv.entries if "!/sources/install.wim!/" in e.path and e.kind is EntryKind.FILE]
    assert files and all(e.sha256 is not None for e in files)
    assert any(e.path.endswith("Windows/System32/drivers/hvboot.sys") for e in files)


def test_hyperv_footprint_counts_hypervisor_files_from_the_install_wim(built: Built) -> None:
    fp = classify(walk(_hyperv_iso(built)), load_profile("hyperv"))
    kernel = [a.path for a in fp.files_in("hypervisor-kernel")]
    assert kernel == ["hyperv-udf.iso!/sources/install.wim!/1/Windows/System32/drivers/hvboot.sys"]
    assert any("!/sources/install.wim!/" in a.path for a in fp.files_in("virtualization-stack"))


def test_compressed_wim_with_a_zero_chunk_size_is_a_plain_error(wims: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(wims["single"].read_bytes())
    data[20:24] = bytes(4)  # header CompressionSize
    bad = tmp_path / "zero-chunk.wim"
    bad.write_bytes(bytes(data))
    assert [p.line() for p in walk(bad).problems] == [
        "zero-chunk.wim: WIM: chunk size 0 of a compressed WIM is not a power of two"]
