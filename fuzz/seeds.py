"""Small valid samples of every format the walker opens: the starting points for mutation."""

from __future__ import annotations

from pathlib import Path

from fixtures.hostile import samples

#: Formats whose samples come from the fixture builders (they need external tools): fixture, file name.
FIXTURE_SEEDS: dict[str, tuple[str, str]] = {
    "vmtar": ("esxi-vmtar", "ixgbe.vtar"),
    "vib": ("esxi-vib", "Intel_bootbank_net-ixgbe_3.7.13-1OEM.500.0.0.472560.vib"),
    "depot": ("esxi-depot", "ixgbe-3.7.13-offline_bundle.zip"),
    "7z": ("archives", "tree.7z"),
    "cab": ("msu", "Windows6.0-KB950050-x64-lzx.cab"),
    "msu": ("hyperv-series", "Windows6.0-KB950050-x64.msu"),
    "wim": ("wim", "install-xpress.wim"),
    "deb": ("deb-variants", "no-control.deb"),
    "fat": ("disk-bad", "badchain.img"),
    "iso-xorriso": ("iso-variants", "iso9660-only.iso"),
    "iso-rock-ridge": ("iso-rock-ridge", "rr-features.iso"),
    "iso-multi-extent": ("iso-crafted", "multi-extent.iso"),
    "ar-gnu": ("archives", "lib.a"),
    "zip-utf8-flag": ("hostile-lies", "names-bad-utf8.zip"),
    "zstd-window": ("hostile-lies", "window.zst"),
    "gpt-whole-disk": ("hostile-lies", "gpt-whole-disk.img"),
    "fat-long-names": ("hostile-lies", "fat-lone-surrogate.img"),
}

#: Formats whose samples are written by ``fixtures.hostile.samples`` (no external tool needed).
BUILTIN_SEEDS: dict[str, str] = {
    "tar": "sample.tar",
    "gzip": "sample.tar.gz",
    "bzip2": "sample.tar.bz2",
    "xz": "sample.tar.xz",
    "zstd": "sample.tar.zst",
    "zip": "sample.zip",
    "cpio": "sample.cpio",
    "ar": "sample.a",
    "iso": "sample.iso",
}


def builtin_seeds() -> dict[str, tuple[str, bytes]]:
    """format -> (file name, bytes) for the samples made in-process."""
    made = samples()
    return {fmt: (name, made[name]) for fmt, name in BUILTIN_SEEDS.items()}


def fixture_seed(fmt: str, fixture_files: list[Path]) -> tuple[str, bytes]:
    """(file name, bytes) of the sample for ``fmt`` among the built files of its fixture."""
    wanted = FIXTURE_SEEDS[fmt][1]
    path = next(p for p in fixture_files if p.name == wanted)
    return path.name, path.read_bytes()


def all_seeds(fixture_root: Path) -> dict[str, tuple[str, bytes]]:
    """Every seed, building the fixtures that provide them under ``fixture_root`` when missing."""
    from fixtures.registry import build

    seeds = builtin_seeds()
    cache: dict[str, list[Path]] = {}
    for fmt, (fixture, _) in FIXTURE_SEEDS.items():
        if fixture not in cache:
            existing = fixture_root / fixture
            cache[fixture] = sorted(existing.iterdir()) if existing.is_dir() else build(fixture, fixture_root)
        seeds[fmt] = fixture_seed(fmt, cache[fixture])
    return seeds
