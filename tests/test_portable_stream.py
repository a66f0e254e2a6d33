"""Large ``.inv`` files are read as a stream into an entry log, and give exactly the whole-document result."""

from __future__ import annotations

import json

import pytest
import zstandard

from inspector import entrylog, portable
from inspector.limits import WalkError
from inspector.model import Entry, EntryKind, Inventory, Problem
from inspector.walker import walk


@pytest.fixture
def stream_everything(monkeypatch):
    """Every inventory counts as large, so ``decode`` takes the streaming path and entries spill."""
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 0)
    monkeypatch.setattr(portable, "DECODE_IN_MEMORY", 0)


def _whole(data: bytes) -> Inventory:
    """The whole-document reader (what ``decode`` does for small inventories)."""
    return portable.decode(data)


def test_streamed_fixture_inventories_equal_the_originals(built, stream_everything):
    for image in built("corpus-small"):
        inv = walk(image)
        back = portable.decode(portable.encode(inv))
        assert not isinstance(back.entries, tuple) or len(back.entries) == 0
        assert back == inv


def _awkward(n: int) -> Inventory:
    names = ["plain", "com,ma", "br]ack[et", 'quo"te', "back\\slash", "uni é ü 漢", "new\nline",
             "],\"kind\":[", "nul"]
    entries = [Entry("img", EntryKind.FILE, 10, 0, sha256="0" * 64, container="tar", opened=True)]
    for i in range(n):
        name = "x" * 300_000 if i == 7 else names[i % len(names)]  # one value longer than a parse window
        entries.append(Entry(f"img!/{i}/{name}", EntryKind.FILE if i % 3 else EntryKind.SYMLINK, i * 1000, 1,
                             stored_size=None if i % 2 else i, mtime=1.5 * i if i % 4 else None, mode=0o644,
                             link_target="a],b" if i % 3 == 0 else None, opened=bool(i % 5),
                             meta={"label": f"m]{i}", "n": [i, {"k": "v]"}]} if i % 7 == 0 else {}))
    return Inventory("img", tuple(entries), (Problem("img!/1", "bad, ] thing", "warning"),))


def test_values_with_brackets_commas_quotes_and_long_strings_round_trip(stream_everything):
    inv = _awkward(3000)
    assert portable.decode(portable.encode(inv)) == inv


def test_a_truncated_stream_is_a_walk_error(stream_everything):
    data = portable.encode(_awkward(200))
    payload = zstandard.ZstdDecompressor().decompress(data[len(portable.MAGIC):], max_output_size=1 << 30)
    cut = portable.MAGIC + zstandard.ZstdCompressor().compress(payload[: len(payload) * 2 // 3])
    with pytest.raises(WalkError):
        portable.decode(cut)


def test_columns_in_another_order_fall_back_to_the_whole_document_reader(stream_everything):
    inv = _awkward(50)
    payload = zstandard.ZstdDecompressor().decompress(portable.encode(inv)[len(portable.MAGIC):],
                                                      max_output_size=1 << 30)
    header, columns, meta, _ = payload.split(b"\n")
    reordered = dict(reversed(list(json.loads(columns).items())))
    body = header + b"\n" + json.dumps(reordered).encode() + b"\n" + meta + b"\n"
    data = portable.MAGIC + zstandard.ZstdCompressor().compress(body)
    assert portable.decode(data) == inv


def test_a_column_of_the_wrong_length_is_a_walk_error(stream_everything):
    payload = zstandard.ZstdDecompressor().decompress(portable.encode(_awkward(50))[len(portable.MAGIC):],
                                                      max_output_size=1 << 30)
    header, columns, meta, _ = payload.split(b"\n")
    cols = json.loads(columns)
    cols["size"] = cols["size"][:-1]
    body = header + b"\n" + json.dumps(cols, separators=(",", ":")).encode() + b"\n" + meta + b"\n"
    with pytest.raises(WalkError, match="column lengths"):
        portable.decode(portable.MAGIC + zstandard.ZstdCompressor().compress(body))


def test_a_stored_inventory_read_back_as_a_stream_is_rebased_to_the_file_asked_for(built, tmp_path,
                                                                                      stream_everything):
    import shutil

    from inspector.sources import load_inventory

    image = built("corpus-small")[0]
    first = load_inventory(image)  # walked and stored
    copy = tmp_path / "renamed.zip"
    shutil.copy(image, copy)
    again = load_inventory(image)
    renamed = load_inventory(copy)
    assert not isinstance(again.entries, tuple) and not isinstance(renamed.entries, tuple)
    assert again == first
    assert renamed == walk(copy)
