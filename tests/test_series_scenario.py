"""inspector series on the two-vendor scenario: totals and ratios computed independently from its definitions."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures import scenario as sc
from inspector.cli import app
from inspector.report.series_findings import comparison_sentence, highlight_message
from inspector.series.compare import compare
from inspector.series.engine import SeriesOptions, measure_series
from inspector.series.manifest import load_manifest
from inspector.series.model import SeriesReport


@pytest.fixture(scope="module")
def scenario_dir(built) -> Path:
    return built("scenario")[0].parent


@pytest.fixture(scope="module")
def measured(scenario_dir: Path) -> tuple[SeriesReport, SeriesReport]:
    m = load_manifest(scenario_dir / "series.toml")
    opts = SeriesOptions(since=m.since, until=m.until, jobs=2)
    a, b = (measure_series(s, opts) for s in m.series)
    return a, b


def _in_window(rel: sc.ScenarioRelease) -> bool:
    return sc.WINDOW[0] <= rel.date <= sc.WINDOW[1]


def test_window_holds_13_patches_of_a_and_26_of_b(measured):
    a, b = measured
    assert a.totals.patches == sum(map(_in_window, sc.vendor_a())) == 13
    assert b.totals.patches == sum(map(_in_window, sc.vendor_b())) == 26


def test_total_download_is_the_sum_of_the_release_file_sizes(measured, scenario_dir):
    a, b = measured
    for rep, rels in ((a, sc.vendor_a()), (b, sc.vendor_b())):
        expected = sum((scenario_dir / r.file).stat().st_size for r in rels if _in_window(r))
        assert rep.totals.download == expected


def test_download_ratio_and_sentence(measured, scenario_dir):
    a, b = measured
    da = sum((scenario_dir / r.file).stat().st_size for r in sc.vendor_a() if _in_window(r))
    db = sum((scenario_dir / r.file).stat().st_size for r in sc.vendor_b() if _in_window(r))
    cmp = compare(a, b)
    ratios = {r.name: r for r in cmp.ratios}
    assert ratios["total download"].ratio == pytest.approx(da / db)
    assert ratios["patches"].ratio == pytest.approx(13 / 26)
    sentence = comparison_sentence(cmp)
    assert sentence.startswith("Vendor A shipped 13 patches, ")
    assert f"Vendor A's patch footprint is {da / db:.0f}x Vendor B's" in sentence


def test_full_image_footprint_after_each_patch_matches_the_tree(measured):
    a, _ = measured
    for row in a.rows:
        n = int(row.file.split("-")[-1].split(".")[0])
        tree = sc.a_tree(n)
        assert row.footprint_after == sum(map(len, tree.values())) + len(sc.a_notes(n))


def test_full_image_replaced_bytes_per_patch_match_the_definitions(measured):
    a, _ = measured
    for row in a.rows:
        n = int(row.file.split("-")[-1].split(".")[0])
        old, new = sc.a_tree(n - 1), sc.a_tree(n)
        changed = [p for p in new if old.get(p) != new[p]]
        expected = sum(len(new[p]) for p in changed) + len(sc.a_notes(n))  # release notes change every time
        assert row.churn is not None
        assert row.churn.replaced_bytes == expected
        assert row.churn.files_added == len(set(new) - set(old))
        assert row.churn.files_modified == len([p for p in changed if p in old]) + 1


def test_incremental_footprint_is_base_plus_patches(measured):
    _, b = measured
    rels = sc.vendor_b()
    for row in b.rows:
        n = next(i for i, r in enumerate(rels, start=1) if r.label == row.label)
        assert row.footprint_after == sum(sc.b_installed(n).values())


def test_total_replaced_bytes_of_b_match_the_patch_payloads(measured):
    _, b = measured
    rels = sc.vendor_b()
    expected = 0
    for n, r in enumerate(rels, start=1):
        if _in_window(r):
            before, after = sc.b_installed(n - 1), sc.b_installed(n)
            changed = set(after) - set(before) | set(sc.b_patch_files(n))
            expected += sum(after[p] for p in changed)
    assert b.totals.replaced_bytes == expected


def test_incremental_delta_is_bounded_by_the_patch_download(measured):
    _, b = measured
    for row in b.rows:
        assert row.churn is not None
        assert row.churn.delta_bytes == min(row.churn.replaced_bytes, row.download)
    assert b.totals.delta_bytes <= b.totals.download


def test_close_rebuild_is_the_only_highlight(measured):
    a, b = measured
    rebuild = next(r for r in sc.vendor_a() if r.rebuild_all)
    assert [h.label for h in a.highlights] == [rebuild.label]
    h = a.highlights[0]
    assert h.days == 3
    added = sum(rebuild.sizes.values())
    assert h.growth_bytes == added + len(sc.a_notes(3)) - len(sc.a_notes(2))
    message = highlight_message(h)
    assert "grew" in message and "in 3 days" in message
    assert h.top_components
    assert b.highlights == ()


def test_whole_image_replaced_flag_only_on_the_rebuild(measured):
    a, b = measured
    assert [r.label for r in a.rows if r.whole_image_replaced] == ["A 1.0 P03"]
    assert not any(r.whole_image_replaced for r in b.rows)


def test_per_kind_counts(measured):
    a, _ = measured
    expected: dict[str, int] = {}
    for r in sc.vendor_a():
        if _in_window(r):
            expected[r.kind] = expected.get(r.kind, 0) + 1
    assert dict(a.totals.kinds) == expected


def test_mean_and_largest_patch(measured, scenario_dir):
    a, _ = measured
    sizes = {r.label: (scenario_dir / r.file).stat().st_size for r in sc.vendor_a() if _in_window(r)}
    assert a.totals.mean_download == pytest.approx(sum(sizes.values()) / len(sizes))
    assert a.totals.largest_download[1] == max(sizes.values())
    assert a.totals.largest_delta[0] == "A 1.0 P03"


def test_reboot_flags_come_from_manifest_metadata_or_are_unknown(measured):
    a, b = measured
    for row in a.rows:
        rel = next(r for r in sc.vendor_a() if r.label == row.label)
        assert (row.reboot_required, row.reboot_source) == (rel.reboot_required, "manifest")
    for row in b.rows:
        rel = next(r for r in sc.vendor_b() if r.label == row.label)
        assert row.reboot_required == rel.reboot_required
        assert row.reboot_source == ("unknown" if rel.reboot_required is None else "metadata")
    assert {row.reboot_required for row in b.rows} == {True, False, None}


def test_window_filter_on_the_command_line_overrides_the_manifest(scenario_dir):
    res = CliRunner().invoke(app, ["series", "--manifest", str(scenario_dir / "series.toml"), "--json",
                                   "--since", "2008-08-13", "--until", "2008-12-31"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    a = doc["series"][0]
    expected = [r.label for r in sc.vendor_a() if "2008-08-13" <= r.date.isoformat() <= "2008-12-31"]
    assert [r["label"] for r in a["rows"]] == expected
    assert doc["schema"] == "inspector.series" and doc["schema_version"] == 1


def test_without_window_every_release_counts(scenario_dir):
    m = load_manifest(scenario_dir / "series.toml")
    rep = measure_series(m.series[0], SeriesOptions())
    assert rep.totals.patches == len(sc.vendor_a()) == 14


def test_csv_has_one_row_per_patch_of_both_series(scenario_dir):
    res = CliRunner().invoke(app, ["series", "--manifest", str(scenario_dir / "series.toml"), "--csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 13 + 26
    assert {r["series"] for r in rows} == {"Vendor A", "Vendor B"}


def test_terminal_comparison_prints_sentence_and_side_by_side_table(scenario_dir):
    res = CliRunner().invoke(app, ["series", "--manifest", str(scenario_dir / "series.toml")])
    assert res.exit_code == 0, res.output
    assert "Vendor A shipped 13 patches" in res.stdout
    assert "total download" in res.stdout and "A/B" in res.stdout
    assert "WHOLE SHARP" in res.stdout


def test_markdown_output_has_tables(scenario_dir):
    res = CliRunner().invoke(app, ["series", "--manifest", str(scenario_dir / "series.toml"), "--markdown"])
    assert res.exit_code == 0, res.output
    assert "| # | date | label |" in res.stdout
