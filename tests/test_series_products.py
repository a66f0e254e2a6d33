"""Series of real packages given without a manifest: named after the product, grouped, dated by their own metadata."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from fixtures import products as fx
from inspector.series.engine import SeriesError, SeriesOptions, measure_releases, release_specs
from inspector.series.identity import common_words, family_key, kb_family
from inspector.series.release_dates import changelog_date, debian_changelog_date, iso_volume_date
from tests.conftest import require_tool


@pytest.fixture(scope="module")
def folder(built) -> Path:
    return built("deb-products")[0].parent


@pytest.fixture(scope="module")
def reports(folder):
    return {r.name: r for r in measure_releases(release_specs([folder]), SeriesOptions(), name="downloads")}


def test_a_folder_of_two_packages_is_two_series_named_after_the_packages(reports):
    assert sorted(reports) == sorted(fx.PRODUCTS)
    assert {r.product_kind for r in reports.values()} == {"deb"}


def test_rows_are_labelled_by_package_version(reports):
    for package, (_, _, versions) in fx.PRODUCTS.items():
        assert [row.label for row in reports[package].rows] == [v for v, _, _ in versions]
        assert [row.file for row in reports[package].rows] == [fx.deb_file_name(package, v) for v, _, _ in versions]


def test_release_dates_come_from_each_package_changelog(reports):
    for package, (_, _, versions) in fx.PRODUCTS.items():
        assert [row.date for row in reports[package].rows] == [d for _, d, _ in versions]
        assert reports[package].order.source == "metadata-date"
        assert "Debian changelog" in reports[package].order.detail


def test_changelog_date_matches_dpkg_parsechangelog(built):
    require_tool("dpkg-deb", "dpkg-parsechangelog")
    deb = built("deb-products")[1]
    package = deb.name.split("_", 1)[0]
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    member = f"./usr/share/doc/{package}/changelog.Debian.gz"
    gz = subprocess.run(["tar", "-xOf", "-", member], input=tar, capture_output=True, check=True).stdout
    text = subprocess.run(["gunzip", "-c"], input=gz, capture_output=True, check=True).stdout
    stamp = subprocess.run(["dpkg-parsechangelog", "-l-", "-SDate"], input=text, capture_output=True,
                           check=True).stdout.decode().strip()
    expected = dt.datetime.strptime(stamp, "%a, %d %b %Y %H:%M:%S %z").date()
    assert debian_changelog_date(deb, package) == expected


def test_changelog_date_is_the_newest_entry():
    text = fx.changelog("openssh-client", 2)
    assert changelog_date(text) == dt.date(2024, 7, 1)
    assert changelog_date("no trailer here\n") is None


def test_changelog_date_of_a_damaged_package_is_none(tmp_path, built):
    good = built("deb-products")[0].read_bytes()
    bad = tmp_path / "truncated.deb"
    bad.write_bytes(good[: len(good) // 2])
    assert debian_changelog_date(bad, "libreoffice-core-nogui") is None
    junk = tmp_path / "junk.deb"
    junk.write_bytes(b"!<arch>\n" + b"x" * 200)
    assert debian_changelog_date(junk, "x") is None


def test_both_means_are_over_the_compared_patches(reports):
    for rep in reports.values():
        compared = [r for r in rep.rows if r.churn is not None]
        assert rep.totals.mean_over == len(compared) == len(rep.rows) - 1
        assert rep.totals.mean_download == pytest.approx(sum(r.download for r in compared) / len(compared))
        assert rep.totals.mean_delta == pytest.approx(sum(r.churn.delta_bytes for r in compared) / len(compared))


def test_one_side_of_a_comparison_mixing_products_is_refused_with_the_products_listed(folder):
    with pytest.raises(SeriesError) as err:
        measure_releases(release_specs([folder]), SeriesOptions(), name="vendor", split=False)
    message = str(err.value)
    assert "2 products" in message
    assert "libreoffice-core-nogui (deb, 3 files)" in message and "openssh-client (deb, 3 files)" in message


def test_a_folder_mixing_an_iso_and_updates_splits_by_product(built):
    files = built("hyperv-series")
    reports = measure_releases(release_specs(files), SeriesOptions(), name="hyperv")
    kinds = {r.product_kind: r for r in reports}
    assert set(kinds) >= {"msu"}
    msu = kinds["msu"]
    assert msu.name == "Windows Server 2008 x64"
    assert len(msu.rows) == sum(1 for f in files if f.suffix == ".msu")


def test_iso_volume_creation_date_matches_xorriso(built):
    require_tool("xorriso")
    iso = built("linux-iso")[0]
    out = subprocess.run(["xorriso", "-indev", str(iso), "-pvd_info"], capture_output=True, text=True,
                         check=True).stdout
    stamp = next(x for x in out.splitlines() if x.startswith("Creation Time:")).split(":", 1)[1].strip()
    assert iso_volume_date(iso) == dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))


def test_files_without_a_product_stay_one_series_under_the_given_name(built):
    files = built("scenario")[1:4]  # vendor A's GA bundle and patches: plain ZIPs, no product metadata
    reports = measure_releases(release_specs(files), SeriesOptions(), name="Vendor A")
    assert [r.name for r in reports] == ["Vendor A"]
    assert reports[0].product_kind is None


def test_kb_family_drops_the_kb_number_and_catalog_hash():
    assert kb_family("Windows6.0-KB958644-x64.msu") == "Windows6.0-x64"
    assert kb_family("windows10.0-kb5034441-x64_" + "ab" * 20 + ".msu") == "windows10.0-x64"


def test_iso_series_name_is_the_words_every_volume_id_shares():
    assert common_words(["Debian 12.5.0 amd64 n", "Debian 12.6.0 amd64 n"]) == "Debian amd64 n"


def test_patch_depots_of_one_image_profile_family_are_one_series(built):
    files = built("esxi-depot-series")
    reports = measure_releases(release_specs(files), SeriesOptions(), name="depots")
    assert [(r.name, r.product_kind, len(r.rows)) for r in reports] == [("ESXi 8.0.3 standard", "bundle", len(files))]


def test_installer_isos_are_one_series_named_by_their_shared_volume_id_words(built):
    files = built("esxi-iso-series")
    reports = measure_releases(release_specs(files), SeriesOptions(), name="isos")
    assert [(r.name, r.product_kind, len(r.rows)) for r in reports] == [("ESXI 8.0.3 STANDARD", "iso", len(files))]
    assert "ISO volume creation date" in reports[0].order.detail


def test_family_key_keeps_the_words_without_digits():
    assert family_key("ESXi-8.0U3b-24280767-standard") == family_key("ESXI 8.0.3 A STANDARD") == "esxi standard"


def test_series_command_on_a_mixed_folder_prints_one_series_per_package(folder):
    from typer.testing import CliRunner

    from inspector.cli import app

    res = CliRunner().invoke(app, ["series", str(folder), "--no-store", "--json", "-"])
    assert res.exit_code == 0, res.output
    import json

    names = [s["name"] for s in json.loads(res.stdout)["series"]]
    assert sorted(names) == sorted(fx.PRODUCTS)


def test_series_command_refuses_a_comparison_side_mixing_products(folder, built):
    from typer.testing import CliRunner

    from inspector.cli import app

    first = sorted(fx.PRODUCTS)[0]
    one = [p for p in built("deb-products") if p.name.startswith(first + "_")]
    res = CliRunner().invoke(app, ["series", *map(str, one), "--vs", str(folder), "--no-store"])
    assert res.exit_code == 2
    assert all(product in res.output for product in fx.PRODUCTS)


def test_progress_steps_are_each_release_walked_and_each_pair_diffed(folder):
    steps: list[int] = []
    opts = SeriesOptions(step_done=lambda: steps.append(1))
    reports = measure_releases(release_specs([folder]), opts, name="downloads")
    releases = sum(len(r.rows) for r in reports)
    assert len(steps) == releases + (releases - len(reports))
