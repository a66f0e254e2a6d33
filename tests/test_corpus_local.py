"""``inspector corpus`` with the local process pool: a directory or a list in, the store filled."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from inspector import portable
from inspector.cli import app
from inspector.commands.corpus import collect, dask_address
from inspector.store import InventoryStore
from inspector.walker import walk

runner = CliRunner()


def _corpus(built, tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    for p in built("corpus-small"):
        shutil.copy(p, d / p.name)
    return d


def test_directory_corpus_fills_the_store(built, tmp_path):
    d = _corpus(built, tmp_path)
    store = tmp_path / "c.sqlite"
    res = runner.invoke(app, ["corpus", str(d), "--store", str(store), "--jobs", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert {json.loads(line)["status"] for line in res.output.splitlines()} == {"walked"}
    with InventoryStore(store) as st:
        stored = {i.sha256: portable.decode(st.data(i)) for i in st.inventories()}
    assert sorted(stored) == sorted(walk(p).root.sha256 for p in d.iterdir())


def test_second_run_finds_everything_stored(built, tmp_path):
    d = _corpus(built, tmp_path)
    store = tmp_path / "c.sqlite"
    runner.invoke(app, ["corpus", str(d), "--store", str(store)])
    res = runner.invoke(app, ["corpus", str(d), "--store", str(store), "--json"])
    assert res.exit_code == 0
    assert {json.loads(line)["status"] for line in res.output.splitlines()} == {"stored"}


def test_list_file_paths_are_relative_to_the_list(built, tmp_path):
    d = _corpus(built, tmp_path)
    listing = d / "images.txt"
    listing.write_text("# release media\nbundle.zip\n\nmedia.iso\n")
    assert collect(listing) == [(d / "bundle.zip").resolve(), (d / "media.iso").resolve()]


def test_missing_image_in_list_fails_that_image_only(built, tmp_path):
    d = _corpus(built, tmp_path)
    listing = tmp_path / "images.txt"
    listing.write_text(f"{d / 'bundle.zip'}\n{d / 'nope.iso'}\n")
    res = runner.invoke(app, ["corpus", str(listing), "--store", str(tmp_path / "c.sqlite"), "--json"])
    assert res.exit_code == 2
    rows = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in res.output.splitlines()}
    assert (rows["bundle.zip"]["status"], rows["nope.iso"]["status"]) == ("walked", "failed")


def test_executor_address_forms():
    assert dask_address("local") is None
    assert dask_address("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert dask_address("tcp://10.0.0.1:1") == "tcp://10.0.0.1:1"


def test_unknown_executor_is_a_one_line_error(built, tmp_path):
    res = runner.invoke(app, ["corpus", str(_corpus(built, tmp_path)), "--store", str(tmp_path / "c.sqlite"),
                              "--executor", "ray://x"])
    assert res.exit_code == 2
    assert "expected local or dask://HOST:PORT" in res.output
