"""Code churn in a patch series: per patch (table, CSV, JSON, HTML chart), over the series, in a sentence.

The diff engine fills the code fields of ``ChurnTotals`` (code churned, code growth, executables whose
code changed); the series carries them per patch in ``PairChurn`` and sums them in ``SeriesTotals``.
Unit tests build ``PairChurn`` values directly; integration tests measure the Xen .deb series.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json

import jsonschema
import pytest

from inspector.binaries.model import code_bytes_of
from inspector.diff import diff_images
from inspector.diff.model import ChurnTotals, DiffResult
from inspector.report import series_text
from inspector.report.common import size
from inspector.report.html import render_html
from inspector.report.series_findings import code_churn_sentence
from inspector.schemas import load_schema
from inspector.series.churn import churn_between_inventories, reduce_result, state_inventory
from inspector.series.compare import compare
from inspector.series.engine import SeriesOptions, measure_releases, release_specs, series_totals
from inspector.series.facts import release_facts
from inspector.series.model import FULL, Leaf, OrderInfo, PairChurn, PatchRow, SeriesReport
from inspector.walker import walk

KiB = 1024
#: The ChurnTotals fields about code and data (what this feature carries and sums).
CODE_FIELDS = ("code_old", "code_new", "code_growth", "code_churned", "code_churn_ratio", "code_delta_skipped",
               "binaries_code_changed", "binaries_code_unchanged", "data_old", "data_new", "data_churned")


def churn(**fields: object) -> PairChurn:
    """A ``PairChurn`` with every required figure 0 except ``fields``."""
    required = {f.name: 0 for f in dataclasses.fields(ChurnTotals) if f.default is dataclasses.MISSING}
    return PairChurn(**{**required, "churn_ratio": 0.0, **fields})  # type: ignore[arg-type]


def row(index: int, c: PairChurn | None, label: str | None = None) -> PatchRow:
    """Patch ``index`` (label ``p<index>``) with churn ``c`` (None: nothing compared)."""
    return PatchRow(index=index, label=label or f"p{index}", file=f"p{index}.bin", date=dt.date(2024, 1, index),
                    kind=None, notes=None, download=10 * KiB, footprint_after=1024 * KiB,
                    previous=None if c is None else f"p{index - 1}", churn=c, reboot_required=None,
                    reboot_source="unknown", days_since_previous=1, whole_image_replaced=False, complete=True)


def report(*rows: PatchRow, name: str = "vendor") -> SeriesReport:
    """A full-image series report of ``rows`` with its totals."""
    return SeriesReport(name=name, model=FULL, base=None, base_footprint=None, order=OrderInfo("name", "by name"),
                        since=None, until=None, rows=rows, totals=series_totals(rows), highlights=(), tree=(),
                        tree_caption="")


def three_patches() -> SeriesReport:
    """A first release and three patches: 64 KiB code churned, none (data only), 16 KiB plus 4 KiB growth."""
    return report(
        row(1, None),
        row(2, churn(code_old=200 * KiB, code_new=200 * KiB, code_churned=64 * KiB, binaries_code_changed=1)),
        row(3, churn(code_old=200 * KiB, code_new=200 * KiB, binaries_code_unchanged=1)),
        row(4, churn(code_old=200 * KiB, code_new=204 * KiB, code_growth=4 * KiB, code_churned=16 * KiB,
                     binaries_code_changed=2)),
    )


def no_executables() -> SeriesReport:
    """Two patches of a product without executables (the code figures are all 0)."""
    return report(row(1, churn(files_modified=1)), row(2, churn(files_added=1)))


# --- carried from the diff engine ---------------------------------------------------------------------


def test_reduce_result_carries_every_code_and_data_field_of_the_diff_totals():
    values = {name: n + 1 for n, name in enumerate(CODE_FIELDS)} | {"code_churn_ratio": 0.25}
    totals = churn(**values)
    result = DiffResult(old_source="a", new_source="b", totals=ChurnTotals(
        **{f.name: getattr(totals, f.name) for f in dataclasses.fields(ChurnTotals)}),
        changes=(), components=(), complete=True, problems=())
    pair = reduce_result(result)
    assert {name: getattr(pair, name) for name in CODE_FIELDS} == values


def test_capping_an_incremental_delta_keeps_the_code_figures():
    pair = churn(delta_bytes=100, code_churned=7, binaries_code_changed=1)
    capped = dataclasses.replace(pair, delta_bytes=10)
    assert (capped.code_churned, capped.binaries_code_changed) == (7, 1)


def test_installed_state_keeps_each_executables_section_table():
    binary = {"format": "ELF", "machine": "x86_64", "code_bytes": 700, "data_bytes": 300, "sections": []}
    state = {"bin/tool": Leaf("bin/tool", 1_000, "a" * 64, "bin", binary=binary),
             "doc/README": Leaf("doc/README", 10, "b" * 64, "doc")}
    entries = {e.name: e for e in state_inventory(state).entries}
    assert code_bytes_of(entries["bin/tool"].meta) == 700
    assert code_bytes_of(entries["doc/README"].meta) is None


def test_release_leaves_carry_the_executables_meta_binary(built):
    inv = walk(built("xen-deb-series")[0])
    leaves = {leaf.key: leaf for leaf in release_facts(inv).leaves}
    for e in inv.entries:
        if e.is_leaf_file:
            leaf = leaves[e.path.split("!/", 1)[1]]
            assert (leaf.binary or {}).get("code_bytes") == code_bytes_of(e.meta)
    assert sum(1 for leaf in leaves.values() if leaf.binary) == 2


# --- series totals ------------------------------------------------------------------------------------


def test_series_totals_sum_code_churned_and_growth_over_compared_patches():
    t = three_patches().totals
    assert (t.code_churned, t.code_growth) == (80 * KiB, 4 * KiB)


def test_mean_code_churned_is_over_the_compared_patches_only():
    t = three_patches().totals
    assert t.mean_over == 3
    assert t.mean_code_churned == pytest.approx(80 * KiB / 3)


def test_largest_code_churn_names_the_patch():
    assert three_patches().totals.largest_code_churn == ("p2", 64 * KiB)


def test_largest_code_churn_is_none_when_no_patch_churned_code():
    assert no_executables().totals.largest_code_churn is None


def test_patches_code_changed_counts_patches_whose_code_changed():
    assert three_patches().totals.patches_code_changed == 2


def test_a_changed_executable_counts_as_changed_code_even_without_a_byte_estimate():
    t = report(row(1, churn(code_old=10, code_new=10, binaries_code_changed=1))).totals
    assert t.patches_code_changed == 1


def test_code_churn_ratio_is_over_the_code_before_the_first_compared_patch():
    t = three_patches().totals
    assert t.code_before == 200 * KiB
    assert t.code_churn_ratio == pytest.approx(80 / 200)


def test_executables_changed_only_outside_their_code_are_summed():
    t = three_patches().totals
    assert (t.binaries_code_changed, t.binaries_code_unchanged) == (3, 1)


# --- the sentence -------------------------------------------------------------------------------------


def test_code_finding_says_how_many_patches_changed_code_and_the_largest():
    text = code_churn_sentence(three_patches())
    assert text is not None
    assert text.startswith("2 of 3 patches changed code; the largest code churn was 64.0 KiB in p2; ")
    assert "80.0 KiB over the series (40% of the code before the first patch)" in text
    assert text.endswith("1 executable changed only outside its code")


def test_code_finding_is_none_without_executables():
    assert code_churn_sentence(no_executables()) is None


# --- text, CSV and JSON -------------------------------------------------------------------------------


def test_table_has_code_churn_and_code_growth_columns():
    lines = series_text.rows_table(three_patches()).splitlines()
    assert "code churn" in lines[0] and "code growth" in lines[0]
    last = lines[-1]
    assert "16.0 KiB" in last and "+4.0 KiB" in last


def test_a_narrow_terminal_hides_code_growth_before_code_churn():
    rep = three_patches()
    full = len(series_text.rows_table(rep).splitlines()[0])
    text = series_text.rows_table(rep, width=full - 5)
    assert "code churn" in text.splitlines()[0]
    assert "(hidden to fit the terminal: code growth" in text


def test_totals_show_code_churned_when_the_series_has_code():
    lines = series_text.totals_lines(three_patches())
    mean = size(80 * KiB // 3)
    assert f"code churned       80.0 KiB ({80 * KiB:,} bytes), {mean} per patch, growth +4.0 KiB" in lines


def test_totals_leave_code_out_without_executables():
    assert not any(x.startswith("code") for x in series_text.totals_lines(no_executables()))


def test_series_text_states_the_code_finding():
    assert "Code: 2 of 3 patches changed code;" in series_text.series_text(three_patches())


def test_csv_has_code_columns_per_patch():
    rows = list(csv.DictReader(io.StringIO(series_text.to_csv([three_patches()]))))
    assert [r["code_churned"] for r in rows] == ["", str(64 * KiB), "0", str(16 * KiB)]
    assert rows[3]["code_growth"] == str(4 * KiB) and rows[3]["code_new"] == str(204 * KiB)


def test_json_has_code_fields_per_patch_totals_and_finding_and_matches_the_schema():
    doc = json.loads(json.dumps(series_text.to_dict([three_patches()], None)))
    series = doc["series"][0]
    assert series["rows"][1]["churn"]["code_churned"] == 64 * KiB
    assert series["totals"]["code_churned"] == 80 * KiB
    assert series["totals"]["largest_code_churn"] == ["p2", 64 * KiB]
    assert series["code_finding"].startswith("2 of 3 patches changed code")
    validator = jsonschema.Draft202012Validator(load_schema("series"))
    assert [e.message for e in validator.iter_errors(doc)] == []


def test_schema_documents_every_code_field_of_a_patch_and_of_the_totals():
    schema = load_schema("series")
    pair = schema["$defs"]["pair"]["properties"]
    totals = schema["$defs"]["report"]["properties"]["totals"]["properties"]
    assert set(CODE_FIELDS) <= set(pair)
    code_totals = {f.name for f in dataclasses.fields(three_patches().totals)
                   if "code" in f.name or f.name == "code_before"}
    assert code_totals <= set(totals)
    assert "code_finding" in schema["$defs"]["report"]["properties"]


def test_schema_rejects_a_code_churn_that_is_not_a_number():
    doc = json.loads(json.dumps(series_text.to_dict([three_patches()], None)))
    doc["series"][0]["rows"][1]["churn"]["code_churned"] = "64 KiB"
    assert list(jsonschema.Draft202012Validator(load_schema("series")).iter_errors(doc))


# --- HTML and --vs ------------------------------------------------------------------------------------


def test_html_draws_a_code_churn_chart_per_series_next_to_the_download_bars():
    page = render_html([three_patches()], None)
    assert 'id="code-0"' in page
    assert page.index('id="bars-0"') < page.index('id="code-0"')
    assert "Code churned per patch" in page
    assert "Code: 2 of 3 patches changed code;" in page


def test_html_chart_of_a_series_without_executables_says_so():
    assert "Code churned per patch (no executables analysed)" in render_html([no_executables()], None)


def test_html_table_has_the_code_columns():
    page = render_html([three_patches()], None)
    assert "<th class=\"num\" title=\"click to sort\">code churn</th>" in page
    assert f'data-sort="{64 * KiB}"' in page


def test_vendor_comparison_has_the_ratio_of_mean_code_churned():
    a = three_patches()
    b = report(row(1, churn(code_old=KiB, code_new=KiB, code_churned=8 * KiB)), name="other")
    ratio = next(r for r in compare(a, b).ratios if r.name == "mean code churned")
    assert (ratio.a, ratio.b) == (pytest.approx(80 * KiB / 3), 8 * KiB)
    assert ratio.ratio == pytest.approx(80 / 3 / 8)


# --- integration: the Xen .deb series -----------------------------------------------------------------


@pytest.fixture(scope="module")
def xen_series(built) -> SeriesReport:
    (rep,) = measure_releases(release_specs(built("xen-deb-series")), SeriesOptions())
    return rep


def _code_of(path) -> int:
    return sum(code_bytes_of(e.meta) or 0 for e in walk(path).entries if e.is_leaf_file)


def test_xen_patch_rows_carry_the_diff_engines_code_figures(built, xen_series):
    files = built("xen-deb-series")
    for (old, new), r in zip(zip(files, files[1:], strict=False), xen_series.rows[1:], strict=True):
        totals = diff_images(old, new).totals
        assert r.churn is not None
        assert {n: getattr(r.churn, n) for n in CODE_FIELDS} == {n: getattr(totals, n) for n in CODE_FIELDS}


def test_xen_series_code_totals_add_up_the_rows(xen_series):
    t = xen_series.totals
    churns = [r.churn for r in xen_series.rows if r.churn]
    assert t.code_churned == sum(c.code_churned for c in churns)
    assert t.code_growth == sum(c.code_growth for c in churns)
    assert t.mean_code_churned == pytest.approx(t.code_churned / 2)


def test_xen_patches_start_from_the_code_of_the_previous_release(built, xen_series):
    files = built("xen-deb-series")
    for old, r in zip(files, xen_series.rows[1:], strict=False):
        assert r.churn is not None
        assert r.churn.code_old == _code_of(old)


def test_xen_patches_change_the_code_of_both_executables(xen_series):
    # Every patch rewrites 64 bytes inside the .text of the ELF hypervisor and of the EFI image.
    assert xen_series.totals.patches_code_changed == 2
    for r in xen_series.rows[1:]:
        assert r.churn is not None and r.churn.binaries_code_changed == 2
        assert r.churn.code_churned > 0 and r.churn.code_growth == 0


def test_incremental_states_diff_with_the_executables_code(built):
    # An installed state rebuilt from leaves keeps meta.binary, so the engine sees the executables' code.
    files = built("xen-deb-series")
    old, new = (release_facts(walk(p)) for p in files[:2])
    before = {leaf.name: leaf for leaf in old.leaves}
    after = {leaf.name: leaf for leaf in new.leaves}
    pair = churn_between_inventories(state_inventory(before), state_inventory(after))
    assert pair.code_old == (sum((leaf.binary or {}).get("code_bytes", 0) for leaf in old.leaves))
