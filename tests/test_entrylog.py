"""EntryLog: entries past a threshold live in a record file, and read back exactly, in slot order."""

from __future__ import annotations

import datetime
from types import MappingProxyType

from inspector import entrylog
from inspector.entrylog import EntryLog
from inspector.model import Entry, EntryKind
from inspector.walker import walk


def _entry(i: int, **kw: object) -> Entry:
    return Entry(path=f"img!/f{i}", kind=EntryKind.FILE, size=i, depth=1, sha256=f"{i:064x}", **kw)  # type: ignore[arg-type]


def _walk_order(log: EntryLog, n: int) -> list[Entry]:
    """Reserve and fill like the walker does: a container's slot is filled after its members'."""
    expected: list[Entry] = []
    container = log.reserve()
    expected.append(Entry(path="img", kind=EntryKind.FILE, size=n, depth=0, container="tar", opened=True))
    for i in range(n):
        slot = log.reserve()
        e = _entry(i)
        log.fill(slot, e)
        expected.append(e)
    log.fill(container, expected[0])
    return expected


def test_a_small_log_freezes_to_a_plain_tuple():
    log = EntryLog()
    expected = _walk_order(log, 10)
    frozen = log.freeze()
    assert isinstance(frozen, tuple)
    assert frozen == tuple(expected)


def test_spilled_entries_read_back_equal_and_in_slot_order():
    log = EntryLog(spill_after=3)
    expected = _walk_order(log, 5000)
    frozen = log.freeze()
    assert not isinstance(frozen, tuple | list)
    assert len(frozen) == 5001
    assert list(frozen) == expected


def test_entries_filled_late_and_out_of_order_come_back_in_slot_order():
    log = EntryLog(spill_after=0)
    slots = [log.reserve() for _ in range(3000)]
    entries = [_entry(i) for i in slots]
    for s in reversed(slots):
        log.fill(s, entries[s])
    assert list(log.freeze()) == entries


def test_a_slot_never_filled_is_skipped():
    log = EntryLog(spill_after=1)
    a, b, c, d = (log.reserve() for _ in range(4))
    for s in (a, c, d):
        log.fill(s, _entry(s))
    assert [e.path for e in log.freeze()] == ["img!/f0", "img!/f2", "img!/f3"]


def test_indexing_and_slices_read_single_entries_without_building_a_list():
    log = EntryLog(spill_after=2)
    expected = _walk_order(log, 100)
    frozen = log.freeze()
    assert frozen[0] == expected[0] and frozen[50] == expected[50] and frozen[-1] == expected[-1]
    rest = frozen[1:]
    assert not isinstance(rest, tuple | list)
    assert len(rest) == 100 and rest[0] == expected[1]
    assert list(rest) == expected[1:]
    assert rest == tuple(expected[1:]) and tuple(expected[1:]) == rest
    assert list(frozen[10:20:3]) == expected[10:20:3]


def test_metadata_marshal_cannot_encode_is_kept_exactly():
    log = EntryLog(spill_after=0)
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    odd = _entry(1, meta=MappingProxyType({"when": when, "label": "x"}))
    unpicklable = _entry(2, meta=MappingProxyType({"fn": lambda: None}))
    plain = _entry(3, meta=MappingProxyType({"n": [1, 2], "s": "é"}))
    for e in (odd, unpicklable, plain):
        log.fill(log.reserve(), e)
    back = list(log.freeze())
    assert back == [odd, unpicklable, plain]
    assert back[0].meta["when"] == when and isinstance(back[0].meta, MappingProxyType)


def test_a_walk_past_the_threshold_gives_the_same_inventory(built, monkeypatch):
    image = built("corpus-small")[2]
    expected = walk(image)
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 2)
    spilled = walk(image)
    assert not isinstance(spilled.entries, tuple)
    assert spilled == expected


def test_with_first_replaces_only_the_first_entry():
    log = EntryLog(spill_after=0)
    expected = _walk_order(log, 20)
    root = _entry(99)
    view = entrylog.with_first(root, log.freeze())
    assert len(view) == 21 and view[0] == root and view[5] == expected[5]
    assert list(view) == [root, *expected[1:]]
    assert list(view[1:]) == expected[1:]
    assert entrylog.with_first(root, tuple(expected)) == (root, *expected[1:])


def test_entries_heavy_with_metadata_lists_spill_sooner_and_read_back_equal():
    # An executable's section table weighs what it holds: 10 entries of 50 sections fill a budget of 100.
    log = EntryLog(spill_after=100)
    sections = [{"name": f".s{k}", "class": "code", "size": k} for k in range(50)]
    expected = []
    for i in range(10):
        e = _entry(i, meta=MappingProxyType({"binary": {"code_bytes": 1, "sections": sections}}))
        log.fill(log.reserve(), e)
        expected.append(e)
    assert len(log._heap) < 10  # the later ones went to the record file
    assert list(log.freeze()) == expected


def test_entries_without_metadata_weigh_one_each():
    log = EntryLog(spill_after=100)
    for i in range(100):
        log.fill(log.reserve(), _entry(i))
    assert len(log._heap) == 100


def _row(e: Entry) -> tuple[object, ...]:
    return (e.path, e.kind.value, e.size, e.depth, e.stored_size, e.sha256, e.detected, e.mode, e.mtime,
            e.link_target, e.container, e.opened, dict(e.meta) or None)


def test_rows_past_the_threshold_read_back_as_equal_entries_by_iteration_index_and_slice(monkeypatch):
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 100)
    expected = [_entry(i, meta={"label": f"m{i}"} if i % 7 == 0 else {}) for i in range(3000)]
    rows = [_row(e) for e in expected]
    frozen = entrylog.from_rows(rows[i:i + 333] for i in range(0, len(rows), 333))
    assert not isinstance(frozen, tuple)
    assert list(frozen) == expected
    assert [frozen[i] for i in (0, 99, 100, 611, 2999, -1)] == [expected[i] for i in (0, 99, 100, 611, 2999, -1)]
    assert list(frozen[1:]) == expected[1:]
    assert list(frozen[1500:1600]) == expected[1500:1600]


def test_few_rows_become_a_plain_tuple():
    expected = [_entry(i) for i in range(10)]
    assert entrylog.from_rows([[_row(e) for e in expected]]) == tuple(expected)


def test_rows_whose_metadata_marshal_cannot_encode_read_back_exactly(monkeypatch):
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 0)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    expected = [_entry(i, meta={"when": when}) for i in range(5)]
    assert list(entrylog.from_rows([[_row(e) for e in expected]])) == expected


def _as_rows(entries) -> list[tuple[object, ...]]:
    """``entrylog.rows`` with each row's metadata as a plain dict (heap rows keep the entry's mapping)."""
    return [(*r[:12], dict(r[12]) if r[12] else None) for r in entrylog.rows(entries)]


def test_rows_of_every_kind_of_sequence_are_the_entries_in_order_and_build_them_back():
    log = EntryLog(spill_after=3)  # a walk's entries: heap, spilled records, late-filled records
    walked = _walk_order(log, 2000)
    frozen_walk = log.freeze()
    stored = entrylog.from_rows([[_row(e) for e in walked[i:i + 300]] for i in range(0, len(walked), 300)])
    for entries in (tuple(walked), frozen_walk, stored):
        assert _as_rows(entries) == [_row(e) for e in walked]
        assert [entrylog.entry_of(r) for r in entrylog.rows(entries)] == walked


def test_rows_keep_metadata_marshal_cannot_encode_and_entries_that_were_kept_whole():
    log = EntryLog(spill_after=0)
    when = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    odd = _entry(1, meta=MappingProxyType({"when": when}))
    unpicklable = _entry(2, meta=MappingProxyType({"fn": print}))
    for e in (odd, unpicklable, _entry(3)):
        log.fill(log.reserve(), e)
    frozen = log.freeze()
    rows = list(entrylog.rows(frozen))
    assert rows[0][12] == {"when": when} and rows[1][12]["fn"] is print and not rows[2][12]
    assert [entrylog.entry_of(r) for r in rows] == list(frozen)


def test_adding_a_row_is_reserving_a_slot_and_filling_it_with_the_entry_on_either_side_of_the_threshold():
    added, filled = EntryLog(spill_after=50), EntryLog(spill_after=50)
    expected: list[Entry] = []
    for log in (added, filled):
        outer = log.reserve()
        for i in range(120):
            e = (_entry(i, meta=MappingProxyType({"when": datetime.date(2020, 1, 1)})) if i % 7 == 0
                 else _entry(i, meta=MappingProxyType({"fn": print})) if i % 11 == 0 else _entry(i))
            if log is added:
                assert log.add_row(entrylog.row_of(e)) == i + 1
                expected.append(e)
            else:
                log.fill(log.reserve(), e)
        log.fill(outer, _entry(-1))
    assert list(added.freeze()) == list(filled.freeze()) == [_entry(-1), *expected]


def test_an_added_row_whose_metadata_cannot_be_recorded_is_kept_whole():
    log = EntryLog(spill_after=0)
    odd = _entry(1, meta=MappingProxyType({"fn": print, "when": datetime.date(2020, 1, 1)}))
    unpicklable = _entry(2, meta=MappingProxyType({"fn": lambda: None}))
    for e in (_entry(0), odd, unpicklable):
        log.add_row(entrylog.row_of(e))
    assert list(log.freeze()) == [_entry(0), odd, unpicklable]


def test_a_row_made_from_values_is_the_row_of_the_entry_they_make():
    meta = {"label": "x", "n": [1, 2]}
    e = Entry("img!/a", EntryKind.FILE, 5, 1, 4, "ab" * 32, "text", 0o644, 1.5, None, None, False,
              MappingProxyType(meta))
    made = entrylog.make_row("img!/a", EntryKind.FILE, 5, 1, 4, "ab" * 32, "text", 0o644, 1.5, None, None, False,
                             dict(meta))
    assert made == entrylog.row_of(e)[:-1] + (meta,)
    assert entrylog.entry_of(made) == e
    assert entrylog.make_row("img!/b", EntryKind.DIR, 0, 1, None, None, None, None, None, None, None, False, {})[-1] \
        is None


def test_rows_added_between_containers_reserved_and_filled_late_read_back_in_slot_order():
    odd = MappingProxyType({"when": datetime.date(2020, 1, 1)})
    script = ["reserve", *["row"] * 3000, "reserve", *["row"] * 10, "fill", "row", "odd", *["row"] * 5000, "fill"]
    added, filled = EntryLog(spill_after=0), EntryLog(spill_after=0)
    for log in (added, filled):
        open_slots: list[int] = []
        expected: dict[int, Entry] = {}
        for step, what in enumerate(script):
            if what == "reserve":
                open_slots.append(log.reserve())
            elif what == "fill":
                slot = open_slots.pop()
                expected[slot] = _entry(slot, container="tar", opened=True)
                log.fill(slot, expected[slot])
            else:
                e = _entry(step, meta=odd) if what == "odd" else _entry(step)
                slot = log.add_row(entrylog.row_of(e)) if log is added else log.reserve()
                if log is filled:
                    log.fill(slot, e)
                expected[slot] = e
        assert list(log.freeze()) == [expected[s] for s in sorted(expected)]
