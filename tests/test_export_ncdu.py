"""ncdu export: ``ncdu -f`` reads it, and the tree's apparent size is the unpacked footprint."""

from __future__ import annotations

import json
import subprocess

from typer.testing import CliRunner

from inspector.cli import app
from inspector.inventory import totals
from inspector.report.export import ncdu_total, to_ncdu
from inspector.walker import walk
from tests.conftest import require_tool

runner = CliRunner()


def _find(node: list, name: str) -> list | dict | None:
    for child in node[1:]:
        info = child[0] if isinstance(child, list) else child
        if info["name"] == name:
            return child
    return None


def test_ncdu_imports_the_export_and_keeps_every_size(built, tmp_path):
    require_tool("ncdu")
    image = built("corpus-small")[0]
    out = tmp_path / "bundle.ncdu.json"
    assert runner.invoke(app, ["inventory", str(image), "-o", str(out), "--format", "ncdu"]).exit_code == 0
    proc = subprocess.run(["ncdu", "-f", str(out), "-o", "-"], capture_output=True, check=True, timeout=60)
    reexported = json.loads(proc.stdout)
    assert ncdu_total(reexported) == totals(walk(image)).unpacked_size


def test_apparent_size_total_is_the_unpacked_footprint(built):
    for image in built("corpus-small"):
        inv = walk(image)
        assert ncdu_total(to_ncdu(inv)) == totals(inv).unpacked_size


def test_containers_are_browsable_directories(built):
    tree = to_ncdu(walk(built("corpus-small")[0]))
    root = tree[3]
    assert root[0]["name"] == "bundle.zip"
    tgz = _find(_find(root, "pkg"), "tool.tgz")
    tar = _find(tgz, "tool.tar")
    binary = _find(_find(_find(tar, "usr"), "bin"), "tool")
    assert binary["asize"] == 20000


def test_zip_member_disk_usage_is_its_compressed_size(built):
    inv = walk(built("corpus-small")[0])
    readme = inv.by_path()["bundle.zip!/README.txt"]
    info = _find(to_ncdu(inv)[3], "README.txt")
    assert (info["asize"], info["dsize"]) == (readme.size, readme.stored_size)


def test_plain_file_becomes_a_one_file_tree(built):
    image = built("corpus-small")[3]
    tree = to_ncdu(walk(image))
    assert ncdu_total(tree) == image.stat().st_size
    assert tree[:2] == [1, 2]
