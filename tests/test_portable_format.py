"""Portable ``.inv`` inventories: exact round trip, versioned header, accepted in place of an image."""

from __future__ import annotations

import io
import json

import pytest
import zstandard
from typer.testing import CliRunner

from inspector import portable
from inspector.cli import app
from inspector.limits import WalkError
from inspector.model import SCHEMA_VERSION, Inventory, Problem
from inspector.sources import load_inventory
from inspector.walker import walk

runner = CliRunner()


def _inv_bytes(header: dict, columns: dict, meta: list) -> bytes:
    body = b"".join(json.dumps(x).encode() + b"\n" for x in (header, columns, meta))
    return portable.MAGIC + zstandard.ZstdCompressor().compress(body)


def test_round_trip_is_exact_for_every_fixture_image(built):
    for image in built("corpus-small"):
        inv = walk(image)
        assert portable.decode(portable.encode(inv)) == inv


def test_round_trip_keeps_problems_and_metadata(built):
    inv = walk(built("corpus-small")[2])
    inv = Inventory(inv.source, inv.entries, (Problem("media.iso!/x", "bad thing", "warning"),))
    back = portable.decode(portable.encode(inv))
    assert back.problems == inv.problems
    assert [dict(e.meta) for e in back.entries] == [dict(e.meta) for e in inv.entries]


def test_file_starts_with_magic_and_a_versioned_header(built, tmp_path):
    out = tmp_path / "media.inv"
    portable.write(walk(built("corpus-small")[2]), out)
    data = out.read_bytes()
    assert data.startswith(portable.MAGIC)
    header = portable.read_header(data)
    assert header["format_version"] == portable.FORMAT_VERSION
    assert header["schema_version"] == SCHEMA_VERSION
    assert header["root_sha256"] == walk(built("corpus-small")[2]).root.sha256


def test_portable_is_much_smaller_than_json(built, tmp_path):
    image = built("corpus-small")[0]
    runner.invoke(app, ["inventory", str(image), "-o", str(tmp_path / "a.inv")])
    as_json = runner.invoke(app, ["inventory", str(image), "--json"]).output
    assert (tmp_path / "a.inv").stat().st_size * 3 < len(as_json)


def test_inventory_command_accepts_inv_in_place_of_the_image(built, tmp_path):
    image = built("corpus-small")[0]
    out = tmp_path / "bundle.inv"
    walked = runner.invoke(app, ["inventory", str(image), "-o", str(out), "--list", "flat", "--no-store"])
    read = runner.invoke(app, ["inventory", str(out), "--list", "flat"])
    assert (walked.exit_code, read.exit_code) == (0, 0)
    assert read.output == walked.output


def test_load_inventory_reads_inv_without_walking(built, tmp_path):
    image = built("corpus-small")[1]
    out = tmp_path / "u.inv"
    portable.write(walk(image), out)
    assert load_inventory(out) == walk(image)


def test_truncated_file_is_a_one_line_error(built, tmp_path):
    out = tmp_path / "t.inv"
    portable.write(walk(built("corpus-small")[0]), out)
    out.write_bytes(out.read_bytes()[:60])
    res = runner.invoke(app, ["inventory", str(out)])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "t.inv" in res.output and "Traceback" not in res.output


def test_newer_format_version_is_refused(tmp_path):
    data = _inv_bytes({"format": "inspector.inv", "format_version": 99, "schema_version": SCHEMA_VERSION}, {}, [])
    with pytest.raises(WalkError, match="format version 99"):
        portable.decode(data)


def test_column_length_mismatch_is_refused(built):
    inv = walk(built("corpus-small")[1])
    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(portable.encode(inv)[8:])).read()
    header, columns, meta = (json.loads(x) for x in raw.split(b"\n")[:3])
    columns["size"].pop()
    with pytest.raises(WalkError, match="column lengths"):
        portable.decode(_inv_bytes(header, columns, meta))


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(portable, "MAX_PAYLOAD", 1000)
    data = portable.MAGIC + zstandard.ZstdCompressor().compress(b"\n" * 100_000)
    with pytest.raises(WalkError, match="refused"):
        portable.decode(data)


def test_write_replaces_atomically_leaving_no_temp_files(built, tmp_path):
    out = tmp_path / "x.inv"
    out.write_bytes(b"old")
    portable.write(walk(built("corpus-small")[3]), out)
    assert portable.is_portable(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.inv"]
