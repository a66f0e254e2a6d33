"""Code bytes per footprint category: how much of "the hypervisor" is executable code.

The walker records each executable's section table in ``meta.binary``; the footprint sums the code (and
initialised data) bytes of the executables each category holds. Images are built by the fixture code:
the Xen .deb series (a 32-bit ELF hypervisor and a PE32+ EFI image) and a small tar of an ELF, a PE and
a text file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from fixtures.common import fake_elf, pseudo_random, tar_bytes
from fixtures.executables import pe_image
from inspector.binaries.model import code_bytes_of, data_bytes_of
from inspector.footprint import classify, footprint_to_dict, load_profile
from inspector.footprint.engine import Footprint
from inspector.footprint.profile import Conditions, Profile, Rule
from inspector.model import Inventory
from inspector.report import footprint_text
from inspector.walker import walk
from tests.test_footprint_helpers import container, leaf


@pytest.fixture(scope="module")
def xen(built) -> tuple[Inventory, Footprint]:
    """The first Xen .deb of the series, walked and classified with the ``xen`` profile."""
    inv = walk(built("xen-deb-series")[0])
    return inv, classify(inv, load_profile("xen"))


def _tools_profile() -> Profile:
    """Executables under ``bin/`` are tools, under ``efi/`` boot; everything else is documentation."""
    return Profile(name="t", title="t", categories=(("management", "tools"), ("boot", "boot"),
                                                    ("documentation", "docs")), rules=(
        Rule(id="bin", category="management", when=Conditions(path=("*/bin/*",))),
        Rule(id="efi", category="boot", when=Conditions(path=("*/efi/*",))),
        Rule(id="rest", category="documentation", when=Conditions(path=("*",))),
    ))


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> tuple[Inventory, Footprint]:
    """A .tar.gz of an ELF tool, a PE EFI application and a README, classified by ``_tools_profile``."""
    files = {
        "bin/tool": fake_elf("tool", 24 * 1024),
        "efi/boot.efi": pe_image(pseudo_random("boot.efi", 16 * 1024), 16 * 1024),
        "doc/README": b"not an executable\n" * 100,
    }
    path: Path = tmp_path_factory.mktemp("code") / "tools.tar.gz"
    path.write_bytes(tar_bytes(files))
    inv = walk(path)
    return inv, classify(inv, _tools_profile())


def _entry_sums(inv: Inventory, fp: Footprint, category: str) -> tuple[int, int, int]:
    """(code, data, executables) summed straight from the entries' ``meta.binary`` for one category."""
    paths = {a.path for a in fp.files_in(category) if not a.unread}
    entries = [e for e in inv.entries if e.path in paths and code_bytes_of(e.meta) is not None]
    return (sum(code_bytes_of(e.meta) or 0 for e in entries), sum(data_bytes_of(e.meta) or 0 for e in entries),
            len(entries))


def test_hypervisor_code_bytes_equal_the_sum_of_its_executables_meta(xen):
    inv, fp = xen
    hv = fp.category("hypervisor-kernel")
    assert (hv.code, hv.data, hv.executables) == _entry_sums(inv, fp, "hypervisor-kernel")
    assert hv.executables == 2  # the ELF hypervisor and the EFI image
    assert 0 < hv.code < hv.unpacked


def test_every_category_code_equals_the_sum_of_its_entries_meta(xen, tools):
    for inv, fp in (xen, tools):
        for c in fp.categories:
            assert (c.code, c.data, c.executables) == _entry_sums(inv, fp, c.id), c.id


def test_non_executables_contribute_no_code(xen):
    _, fp = xen
    for cid in ("documentation", "other"):
        c = fp.category(cid)
        assert c.files > 0
        assert (c.code, c.data, c.executables) == (0, 0, 0)
    config = next(a for a in fp.assignments if a.path.endswith(".config"))
    assert (config.code, config.data) == (None, None)


def test_elf_and_pe_land_in_their_own_categories_with_their_code(tools):
    inv, fp = tools
    tool = next(e for e in inv.entries if e.path.endswith("bin/tool"))
    efi = next(e for e in inv.entries if e.path.endswith("efi/boot.efi"))
    assert fp.category("management").code == code_bytes_of(tool.meta) > 0
    assert fp.category("boot").code == code_bytes_of(efi.meta) > 0
    assert fp.category("documentation").code == 0


def test_total_code_is_the_sum_over_categories_and_over_all_entries(xen):
    inv, fp = xen
    assert fp.code_size == sum(c.code for c in fp.categories)
    assert fp.code_size == sum(code_bytes_of(e.meta) or 0 for e in inv.entries if e.is_leaf_file)
    assert fp.data_size == sum(data_bytes_of(e.meta) or 0 for e in inv.entries if e.is_leaf_file)
    assert fp.executables == 2


def test_an_unread_executable_counts_no_code():
    binary = {"format": "ELF", "code_bytes": 700, "data_bytes": 300}
    inv = Inventory(source="t.tar", entries=(
        container("t.tar", 10_000, "tar"),
        leaf("t.tar!/bin/read", 1_000, "elf-executable", binary=binary),
        leaf("t.tar!/bin/unread", 2_000, "elf-executable", unread=True, binary=binary),
    ))
    c = classify(inv, _tools_profile()).category("management")
    assert (c.files, c.unread, c.code, c.data, c.executables) == (1, 1, 700, 300, 1)


def test_json_reports_code_per_category_per_file_and_in_total(xen):
    inv, fp = xen
    doc = footprint_to_dict(fp)
    assert doc["code_size"] == fp.code_size and doc["data_size"] == fp.data_size and doc["executables"] == 2
    by_id = {c["id"]: c for c in doc["categories"]}
    assert by_id["hypervisor-kernel"]["code"] == fp.category("hypervisor-kernel").code
    assert by_id["documentation"]["code"] == 0
    meta = {e.path: e.meta for e in inv.entries}
    for a in doc["assignments"]:
        assert a["code"] == code_bytes_of(meta[a["path"]])


def test_text_table_has_a_code_column_and_its_share_of_the_category(xen):
    _, fp = xen
    lines = footprint_text.categories_table(fp).splitlines()
    assert lines[0].split()[-3:] == ["code", "of", "unpacked"]
    hv = fp.category("hypervisor-kernel")
    row = next(x for x in lines if x.startswith("hypervisor kernel"))
    assert row.endswith(f"{footprint_text.size(hv.code)}  {100 * hv.code / hv.unpacked:10.1f}%")


def test_a_category_without_executables_shows_a_dash_for_code(xen):
    _, fp = xen
    row = next(x for x in footprint_text.categories_table(fp).splitlines() if x.startswith("documentation"))
    assert row.split()[-2:] == ["-", "-"]


def test_summary_says_how_much_of_the_footprint_is_code(xen):
    _, fp = xen
    text = footprint_text.summary(fp)
    assert f"code               {footprint_text.size(fp.code_size)} ({fp.code_size:,} bytes) in 2 executables" in text


def test_csv_has_code_data_and_executables_per_category_and_total(xen):
    _, fp = xen
    rows = list(csv.DictReader(io.StringIO(footprint_text.categories_csv([fp]))))
    hv = next(r for r in rows if r["category"] == "hypervisor-kernel")
    total = next(r for r in rows if r["category"] == "total")
    assert int(hv["code"]) == fp.category("hypervisor-kernel").code
    assert (int(total["code"]), int(total["data"]), int(total["executables"])) == (fp.code_size, fp.data_size, 2)


def test_side_by_side_footprints_show_each_image_code(built):
    fps = [classify(walk(p), load_profile("xen")) for p in built("xen-deb-series")[:2]]
    row = next(x for x in footprint_text.compare_table(fps).splitlines() if x.startswith("code in executables"))
    assert row.split()[-4:] == [*footprint_text.size(fps[0].code_size).split(),
                                *footprint_text.size(fps[1].code_size).split()]
