"""``inspector inventory`` on the Linux ISO fixture: table, --json and --csv outputs and exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.model import NEST

CSV_HEADER = ["path", "kind", "size", "stored_size", "sha256", "detected", "container", "opened", "depth", "mode",
              "mtime", "link_target"]
ENTRY_KEYS = {"path", "kind", "size", "depth", "stored_size", "sha256", "detected", "mode", "mtime", "link_target",
              "container", "opened", "meta"}


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inspector", "inventory", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def iso(built) -> Path:
    return built("linux-iso")[0]


@pytest.fixture(scope="module")
def as_json(iso: Path) -> dict:
    res = _cli(iso, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_json_carries_schema_tag_and_version(as_json: dict) -> None:
    assert (as_json["schema"], as_json["schema_version"]) == ("inspector.inventory", 1)


def test_json_totals_give_download_size_as_the_image_file_size(as_json: dict, iso: Path) -> None:
    assert as_json["totals"]["download_size"] == iso.stat().st_size


def test_json_unpacked_size_is_the_sum_of_leaf_file_sizes(as_json: dict) -> None:
    leaves = [e for e in as_json["entries"] if e["kind"] == "file" and not (e["container"] and e["opened"])]
    assert as_json["totals"]["unpacked_size"] == sum(e["size"] for e in leaves)
    assert as_json["totals"]["files"] == len(leaves)


def test_json_entries_have_every_documented_field_and_the_root_first(as_json: dict, iso: Path) -> None:
    entries = as_json["entries"]
    assert all(set(e) == ENTRY_KEYS for e in entries)
    assert (entries[0]["path"], entries[0]["depth"], entries[0]["container"]) == (iso.name, 0, "iso9660")


def test_json_of_a_complete_image_has_no_problems(as_json: dict) -> None:
    assert (as_json["complete"], as_json["problems"]) == (True, [])


def test_json_lists_the_deepest_payload_with_its_nested_path(as_json: dict) -> None:
    deepest = max(as_json["entries"], key=lambda e: e["depth"])
    assert deepest["path"].endswith(f"boot/xen-4.17-amd64.gz{NEST}xen-4.17-amd64")
    assert as_json["totals"]["max_depth"] == deepest["depth"] == 7


def test_csv_has_the_header_row_and_one_row_per_entry(iso: Path, as_json: dict) -> None:
    res = _cli(iso, "--csv")
    assert res.returncode == 0
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == CSV_HEADER
    assert [r[0] for r in rows[1:]] == [e["path"] for e in as_json["entries"]]


def test_table_shows_the_three_footprints_with_exact_byte_counts(iso: Path, as_json: dict) -> None:
    res = _cli(iso, "--list", "none")
    assert res.returncode == 0
    totals = as_json["totals"]
    assert "download size" in res.stdout and f"({totals['download_size']:,} bytes)" in res.stdout
    assert "unpacked footprint" in res.stdout and f"({totals['unpacked_size']:,} bytes)" in res.stdout
    assert "iso9660" in res.stdout and "data.tar.xz" in res.stdout  # the container table


def test_flat_listing_shows_full_logical_paths(iso: Path) -> None:
    res = _cli(iso, "--list", "flat")
    assert f"{iso.name}{NEST}pool/extras.tgz{NEST}extras.tar{NEST}" in res.stdout


def test_tree_listing_shows_member_names_indented(iso: Path) -> None:
    res = _cli(iso, "--list", "tree")
    assert res.returncode == 0
    assert any(line.rstrip().endswith("  xen-4.17-amd64") for line in res.stdout.splitlines())


def test_max_depth_1_leaves_nested_containers_unopened_and_exits_3(iso: Path) -> None:
    res = _cli(iso, "--json", "--max-depth", "1")
    assert res.returncode == 3
    doc = json.loads(res.stdout)
    assert doc["complete"] is False
    assert {p["kind"] for p in doc["problems"]} == {"limit"}
    assert doc["totals"]["max_depth"] == 1


def test_saved_json_inventory_is_read_back_instead_of_walked(iso: Path, tmp_path: Path) -> None:
    saved = tmp_path / "linux.json"
    saved.write_text(_cli(iso, "--json").stdout)
    again = _cli(saved, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["totals"] == json.loads(saved.read_text())["totals"]
