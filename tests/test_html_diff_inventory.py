"""The diff and inventory HTML reports: self-contained pages whose charts draw offline in headless Chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from inspector.diff import diff_images
from inspector.diff.model import ChangeStatus
from inspector.report.diff_html import container_rows, render_diff_html
from inspector.report.inventory_html import largest_files, render_inventory_html
from inspector.walker import Walker
from tests.test_html_report import _chromium, _run_chromium

_EXTERNAL = re.compile(r"""<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|@import""")


@pytest.fixture(scope="module")
def result(built):
    old, new = built("diff-tgz-pair")
    return diff_images(old, new)


@pytest.fixture(scope="module")
def diff_page(result, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("diff-html") / "diff.html"
    out.write_text(render_diff_html(result), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def inventory(built):
    return Walker().inventory(built("xen-deb-series")[0])


@pytest.fixture(scope="module")
def inventory_page(inventory, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inventory-html") / "inventory.html"
    out.write_text(render_inventory_html(inventory), encoding="utf-8")
    return out


def _attrs(page: Path, tmp_path: Path) -> dict[str, str]:
    res = _run_chromium(_chromium(), tmp_path / "profile", "--window-size=1400,2000", "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    tag = re.search(r"<html[^>]*>", res.stdout)
    assert tag, res.stdout[:500]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag.group(0)))


def _cells(text: str, heading: str) -> list[list[str]]:
    """The data-sort keys of each row of the table in the section titled ``heading``."""
    section = text[text.index(f"<h2>{heading}"):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [re.findall(r'data-sort="([^"]*)"', row) for row in body.split("<tr>")[1:]]


def test_diff_page_is_self_contained(diff_page):
    text = diff_page.read_text(encoding="utf-8")
    assert not _EXTERNAL.search(text)
    assert text.count("Plotly.newPlot") == 1  # the churn-by-component chart


def test_diff_page_draws_its_chart_without_errors_in_headless_chromium(diff_page, tmp_path):
    attrs = _attrs(diff_page, tmp_path)
    assert attrs["data-errors"] == ""
    assert attrs["data-plots"] == attrs["data-charts"] == "1"
    assert attrs["data-overlaps"] == "0" and attrs["data-wide-tables"] == "0"


def test_diff_totals_are_the_results_figures(diff_page, result):
    rows = {r[0]: r[1:] for r in _cells(diff_page.read_text(encoding="utf-8"), "Totals")}
    t = result.totals
    assert rows["1"] == [str(t.old_unpacked), str(t.new_unpacked), str(t.growth_bytes)]
    assert rows["8"][-1] == str(t.replaced_bytes) and rows["9"][-1] == str(t.delta_bytes)


def test_largest_changes_are_every_change_biggest_first_with_byte_sort_keys(diff_page, result):
    rows = _cells(diff_page.read_text(encoding="utf-8"), "Largest changes")
    changed = [c for c in result.changes if c.status is not ChangeStatus.UNCHANGED]
    assert len(rows) == len(changed)
    sizes = [max(int(r[1]), int(r[2])) for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert {r[0] for r in rows} == {c.status.value for c in changed}


def test_changed_container_tree_follows_renamed_containers(result, diff_page):
    rows = container_rows(result)
    assert [r.depth for r in rows] == [0, 1]
    assert rows[0].was is not None and rows[0].changes == sum(
        1 for c in result.changes if c.status is not ChangeStatus.UNCHANGED)
    assert "(was app-1.0.tgz)" in diff_page.read_text(encoding="utf-8")


def test_identical_releases_make_a_page_without_change_sections(built, tmp_path):
    a = built("diff-identical")[0]
    text = render_diff_html(diff_images(a, a))
    assert "<b>identical</b>" in text and "Largest changes" not in text


def test_inventory_page_draws_its_treemap_in_headless_chromium(inventory_page, tmp_path):
    text = inventory_page.read_text(encoding="utf-8")
    assert not _EXTERNAL.search(text)
    attrs = _attrs(inventory_page, tmp_path)
    assert attrs["data-errors"] == "" and attrs["data-plots"] == attrs["data-charts"] == "1"


def test_inventory_page_lists_the_largest_files_first(inventory, inventory_page):
    rows = _cells(inventory_page.read_text(encoding="utf-8"), "Largest files")
    leaves = sorted((e.size or 0 for e in inventory.entries if e.is_leaf_file), reverse=True)
    assert [int(r[0]) for r in rows] == leaves[:100]
    assert [e.size for e in largest_files(inventory, 2)] == leaves[:2]


def test_html_screenshots_are_written(diff_page, inventory_page, tmp_path):
    artifacts = Path(os.environ.get("INSPECTOR_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    for page in (diff_page, inventory_page):
        shot = artifacts / f"{page.stem}-report.png"
        res = _run_chromium(_chromium(), tmp_path / "profile", "--hide-scrollbars", "--window-size=1400,1800",
                            f"--screenshot={shot}", page.as_uri())
        assert res.returncode == 0, res.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 30_000
