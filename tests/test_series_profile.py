"""inspector series --profile: churn per footprint category (issue 7, series integration)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from inspector.cli import app
from inspector.series.engine import SeriesOptions, measure_series
from inspector.series.model import ReleaseSpec, SeriesSpec


@pytest.fixture(scope="module")
def series_dir(built) -> Path:
    return built("esxi-iso-series")[0].parent


def test_text_report_has_a_replaced_by_category_table(series_dir: Path) -> None:
    res = CliRunner().invoke(app, ["series", str(series_dir), "--profile", "esxi"])
    assert res.exit_code == 0, res.output
    assert "replaced by category" in res.output
    assert "hypervisor-kernel" in res.output


def test_category_footprints_add_up_to_the_release_footprint(series_dir: Path) -> None:
    releases = tuple(ReleaseSpec(file=p) for p in sorted(series_dir.glob("*.iso")))
    spec = SeriesSpec(name="esxi", releases=releases)
    report = measure_series(spec, SeriesOptions(profile="esxi"))
    for row in report.rows:
        assert row.categories, "every release is classified"
        assert sum(c.footprint for c in row.categories) == row.footprint_after


def test_no_store_leaves_the_inventory_store_untouched(series_dir: Path, _private_inventory_store: Path) -> None:
    res = CliRunner().invoke(app, ["series", str(series_dir), "--no-store"])
    assert res.exit_code == 0, res.output
    assert not _private_inventory_store.exists()


def test_store_remembers_every_release_of_the_series(series_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    res = CliRunner().invoke(app, ["series", str(series_dir), "--store", str(store)])
    assert res.exit_code == 0, res.output
    listed = CliRunner().invoke(app, ["store", "list", "--store", str(store)])
    assert listed.output.count(".iso") == len(list(series_dir.glob("*.iso")))


def test_html_report_has_the_category_table_too(series_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["series", str(series_dir), "--profile", "esxi", "--html", str(out)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "replaced by category" in html and "hypervisor-kernel" in html
