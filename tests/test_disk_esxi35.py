"""The ESXi-3.5-style installer inventoried end to end: ISO -> install.tgz -> tar -> dd.bz2 -> dd -> p5
-> FAT16 -> boot.cfg, with counts, sizes and the three footprints computed from the fixture definition."""

from __future__ import annotations

from pathlib import Path

from fixtures.disk import (
    BUILDS,
    DD_DIR,
    ESXI_DISK_SECTORS,
    IENVIRON,
    SECTOR,
    SERIES_CHANGES,
    TOOLS_ISO_FILES,
    boot_cfg,
    bootbank_files,
    bootbank_inner,
    bootloader_files,
    dd_name,
    iso_files,
    store_files,
)
from inspector.inventory import totals
from inspector.model import NEST
from inspector.walker import walk

BUILD = BUILDS[0]


def _iso(built) -> Path:
    return next(p for p in built("esxi35-dd") if p.suffix == ".iso")


def _expected_leaves(build: str) -> list[int]:
    """Sizes of every leaf file, derived from the fixture definition alone."""
    inner = bootbank_inner(build)
    sizes: list[int] = []
    # ISO root: plain files, then the compressed modules, each opened to its inner files.
    for name, data in iso_files(build, b"").items():
        if name == "install.tgz":
            continue
        if name == "ienviron.tgz":
            sizes += [len(v) for v in IENVIRON.values()]
        elif name in inner:
            sizes += [len(v) for v in inner[name].values()]
        else:
            sizes.append(len(data))
    # install.tgz -> dd: p4 loader files, p5 bootbank, p6 empty, p7 vmkcore (data), p8 store + tools ISO.
    sizes += [len(v) for v in bootloader_files().values()]
    sizes.append(len(boot_cfg(build)))
    sizes += [len(v) for files in inner.values() for v in files.values()]
    sizes.append(14048 * SECTOR)
    sizes += [len(v) for k, v in store_files().items() if not k.endswith(".iso")]
    sizes += [len(v) for v in TOOLS_ISO_FILES.values()]
    return sizes


def test_walk_reaches_boot_cfg_in_the_first_bootbank(built) -> None:
    iso = _iso(built)
    dd = f"{iso.name}{NEST}install.tgz{NEST}install.tar{NEST}{DD_DIR}{dd_name(BUILD)}.bz2{NEST}{dd_name(BUILD)}"
    paths = walk(iso).by_path()
    assert paths[dd].container == "disk"
    assert paths[f"{dd}{NEST}p5"].meta["label"] == "Hypervisor1"
    assert paths[f"{dd}{NEST}p5{NEST}boot.cfg"].size == len(boot_cfg(BUILD))


def test_file_count_and_unpacked_size_match_the_definition(built) -> None:
    inv = walk(_iso(built))
    t = totals(inv)
    expected = _expected_leaves(BUILD)
    assert (t.files, t.unpacked_size) == (len(expected), sum(expected))
    assert inv.complete and not inv.problems


def test_three_footprints(built) -> None:
    iso = _iso(built)
    inv = walk(iso)
    t = totals(inv)
    dd = next(e for e in inv.entries if e.container == "disk")
    p5 = inv.by_path()[f"{dd.path}{NEST}p5"]
    bootbank = sum(e.size or 0 for e in inv.entries if e.parent == p5.path and e.kind.value == "file")
    assert t.download_size == iso.stat().st_size
    assert dd.size == ESXI_DISK_SECTORS * SECTOR
    assert bootbank == sum(len(v) for v in bootbank_files(BUILD).values())
    print(f"\ndownload {t.download_size} B, disk image {dd.size} B, bootbank contents {bootbank} B, "
          f"unpacked {t.unpacked_size} B in {t.files} files; disk unallocated {dd.meta['unallocated_bytes']} B")


def test_dd_bz2_alone_opens_to_the_same_disk(built) -> None:
    bz = next(p for p in built("esxi35-dd") if p.name.endswith(".dd.bz2"))
    inv = walk(bz)
    disk = next(e for e in inv.entries if e.container == "disk")
    assert [e.name for e in inv.entries if e.parent == disk.path] == ["p1", "p4", "p5", "p6", "p7", "p8"]


def test_series_changes_only_the_listed_bootbank_files(built) -> None:
    isos = built("esxi35-series")
    assert len(isos) == 3
    for prev, cur in zip(BUILDS, BUILDS[1:], strict=False):
        a, b = bootbank_files(prev), bootbank_files(cur)
        changed = {n for n in a if a[n] != b[n]} - {"boot.cfg"}
        assert changed == set(SERIES_CHANGES[cur])
    inv = walk(isos[1])
    p5 = next(e for e in inv.entries if e.path.endswith(f"{NEST}p5"))
    kernel = inv.by_path()[f"{p5.path}{NEST}vmkernel.gz{NEST}vmkernel"]
    assert kernel.size == len(bootbank_inner(BUILDS[0])["vmkernel.gz"]["vmkernel"]) + 16384
