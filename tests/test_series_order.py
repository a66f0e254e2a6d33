"""Release ordering: manifest, else metadata in the images, else version-aware file names; always reported."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from typer.testing import CliRunner

from fixtures import scenario as sc
from inspector.cli import app
from inspector.model import Entry, EntryKind, Inventory
from inspector.serialize import inventory_to_dict
from inspector.series.facts import harvest
from inspector.series.manifest import ManifestError, load_manifest
from inspector.series.order import version_key


def _inv(name: str, meta: dict) -> Inventory:
    root = Entry(path=name, kind=EntryKind.FILE, size=10, depth=0, container="zip", opened=True)
    inner = Entry(path=f"{name}!/bulletin.xml", kind=EntryKind.FILE, size=10, depth=1, sha256="0" * 64, meta=meta)
    return Inventory(source=name, entries=(root, inner))


def _save(tmp: Path, name: str, meta: dict) -> Path:
    p = tmp / name
    p.write_text(json.dumps(inventory_to_dict(_inv(name, meta)), indent=1), encoding="utf-8")
    return p


def _series_json(*args: str) -> dict:
    res = CliRunner().invoke(app, ["series", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["series"][0]


def test_version_key_sorts_numbers_numerically():
    names = ["patch-10.zip", "patch-9.zip", "patch-1.zip", "5.0u10", "5.0u2"]
    assert sorted(names, key=version_key) == ["5.0u2", "5.0u10", "patch-1.zip", "patch-9.zip", "patch-10.zip"]


def test_name_order_is_version_aware_and_reported(built):
    d = built("scenario")[0].parent / "vendor-a"
    doc = _series_json(str(d))
    assert doc["order"]["source"] == "name"
    assert [r["file"] for r in doc["rows"]] == [f"A-patch-{n}.zip" for n in range(1, 15)]


def test_metadata_dates_order_the_releases(built):
    d = built("scenario")[0].parent / "vendor-b"
    doc = _series_json(str(d))
    assert doc["order"]["source"] == "metadata-date"
    assert [r["label"] for r in doc["rows"]] == [f"B-KB{r.label[2:]}.msu" for r in sc.vendor_b()]
    assert [r["date"] for r in doc["rows"]] == [r.date.isoformat() for r in sc.vendor_b()]


def test_metadata_dates_beat_misleading_names(tmp_path):
    a = _save(tmp_path, "release-2.json", {"bulletin": {"releaseDate": "2009-01-05T00:00:00"}})
    b = _save(tmp_path, "release-10.json", {"bulletin": {"releaseDate": "2008-11-30"}})
    doc = _series_json(str(a), str(b))
    assert doc["order"]["source"] == "metadata-date"
    assert [r["file"] for r in doc["rows"]] == ["release-10.json", "release-2.json"]


def test_metadata_build_numbers_order_when_no_dates(tmp_path):
    a = _save(tmp_path, "x.json", {"build": "123630"})
    b = _save(tmp_path, "y.json", {"build": "110268"})
    doc = _series_json(str(a), str(b))
    assert doc["order"]["source"] == "metadata-version"
    assert [r["file"] for r in doc["rows"]] == ["y.json", "x.json"]


def test_manifest_dates_order_a_shuffled_manifest(built, tmp_path):
    d = built("scenario")[0].parent
    rels = sc.vendor_a()
    shuffled = rels[:]
    random.Random(4).shuffle(shuffled)
    lines = []
    for r in shuffled:
        lines += ["[[release]]", f'file = "{d / r.file}"', f'label = "{r.label}"', f"date = {r.date}", ""]
    m = tmp_path / "a.toml"
    m.write_text("\n".join(lines), encoding="utf-8")
    doc = _series_json("--manifest", str(m))
    assert doc["order"]["source"] == "manifest"
    assert [r["label"] for r in doc["rows"]] == [r.label for r in rels]


def test_reboot_flag_from_metadata(tmp_path):
    assert harvest(_inv("a", {"rebootRequired": "true"}))[2] is True
    assert harvest(_inv("a", {"props": {"Reboot Required": "no"}}))[2] is False
    assert harvest(_inv("a", {"comment": "reboot the host"}))[2] is None


def test_harvest_finds_nested_dates_and_ignores_update_keys():
    dates, version, _ = harvest(_inv("a", {"update": "2001-01-01", "list": [{"release_date": "2009-02-03"}]}))
    assert dates == (dt.date(2009, 2, 3),)
    assert version is None


def test_window_needs_dates(built):
    d = built("scenario")[0].parent / "vendor-a"
    res = CliRunner().invoke(app, ["series", str(d), "--since", "2008-07-01"])
    assert res.exit_code == 2
    assert "need a date for every release" in res.output


def test_manifest_typo_is_a_one_line_error(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('[[release]]\nfile = "x.zip"\nlabl = "oops"\n', encoding="utf-8")
    try:
        load_manifest(m)
    except ManifestError as exc:
        assert "unknown key(s) labl" in str(exc)
    else:
        raise AssertionError("typo accepted")
    res = CliRunner().invoke(app, ["series", "--manifest", str(m)])
    assert res.exit_code == 2 and "unknown key(s) labl" in res.output and "Traceback" not in res.output


def test_missing_release_file_is_a_one_line_error(tmp_path):
    res = CliRunner().invoke(app, ["series", str(tmp_path / "nope.zip")])
    assert res.exit_code == 2 and "no such file" in res.output
