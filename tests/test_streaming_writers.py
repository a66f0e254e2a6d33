"""Streaming writers: every output format, written entry by entry, is byte-identical to today's documents.

The reference is the whole-document code as it was before entries could spill to disk, kept verbatim in
``tests/legacy_writers.py``. Each writer is checked on walked fixtures twice: with the entries on the
heap, and with the same entries spilled to a record file (filled in reverse slot order).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inspector import portable
from inspector.cli import app
from inspector.entrylog import EntryLog
from inspector.inventory import container_summaries, summarise, totals
from inspector.model import Entry, EntryKind, Inventory, Problem
from inspector.report import export
from inspector.serialize import write_json
from inspector.walker import walk
from tests import legacy_writers as legacy

runner = CliRunner()

#: Fixtures whose images cover nesting (ISO, ZIP, tar.gz, .deb, disk, VIB), odd names and damage.
FIXTURES = ("corpus-small", "hostile-names", "bad", "gpt-disk", "esxi-vib", "deb-variants")


def _spilled(inv: Inventory) -> Inventory:
    """The same inventory with every entry in a record file, filled in reverse order."""
    log = EntryLog(spill_after=0)
    slots = [log.reserve() for _ in inv.entries]
    for s in reversed(slots):
        log.fill(s, inv.entries[s])
    frozen = log.freeze()
    assert not isinstance(frozen, tuple)
    return Inventory(inv.source, frozen, inv.problems)


@pytest.fixture(scope="module")
def inventories(built) -> list[Inventory]:
    out = []
    for name in FIXTURES:
        for image in built(name):
            if image.is_file():
                out.append(walk(image))
    out.append(Inventory(out[0].source, out[0].entries,
                         (Problem(out[0].source, "bad thing é", "warning"), Problem("x!/y", "cut", "limit"))))
    return out


def _both(inventories: list[Inventory]):
    for inv in inventories:
        yield inv, inv
        yield inv, _spilled(inv)


def test_json_is_byte_identical_to_the_whole_document(inventories):
    for inv, version in _both(inventories):
        out = io.StringIO()
        write_json(version, out)
        assert out.getvalue() == legacy.json_text(inv), inv.source


def test_json_without_entries_is_byte_identical(inventories):
    inv = inventories[0]
    out = io.StringIO()
    write_json(inv, out, with_entries=False)
    assert out.getvalue() == json.dumps(legacy.inventory_to_dict(inv, with_entries=False), indent=1,
                                        default=str) + "\n"


def test_portable_inventory_is_byte_identical(inventories):
    for inv, version in _both(inventories):
        assert portable.encode(version) == legacy.encode(inv), inv.source


def test_cyclonedx_is_byte_identical(inventories):
    # The whole-document tree now carries purls (packages are found in a first pass), which the legacy
    # writer never had: the streaming writer must equal the whole-document one, byte for byte.
    for inv, version in _both(inventories):
        out = io.StringIO()
        export.write_cyclonedx(version, out, serial="urn:uuid:0", timestamp=1700000000)
        expected = legacy.export_text(export.to_cyclonedx(inv, serial="urn:uuid:0", timestamp=1700000000))
        assert out.getvalue() == expected, inv.source


def test_cyclonedx_without_packages_is_byte_identical_to_the_legacy_writer(inventories):
    for inv, version in _both(inventories):
        if export.package_index(inv):
            continue
        out = io.StringIO()
        export.write_cyclonedx(version, out, serial="urn:uuid:0", timestamp=1700000000)
        expected = legacy.export_text(legacy.to_cyclonedx(inv, serial="urn:uuid:0", timestamp=1700000000))
        assert out.getvalue() == expected, inv.source


def test_ncdu_is_byte_identical(inventories):
    for inv, version in _both(inventories):
        out = io.StringIO()
        export.write_ncdu(version, out, timestamp=1700000000)
        assert out.getvalue() == legacy.export_text(legacy.to_ncdu(inv, timestamp=1700000000)), inv.source


def test_csv_is_byte_identical(inventories):
    for inv, version in _both(inventories):
        out = io.StringIO()
        export.write_csv(version, out)
        assert out.getvalue() == legacy.to_csv(inv), inv.source


def test_one_pass_summaries_equal_the_whole_list_figures(inventories):
    for inv, version in _both(inventories):
        tot, summaries = summarise(version)
        assert tot == legacy.totals(inv) == totals(version)
        assert summaries == legacy.container_summaries(inv) == container_summaries(version)


def _e(path: str, kind: EntryKind = EntryKind.FILE, **kw: object) -> Entry:
    return Entry(path=path, kind=kind, size=kw.pop("size", 1), depth=path.count("!/"), **kw)  # type: ignore[arg-type]


def test_cyclonedx_members_arriving_after_their_container_closed_are_still_nested():
    inv = Inventory("img", (
        _e("img", container="tar", opened=True),
        _e("img!/a.zip", container="zip", opened=True),
        _e("img!/b.txt"),
        _e("img!/a.zip!/late.txt"),  # not walk order: a.zip's components were already closed
    ))
    out = io.StringIO()
    export.write_cyclonedx(inv, out, serial="s", timestamp=0)
    assert out.getvalue() == legacy.export_text(legacy.to_cyclonedx(inv, serial="s", timestamp=0))
    [zip_comp, _] = json.loads(out.getvalue())["components"]
    assert [c["name"] for c in zip_comp["components"]] == ["late.txt"]


def test_ncdu_file_and_directory_of_one_name_replace_each_other_in_place():
    inv = Inventory("img", (
        _e("img", container="tar", opened=True),
        _e("img!/x"),
        _e("img!/y"),
        _e("img!/x/inner"),  # a directory x replaces the file x, at x's position
        _e("img!/d/a"),
        _e("img!/z"),
        _e("img!/d/b"),  # members of d come back together under d
        _e("img!/d", EntryKind.DIR, mtime=5.0),
        _e("img!/x"),  # and the file x replaces the directory again
    ))
    out = io.StringIO()
    export.write_ncdu(inv, out, timestamp=0)
    assert out.getvalue() == legacy.export_text(legacy.to_ncdu(inv, timestamp=0))
    root = json.loads(out.getvalue())[3]
    assert [c["name"] if isinstance(c, dict) else c[0]["name"] for c in root[1:]] == ["x", "y", "d", "z"]


def test_cli_json_and_exports_match_the_whole_documents(built, tmp_path: Path):
    image = built("corpus-small")[0]
    inv = walk(image)
    result = runner.invoke(app, ["inventory", str(image), "--json", "--no-store"])
    assert result.stdout == legacy.json_text(inv)
    result = runner.invoke(app, ["inventory", str(image), "--csv", "--no-store"])
    assert result.stdout == legacy.to_csv(inv)
    out = tmp_path / "x.inv"
    runner.invoke(app, ["inventory", str(image), "--no-store", "-o", str(out)])
    assert out.read_bytes() == legacy.encode(inv)
    ncdu = tmp_path / "x.json"
    runner.invoke(app, ["inventory", str(image), "--no-store", "-o", str(ncdu), "--format", "ncdu"])
    doc = json.loads(ncdu.read_text())
    assert doc[3] == legacy.to_ncdu(inv, timestamp=doc[2]["timestamp"])[3]
