"""Commands load through the store: the second look at an image is read, not walked; flags and env control it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from inspector import sources
from inspector.cli import app
from inspector.limits import Limits, WalkError
from inspector.store import InventoryStore, StoreConfig, default_store_path
from inspector.walker import walk

runner = CliRunner()


class _NoWalk:
    def __init__(self, *a: object, **k: object) -> None:
        pytest.fail("walked an image that is in the store")


def test_second_load_comes_from_the_store(built, tmp_path, monkeypatch):
    image = built("corpus-small")[0]
    cfg = StoreConfig(tmp_path / "s.sqlite")
    first = sources.load_inventory(image, store=cfg)
    monkeypatch.setattr(sources, "Walker", _NoWalk)
    assert sources.load_inventory(image, store=cfg) == first


def test_store_is_on_by_default_at_the_env_path(built, _private_inventory_store):
    sources.load_inventory(built("corpus-small")[1])
    with InventoryStore(_private_inventory_store) as st:
        assert len(st.inventories()) == 1


def test_default_store_lives_in_the_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("INSPECTOR_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "inspector" / "store.sqlite"


def test_env_off_turns_the_store_off(monkeypatch):
    monkeypatch.setenv("INSPECTOR_STORE", "off")
    assert not StoreConfig.resolve().enabled


def test_other_limits_walk_again(built, tmp_path):
    image = built("corpus-small")[0]
    cfg = StoreConfig(tmp_path / "s.sqlite")
    sources.load_inventory(image, store=cfg)
    shallow = sources.load_inventory(image, Limits(max_depth=1), store=cfg)
    assert shallow == walk(image, Limits(max_depth=1))


def test_stored_copy_is_reported_under_its_own_name(built, tmp_path):
    image = built("corpus-small")[0]
    copy = tmp_path / "copy.zip"
    copy.write_bytes(image.read_bytes())
    cfg = StoreConfig(tmp_path / "s.sqlite")
    sources.load_inventory(image, store=cfg)
    assert sources.load_inventory(copy, store=cfg) == walk(copy)


def test_cli_second_run_reads_the_store(built, tmp_path, monkeypatch):
    image = built("corpus-small")[2]
    store = tmp_path / "s.sqlite"
    first = runner.invoke(app, ["inventory", str(image), "--store", str(store), "--list", "flat"])
    monkeypatch.setattr(sources, "Walker", _NoWalk)
    second = runner.invoke(app, ["inventory", str(image), "--store", str(store), "--list", "flat"])
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert second.output == first.output


def test_cli_no_store_neither_reads_nor_writes(built, tmp_path):
    store = tmp_path / "s.sqlite"
    res = runner.invoke(app, ["inventory", str(built("corpus-small")[1]), "--store", str(store), "--no-store"])
    assert res.exit_code == 0
    assert not store.exists()


def test_cli_refresh_walks_again(built, tmp_path, monkeypatch):
    image = built("corpus-small")[1]
    store = tmp_path / "s.sqlite"
    walks = []
    real = sources.Walker

    def counting(*a, **k):
        walks.append(1)
        return real(*a, **k)

    monkeypatch.setattr(sources, "Walker", counting)
    for extra in ([], [], ["--refresh"]):
        assert runner.invoke(app, ["inventory", str(image), "--store", str(store), *extra]).exit_code == 0
    assert len(walks) == 2


def test_unusable_store_is_skipped_not_fatal(built, tmp_path):
    bad = tmp_path / "s.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    res = runner.invoke(app, ["inventory", str(built("corpus-small")[1]), "--store", str(bad)])
    assert res.exit_code == 0


def test_load_many_matches_single_walks_and_fills_the_store(built, tmp_path):
    images = built("corpus-small")
    cfg = StoreConfig(tmp_path / "s.sqlite")
    got = sources.load_many(images, jobs=2, store=cfg)
    assert got == [walk(p) for p in images]
    with InventoryStore(cfg.path) as st:
        assert len(st.inventories()) == len(images)


def test_load_many_reports_progress_per_image(built, tmp_path):
    images = built("corpus-small")
    seen: set[int] = set()
    sources.load_many(images, jobs=2, store=StoreConfig(None), progress=lambda i, done, total: seen.add(i))
    assert seen == set(range(len(images)))


def test_load_many_names_the_image_it_cannot_open(built, tmp_path):
    missing = tmp_path / "missing.iso"
    with pytest.raises(WalkError, match="missing.iso"):
        sources.load_many([built("corpus-small")[1], missing, built("corpus-small")[3]], jobs=2)


def test_load_many_reads_inventory_files_as_they_are(built, tmp_path):
    image = built("corpus-small")[1]
    inv_file = tmp_path / "u.inv"
    runner.invoke(app, ["inventory", str(image), "-o", str(inv_file), "--no-store"])
    [inv] = sources.load_many([inv_file], jobs=2)
    assert inv == walk(image)


def test_walk_cut_short_by_time_is_not_stored(built, tmp_path):
    inv = walk(built("corpus-small")[0])
    from inspector.model import Inventory, Problem

    timed_out = Inventory(inv.source, inv.entries,
                          (Problem(inv.source, "timed out after 1 s (--timeout)", "limit", limit="timeout"),))
    assert sources.storable(inv)
    assert not sources.storable(timed_out)



def test_capture_hooks_need_the_walks_in_this_process(tmp_path):
    images = [tmp_path / "a.bin", tmp_path / "b.bin"]
    for p in images:
        p.write_bytes(b"x")
    with pytest.raises(ValueError, match="this process"):
        list(sources.walk_many(images, jobs=2, captures=[lambda _path, _size: None, None]))


def test_without_a_store_a_walk_here_is_used_as_walked_not_encoded_and_decoded(built, monkeypatch):
    images = built("corpus-small")[:2]
    expected = [walk(p) for p in images]

    def no_encoding(*a: object, **k: object) -> bytes:
        raise AssertionError("encoded an inventory that nothing stores")

    monkeypatch.setattr(sources.portable, "encode", no_encoding)
    assert sources.load_many(images, jobs=1, store=StoreConfig(None)) == expected


def test_without_a_store_a_walk_here_names_the_image_it_cannot_open_as_a_pool_walk_does(built, tmp_path):
    missing = str(tmp_path / "sub" / ".." / "missing.iso")
    with pytest.raises(WalkError) as here:
        sources.load_many([built("corpus-small")[1], missing], jobs=1, store=StoreConfig(None))
    with pytest.raises(WalkError) as stored:
        sources.load_many([built("corpus-small")[1], missing], jobs=1, store=StoreConfig(tmp_path / "s.sqlite"))
    assert str(here.value) == str(stored.value) and str(here.value).startswith(missing + ": cannot open")
