"""The published JSON Schemas (inspector/schemas/*.schema.json) hold for real outputs of the fixtures."""

from __future__ import annotations

import json

import jsonschema
import pytest

from inspector.diff import diff_images
from inspector.report import series_text
from inspector.report.diff_text import Filters, to_json_dict
from inspector.schemas import NAMES, load_schema
from inspector.serialize import inventory_to_dict
from inspector.series.compare import compare
from inspector.series.engine import SeriesOptions, measure_releases, release_specs
from inspector.walker import walk


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(name), format_checker=jsonschema.FormatChecker())


def _errors(name: str, doc: dict) -> list[str]:
    doc = json.loads(json.dumps(doc))  # exactly what --json prints (tuples become lists, and so on)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(name).iter_errors(doc)]


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_valid_draft_2020_12_schema_shipped_in_the_package(name):
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == f"inspector.{name}"


@pytest.mark.parametrize("fixture", ["xen-deb-series", "linux-iso", "msu", "esxi-vib", "bad", "hostile-names"])
def test_inventory_json_of_fixtures_matches_the_schema(built, fixture):
    for path in built(fixture)[:3]:
        assert _errors("inventory", inventory_to_dict(walk(path))) == []


def test_inventory_without_entries_matches_the_schema(built):
    doc = inventory_to_dict(walk(built("linux-iso")[0]), with_entries=False)
    assert _errors("inventory", doc) == []


@pytest.mark.parametrize("fixture", ["diff-tgz-pair", "diff-zip-pair", "diff-broken", "diff-delta"])
def test_diff_json_of_fixture_pairs_matches_the_schema(built, fixture):
    old, new = built(fixture)[:2]
    result = diff_images(old, new)
    assert _errors("diff", to_json_dict(result, result.changes, Filters())) == []


def test_series_json_of_real_packages_matches_the_schema(built):
    reports = measure_releases(release_specs(built("deb-products")), SeriesOptions(), name="downloads")
    assert _errors("series", series_text.to_dict(reports, None)) == []
    assert _errors("series", series_text.to_dict(reports, compare(reports[0], reports[1]))) == []


def test_schema_rejects_a_document_missing_its_totals(built):
    doc = inventory_to_dict(walk(built("linux-iso")[0]))
    del doc["totals"]
    assert any("totals" in e for e in _errors("inventory", doc))
