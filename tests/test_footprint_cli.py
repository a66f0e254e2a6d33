"""``inspector footprint`` and ``inspector profiles`` on saved synthetic inventories; reports and treemap data."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inspector.cli import app
from inspector.footprint import classify, footprint_treemap_data, load_profile
from inspector.serialize import inventory_to_dict
from tests.test_footprint_helpers import esxi_like

runner = CliRunner()


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "esxi.json"
    path.write_text(json.dumps(inventory_to_dict(esxi_like()), indent=1), encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args])
    return result.exit_code, result.output


def test_footprint_shows_the_four_footprints_and_every_category(saved: Path) -> None:
    code, out = _run("footprint", str(saved), "--profile", "esxi")
    assert code == 0
    for text in ["download size", "stored payload", "unpacked footprint", "installed size", "hypervisor kernel",
                 "virtualization stack", "drivers", "management and tools", "boot and firmware", "installer-only",
                 "documentation", "unclassified"]:
        assert text in out


def test_footprint_lists_unclassified_files(saved: Path) -> None:
    _, out = _run("footprint", str(saved), "--profile", "esxi")
    assert "unclassified: 1 file, " in out and "esxi.iso!/MYSTERY.DAT" in out


def test_footprint_picks_the_profile_from_the_image_when_one_fits(saved: Path) -> None:
    code, out = _run("footprint", str(saved))
    assert code == 0 and "profile esxi" in out


def test_explain_names_the_rule_for_every_file_of_the_category(saved: Path) -> None:
    code, out = _run("footprint", str(saved), "--profile", "esxi", "--explain", "hypervisor kernel")
    assert code == 0
    assert "esxi-vmkernel" in out and "esxi.iso!/K.B00!/k" in out
    assert "esxi-vmkmod" in out and "source:" in out


def test_explain_unclassified_lists_files_no_rule_matched(saved: Path) -> None:
    _, out = _run("footprint", str(saved), "--profile", "esxi", "--explain", "unclassified")
    assert "(no rule matched)" in out and "MYSTERY.DAT" in out


def test_explain_of_an_unknown_category_is_an_error_listing_choices(saved: Path) -> None:
    code, out = _run("footprint", str(saved), "--profile", "esxi", "--explain", "kernel-ish")
    assert code == 2 and "choices: hypervisor-kernel" in out


def test_an_unknown_profile_is_an_error_listing_choices(saved: Path) -> None:
    code, out = _run("footprint", str(saved), "--profile", "vmware")
    assert code == 2 and "choices: esxi, hyperv, xen" in out


def test_json_has_every_file_with_its_category_and_rule(saved: Path) -> None:
    code, out = _run("footprint", str(saved), "--profile", "esxi", "--json")
    doc = json.loads(out)
    fp = doc["footprints"][0]
    assert code == 0 and doc["schema"] == "inspector.footprint"
    assert sum(c["unpacked"] for c in fp["categories"]) == fp["unpacked_size"]
    assert {"path": "esxi.iso!/K.B00!/k", "size": 30000, "stored": 10000, "category": "hypervisor-kernel",
            "rule": "esxi-vmkernel", "unread": False, "code": None, "data": None} in fp["assignments"]


def test_csv_has_a_row_per_category_and_a_total(saved: Path) -> None:
    _, out = _run("footprint", str(saved), "--profile", "esxi", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    total = next(r for r in rows if r["category"] == "total")
    assert sum(int(r["unpacked"]) for r in rows if r["category"] != "total") == int(total["unpacked"])


def test_csv_with_explain_has_a_row_per_file(saved: Path) -> None:
    _, out = _run("footprint", str(saved), "--profile", "esxi", "--csv", "--explain", "drivers")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["rule"], r["size"]) for r in rows] == [("esxi-driver-payloads", "14000")]


def test_markdown_renders_tables(saved: Path) -> None:
    _, out = _run("footprint", str(saved), "--profile", "esxi", "--markdown")
    assert "| category | files | unpacked |" in out


def test_several_images_are_shown_side_by_side(saved: Path, tmp_path: Path) -> None:
    doc = json.loads(saved.read_text(encoding="utf-8"))
    doc["source"] = "esxi-u1.iso"
    other = tmp_path / "copy.json"
    other.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    code, out = _run("footprint", str(saved), str(other), "--profile", "esxi")
    header = out.splitlines()[0].split()
    assert code == 0 and header == ["esxi.iso", "esxi-u1.iso"] and "unpacked / stored / files" in out


def test_profile_count_must_match_images(saved: Path) -> None:
    code, out = _run("footprint", str(saved), str(saved), str(saved), "-p", "esxi", "-p", "xen")
    assert code == 2 and "--profile given 2 times for 3 images" in out


def test_profiles_lists_the_builtin_profiles() -> None:
    code, out = _run("profiles")
    assert code == 0 and all(name in out for name in ("esxi", "hyperv", "xen"))


def test_profiles_name_shows_rules_with_sources() -> None:
    code, out = _run("profiles", "xen")
    assert code == 0 and "xen-hypervisor -> hypervisor-kernel" in out and "source:" in out


def test_treemap_data_sums_to_the_unpacked_total() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    tree = footprint_treemap_data(fp)
    assert tree["value"] == sum(c["value"] for c in tree["children"]) == fp.unpacked_size
    for c in tree["children"]:
        assert c["value"] == sum(n["value"] for n in c["children"])


def test_treemap_groups_files_beyond_the_limit() -> None:
    fp = classify(esxi_like(), load_profile("esxi"))
    boot = next(c for c in footprint_treemap_data(fp, max_files=1)["children"] if c["id"] == "boot")
    assert boot["children"][-1]["name"] == "(3 other files)"


def test_side_by_side_merges_a_category_id_labelled_differently_by_two_profiles(saved: Path, tmp_path: Path) -> None:
    code, out = _run("footprint", str(saved), str(saved), "-p", "hyperv", "-p", "xen")
    rows = [line for line in out.splitlines() if "parent partition OS" in line or "dom0 OS" in line]
    assert code == 0 and len(rows) == 1 and rows[0].startswith("parent partition OS / dom0 OS (Linux)")
