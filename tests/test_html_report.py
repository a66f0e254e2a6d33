"""The HTML series report: one self-contained file that renders its charts offline in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inspector.report.html import render_html
from inspector.series.compare import compare
from inspector.series.engine import SeriesOptions, measure_series
from inspector.series.manifest import load_manifest


@pytest.fixture(scope="module")
def report_file(built, tmp_path_factory) -> Path:
    m = load_manifest(built("scenario")[0])
    a, b = (measure_series(s, SeriesOptions(since=m.since, until=m.until, jobs=2)) for s in m.series)
    out = tmp_path_factory.mktemp("html") / "series.html"
    out.write_text(render_html([a, b], compare(a, b)), encoding="utf-8")
    return out


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("needs chromium")
    return exe


def _run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=8000",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_report_is_self_contained(report_file):
    text = report_file.read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|@import""", text)
    assert text.count("Plotly.newPlot") >= 7  # bars, code churn and treemap x2, cumulative


def test_report_renders_charts_without_errors_in_headless_chromium(report_file, tmp_path):
    exe = _chromium()
    res = _run_chromium(exe, tmp_path / "profile", "--dump-dom", report_file.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    html_tag = re.search(r"<html[^>]*>", res.stdout)
    assert html_tag, res.stdout[:500]
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', html_tag.group(0)))
    assert attrs["data-errors"] == ""
    assert int(attrs["data-plots"]) == 7  # bars, code churn, treemap x2, cumulative
    assert int(attrs["data-charts"]) == 7  # every chart drew a non-empty SVG
    console_errors = [line for line in res.stderr.splitlines() if "CONSOLE" in line and "rror" in line]
    assert console_errors == []


def test_report_screenshot_is_written(report_file, tmp_path):
    exe = _chromium()
    artifacts = Path(os.environ.get("INSPECTOR_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "series-report.png"
    res = _run_chromium(exe, tmp_path / "profile", "--hide-scrollbars", "--window-size=1400,4200",
                        f"--screenshot={shot}", report_file.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    print(f"screenshot: {shot}")
