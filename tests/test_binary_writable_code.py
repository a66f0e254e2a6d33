"""Writable+executable code sections: counted as code, and always said to mix code and data.

Flattened boot images (Xen's multiboot ELF has one ``WAX`` .text holding everything) give the section
table no way to tell code from data; inspector counts such bytes as code and says how many they are.
"""

from __future__ import annotations

from pathlib import Path

from fixtures.common import pseudo_random, tar_bytes
from fixtures.executables import elf_image
from inspector.diff.engine import diff_images
from inspector.inventory import totals
from inspector.report.inventory_text import summary
from inspector.walker import walk


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    path.write_bytes(tar_bytes(files, compress=None))
    return path


def _flat(seed: str) -> bytes:
    return elf_image(pseudo_random(seed, 20_000), 24_000, writable_text=True)


def test_writable_text_counts_as_code_and_is_recorded_as_writable(tmp_path: Path) -> None:
    inv = walk(_tar(tmp_path / "a.tar", {"boot/xen": _flat("a")}))
    (binary,) = [e.meta["binary"] for e in inv.entries if "binary" in e.meta]
    (text,) = [s for s in binary["sections"] if s["name"] == ".text"]
    assert text["class"] == "code" and text["writable"] is True and text["flags"] == "WAX"
    assert binary["writable_code_bytes"] == binary["code_bytes"] == text["file_size"]


def test_ordinary_text_is_not_writable(tmp_path: Path) -> None:
    inv = walk(_tar(tmp_path / "a.tar", {"bin/tool": elf_image(pseudo_random("t", 9000), 10_000)}))
    (binary,) = [e.meta["binary"] for e in inv.entries if "binary" in e.meta]
    assert binary["writable_code_bytes"] == 0
    assert all("writable" not in s for s in binary["sections"] if s["class"] == "code")


def test_inventory_summary_says_how_much_code_mixes_code_and_data(tmp_path: Path) -> None:
    inv = walk(_tar(tmp_path / "a.tar", {"boot/xen": _flat("a")}))
    assert totals(inv).writable_code_bytes == totals(inv).code_bytes > 0
    assert "writable+executable sections, where code and data cannot be told apart" in summary(inv)


def test_diff_counts_code_churned_in_writable_sections_apart(tmp_path: Path) -> None:
    old = _tar(tmp_path / "old.tar", {"boot/xen": _flat("a"), "bin/tool": elf_image(pseudo_random("t", 9000), 10_000)})
    new = _tar(tmp_path / "new.tar", {"boot/xen": _flat("b"), "bin/tool": elf_image(pseudo_random("u", 9000), 10_000)})
    t = diff_images(old, new).totals
    assert t.binaries_code_changed == 2
    assert 0 < t.code_churned_writable < t.code_churned
    (xen,) = [c for c in diff_images(old, new).changes if c.path.endswith("boot/xen")]
    assert xen.code is not None and xen.code.writable_code


def test_footprint_says_how_much_code_mixes_code_and_data(tmp_path: Path) -> None:
    from inspector.footprint.engine import classify
    from inspector.footprint.profile import load_profile
    from inspector.report.footprint_text import summary as footprint_summary

    tool = elf_image(pseudo_random("t", 9000), 10_000)
    inv = walk(_tar(tmp_path / "a.tar", {"boot/xen": _flat("a"), "bin/tool": tool}))
    fp = classify(inv, load_profile("xen"))
    assert 0 < fp.writable_code_size < fp.code_size
    assert "writable+executable sections" in footprint_summary(fp)



def test_series_sentence_says_how_much_code_churn_mixes_code_and_data() -> None:
    from inspector.report.series_findings import code_churn_sentence
    from tests.test_series_code_churn import churn, report, row

    rep = report(row(1, None), row(2, churn(code_old=4096, code_new=4096, code_churned=1024,
                                            code_churned_writable=1024, binaries_code_changed=1)))
    assert rep.totals.code_churned_writable == 1024
    assert "1.0 KiB of it in writable+executable sections" in (code_churn_sentence(rep) or "")
