"""CycloneDX SBOM export: schema-valid, every file with its SHA-256, nested by container."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from inspector.cli import app
from inspector.report.export import to_cyclonedx
from inspector.walker import walk

runner = CliRunner()


def _flatten(components: list[dict]) -> dict[str, dict]:
    out = {}
    for c in components:
        out[c["bom-ref"]] = c
        out.update(_flatten(c.get("components", [])))
    return out


def test_sbom_validates_against_the_cyclonedx_1_5_schema(built, tmp_path):
    validation = pytest.importorskip("cyclonedx.validation.json")
    from cyclonedx.schema import SchemaVersion

    out = tmp_path / "bundle.cdx.json"
    res = runner.invoke(app, ["inventory", str(built("corpus-small")[0]), "-o", str(out), "--format", "cyclonedx"])
    assert res.exit_code == 0
    assert validation.JsonStrictValidator(SchemaVersion.V1_5).validate_str(out.read_text()) is None


def test_every_file_carries_its_sha256(built):
    image = built("corpus-small")[3]
    sbom = to_cyclonedx(walk(image))
    root = sbom["metadata"]["component"]
    assert root["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(image.read_bytes()).hexdigest()}]


def test_members_nest_inside_their_container(built):
    sbom = to_cyclonedx(walk(built("corpus-small")[0]))
    top = {c["name"]: c for c in sbom["components"]}
    tgz = top["pkg/tool.tgz"]
    [tar] = tgz["components"]
    names = {c["name"] for c in tar["components"]}
    assert names == {"usr/bin/tool", "usr/share/doc/tool/README"}


def test_component_hashes_match_the_inventory(built):
    inv = walk(built("corpus-small")[2])
    comps = _flatten(to_cyclonedx(inv)["components"])
    for e in inv.entries[1:]:
        if e.sha256:
            assert comps[e.path]["hashes"][0]["content"] == e.sha256


def test_directories_are_not_components(built):
    inv = walk(built("corpus-small")[2])
    comps = _flatten(to_cyclonedx(inv)["components"])
    dirs = {e.path for e in inv.entries if e.kind.value == "dir"}
    assert dirs and not dirs & comps.keys()


def test_sbom_is_plain_json(built):
    json.dumps(to_cyclonedx(walk(built("corpus-small")[1])))
