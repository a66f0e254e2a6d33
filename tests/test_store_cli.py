"""``inspector store list|show|prune`` on a store filled by ``inspector inventory``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from inspector import portable
from inspector.cli import app
from inspector.walker import walk

runner = CliRunner()


def _fill(built, store):
    images = built("corpus-small")
    for p in images:
        assert runner.invoke(app, ["inventory", str(p), "--store", str(store), "--list", "none"]).exit_code == 0
    return images


def test_list_shows_every_stored_image(built, tmp_path):
    store = tmp_path / "s.sqlite"
    images = _fill(built, store)
    res = runner.invoke(app, ["store", "list", "--store", str(store), "--json"])
    assert res.exit_code == 0
    rows = json.loads(res.output)
    assert sorted(r["sha256"] for r in rows) == sorted(walk(p).root.sha256 for p in images)
    assert all(r["current_engine"] for r in rows)


def test_show_by_image_file_prints_its_summary(built, tmp_path):
    store = tmp_path / "s.sqlite"
    images = _fill(built, store)
    res = runner.invoke(app, ["store", "show", str(images[2]), "--store", str(store)])
    assert res.exit_code == 0
    assert res.output.startswith("media.iso  (iso9660)")


def test_show_by_sha_prefix_exports_a_portable_inventory(built, tmp_path):
    store = tmp_path / "s.sqlite"
    images = _fill(built, store)
    inv = walk(images[1])
    out = tmp_path / "u.inv"
    res = runner.invoke(app, ["store", "show", inv.root.sha256[:10], "--store", str(store), "-o", str(out)])
    assert res.exit_code == 0
    assert portable.read(out).entries[1:] == inv.entries[1:]


def test_show_unknown_key_is_a_one_line_error(built, tmp_path):
    store = tmp_path / "s.sqlite"
    _fill(built, store)
    res = runner.invoke(app, ["store", "show", "deadbeef", "--store", str(store)])
    assert res.exit_code == 2
    assert res.output.strip() == "inspector: error: deadbeef: not in the store"


def test_prune_all_then_list_is_empty(built, tmp_path):
    store = tmp_path / "s.sqlite"
    _fill(built, store)
    res = runner.invoke(app, ["store", "prune", "--all", "--store", str(store)])
    assert res.exit_code == 0 and res.output.startswith("removed 4 inventories")
    assert json.loads(runner.invoke(app, ["store", "list", "--store", str(store), "--json"]).output) == []


def test_list_without_a_store_yet_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_STORE", str(tmp_path / "none.sqlite"))
    res = runner.invoke(app, ["store", "list"])
    assert res.exit_code == 2 and "no inventory store yet" in res.output
