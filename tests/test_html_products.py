"""The HTML series report on real Debian package names: short labels, fixed chart heights, nothing cut."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from inspector.report.html import CHART_HEIGHT, axis_labels, render_html, short_label
from inspector.series.engine import SeriesOptions, measure_releases, release_specs
from tests.test_html_report import _chromium, _run_chromium


def _layout_attrs(page: Path, tmp_path: Path) -> dict[str, str]:
    res = _run_chromium(_chromium(), tmp_path / "profile", "--window-size=1400,3000", "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    tag = re.search(r"<html[^>]*>", res.stdout)
    assert tag, res.stdout[:500]
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', tag.group(0)))


@pytest.fixture(scope="module", params=["versions", "file-names"])
def page(request, built, tmp_path_factory) -> Path:
    """The report of the two-package folder, rows labelled by version or (worst case) by full file name."""
    specs = release_specs(built("deb-products"))
    if request.param == "file-names":
        specs = [dataclasses.replace(s, label=s.file.name) for s in specs]
    reports = measure_releases(specs, SeriesOptions(), name="downloads")
    out = tmp_path_factory.mktemp("html-products") / f"debs-{request.param}.html"
    out.write_text(render_html(reports, None), encoding="utf-8")
    return out


def test_short_label_keeps_both_ends():
    name = "libreoffice-core-nogui_7.4.7-1+deb12u5_amd64.deb"
    short = short_label(name)
    assert len(short) == 18 and short.startswith("libreoff") and short.endswith("amd64.deb")
    assert short_label("1:9.2p1-2+deb12u3") == "1:9.2p1-2+deb12u3"


def test_axis_labels_keep_what_tells_file_names_apart():
    names = [f"openssh-client_9.2p1-2+deb12u{n}_amd64.deb" for n in (1, 2, 3)]
    assert axis_labels(names) == ["9.2p1-2+deb12u1", "9.2p1-2+deb12u2", "9.2p1-2+deb12u3"]
    assert axis_labels(["A 1.0 P01", "A 1.0 P02"]) == ["A 1.0 P01", "A 1.0 P02"]
    assert axis_labels([f"A-patch-{n}.zip" for n in (9, 10)]) == ["A-patch-9.zip", "A-patch-10.zip"]


def test_every_series_of_the_folder_gets_its_charts(page, tmp_path):
    attrs = _layout_attrs(page, tmp_path)
    assert attrs["data-errors"] == ""
    assert int(attrs["data-plots"]) == 7  # cumulative + bars, code churn and treemap per package
    assert int(attrs["data-charts"]) == 7


def test_charts_keep_their_fixed_height_with_long_names(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    assert text.count(f'"height":{CHART_HEIGHT}') == 5  # cumulative + two bar charts and two code charts
    attrs = _layout_attrs(page, tmp_path)
    assert int(attrs["data-min-plot-height"]) >= 200  # plot areas are not squashed by labels


def test_titles_do_not_overlap_legends_and_tables_fit_the_page(page, tmp_path):
    attrs = _layout_attrs(page, tmp_path)
    assert attrs["data-overlaps"] == "0"
    assert attrs["data-wide-tables"] == "0"  # the flags column is on screen


def test_long_labels_are_shortened_on_the_axis_and_whole_in_the_table(page):
    text = page.read_text(encoding="utf-8")
    label = ("libreoffice-core-nogui_7.4.7-1+deb12u5_amd64.deb" if "file-names" in page.name
             else "4:7.4.7-1+deb12u5")
    assert f'title="{label}">{label}</td>' in text  # the table cell holds it whole, with a tooltip
    ticks = re.findall(r'"ticktext":(\[[^]]*\])', text)
    assert ticks and all(len(t) <= 18 for tick in ticks for t in json.loads(tick))
    version = "7.4.7-1+deb12u5" if "file-names" in page.name else label
    assert any(version in json.loads(tick) for tick in ticks)  # what tells the rows apart is on the axis


def test_screenshot_with_real_package_names(page, tmp_path):
    artifacts = Path(os.environ.get("INSPECTOR_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / f"series-{page.stem}.png"
    res = _run_chromium(_chromium(), tmp_path / "profile", "--hide-scrollbars", "--window-size=1400,3600",
                        f"--screenshot={shot}", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
