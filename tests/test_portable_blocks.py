"""Large inventories are written in the blocked layout (``.inv`` format version 2) and read back exactly;
inventories and stores written in version 1 still read, and a diff does not depend on the layout."""

from __future__ import annotations

import io
import json

import pytest
import zstandard

from inspector import entrylog, portable
from inspector.diff import DiffOptions, diff_inventories
from inspector.diff import pairing as pairing_module
from inspector.limits import WalkError
from inspector.store import InventoryStore
from tests import legacy_writers as legacy
from tests.test_diff_scale import _pair as scale_pair
from tests.test_diff_twins import _documents
from tests.test_portable_stream import _awkward


@pytest.fixture
def blocked(monkeypatch):
    """Every inventory counts as large: it is written in blocks of 1,024 entries, and its entries spill."""
    monkeypatch.setattr(portable, "BLOCKED_FROM", 0)
    monkeypatch.setattr(portable, "BLOCK_ENTRIES", 1024)
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 100)


def _header_and_frames(data: bytes) -> tuple[dict, list[bytes]]:
    """The header and each block's decompressed bytes, read independently of ``portable_reader``."""
    d = zstandard.ZstdDecompressor().decompressobj()
    header = json.loads(d.decompress(data[len(portable.MAGIC):]))
    rest = d.unused_data
    frames = []
    for length in header["blocks"]:
        frames.append(zstandard.ZstdDecompressor().decompress(rest[:length]))
        rest = rest[length:]
    assert rest == b""
    return header, frames


def _reblock(data: bytes, change) -> bytes:
    """``data`` with ``change(header, blocks)`` applied to its parsed header and blocks, encoded again."""
    header, frames = _header_and_frames(data)
    blocks = [json.loads(f) for f in frames]
    change(header, blocks)
    cctx = zstandard.ZstdCompressor()
    encoded = [cctx.compress(json.dumps(b).encode() + b"\n") for b in blocks]
    header["blocks"] = [len(b) for b in encoded]
    return portable.MAGIC + cctx.compress(json.dumps(header).encode() + b"\n") + b"".join(encoded)


def test_a_large_inventory_is_written_in_blocks_of_columns(blocked):
    inv = _awkward(2500)
    header, frames = _header_and_frames(portable.encode(inv))
    assert header["format_version"] == portable.BLOCKED_VERSION == 2
    assert header["entries"] == 2501 and header["block_entries"] == 1024 and len(frames) == 3
    first = json.loads(frames[0])
    assert len(first) == len(portable._COLUMNS) + 1
    assert first[0] == [e.path for e in inv.entries[:1024]]
    assert first[-1] == [[i, dict(e.meta)] for i, e in enumerate(inv.entries[:1024]) if e.meta]


def test_a_small_inventory_keeps_format_version_1_byte_for_byte():
    inv = _awkward(300)
    assert portable.read_header(portable.encode(inv))["format_version"] == 1
    assert portable.encode(inv) == legacy.encode(inv)


def test_blocked_inventories_round_trip_exactly_on_the_heap_and_spilled(blocked):
    for n in (0, 50, 1023, 1024, 3000):
        inv = _awkward(n)
        back = portable.decode(portable.encode(inv))
        assert back == inv, n
        assert back.problems == inv.problems and back.source == inv.source


def test_blocked_inventories_read_the_header_without_the_entries(blocked):
    inv = _awkward(2000)
    header = portable.read_header(portable.encode(inv))
    assert header["entries"] == 2001 and header["source"] == "img"


def test_version_1_inventories_still_read_whole_and_as_a_stream(monkeypatch):
    inv = _awkward(3000)
    data = legacy.encode(inv)
    assert portable.decode(data) == inv
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 100)
    monkeypatch.setattr(portable, "DECODE_IN_MEMORY", 0)
    assert portable.decode(data) == inv


def test_a_store_written_in_version_1_still_opens_and_reads(tmp_path, blocked):
    old, _ = scale_pair()[:2]
    with InventoryStore(tmp_path / "store.sqlite") as st:  # what the previous version stored
        st.put(legacy.encode(old), sha256="a" * 64, engine="e", image_size=1, source="old", entries=len(old.entries),
               unpacked_size=0, complete=True)
    with InventoryStore(tmp_path / "store.sqlite") as st:
        data = st.get("a" * 64, "e")
    assert data is not None and portable.read_header(data)["format_version"] == 1
    assert portable.decode(data) == old


def test_a_diff_is_the_same_whichever_layout_its_inventories_were_read_from(monkeypatch):
    old, new = scale_pair()[:2]
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 0)
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 100)
    monkeypatch.setattr(portable, "DECODE_IN_MEMORY", 0)

    def diffed() -> dict[str, str]:
        a, b = (portable.decode(portable.encode(inv)) for inv in (old, new))
        return _documents(diff_inventories(a, b, DiffOptions(delta=False)))

    monkeypatch.setattr(portable, "BLOCKED_FROM", 10**12)
    version_1 = diffed()
    monkeypatch.setattr(portable, "BLOCKED_FROM", 0)
    monkeypatch.setattr(portable, "BLOCK_ENTRIES", 512)
    assert diffed() == version_1 == _documents(diff_inventories(old, new, DiffOptions(delta=False)))


@pytest.mark.parametrize("damage, reason", [
    (lambda h, b: b[1][2].pop(), "column lengths differ"),
    (lambda h, b: b[0][1].__setitem__(3, "socket"), "unknown kind"),
    (lambda h, b: b[0][-1].append([2000, {"a": 1}]), "metadata rows out of order"),
    (lambda h, b: b[0][-1].__setitem__(0, [0, [1]]), "meta is not an object"),
    (lambda h, b: h.__setitem__("entries", 5000), "block count"),
    (lambda h, b: h.__setitem__("block_entries", 1000), "bad block table"),
])
def test_a_damaged_block_is_a_walk_error_when_read(blocked, damage, reason):
    data = _reblock(portable.encode(_awkward(2500)), damage)
    with pytest.raises(WalkError, match=reason):
        portable.decode(data)


def test_a_truncated_blocked_inventory_is_a_walk_error(blocked):
    data = portable.encode(_awkward(2500))
    for cut in (len(data) - 10, len(data) // 2, len(portable.MAGIC) + 5):
        with pytest.raises(WalkError):
            portable.decode(data[:cut])


def test_a_block_expanding_beyond_its_limit_is_refused(blocked, monkeypatch):
    data = portable.encode(_awkward(2500))
    monkeypatch.setattr(portable, "MAX_BLOCK", 1000)
    with pytest.raises(WalkError, match="excessive size"):
        portable.decode(data)


def test_a_block_without_its_size_in_the_frame_is_refused(blocked):
    header, frames = _header_and_frames(portable.encode(_awkward(1500)))
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_content_size=False).stream_writer(out, closefd=False) as w:
        w.write(frames[0])
    first = out.getvalue()
    header["blocks"][0] = len(first)
    cctx = zstandard.ZstdCompressor()
    rebuilt = (portable.MAGIC + cctx.compress(json.dumps(header).encode() + b"\n") + first
               + b"".join(cctx.compress(f) for f in frames[1:]))
    with pytest.raises(WalkError, match="unknown or excessive size"):
        portable.decode(rebuilt)

