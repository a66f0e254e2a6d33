"""Unchanged files set aside before pairing (twins) give exactly the diff that pairing everything gives.

Each case is diffed twice: with every entry paired through the tries (``TWINS_FROM`` out of reach) and
with the twins set aside (``TWINS_FROM`` 0), and every rendering of the result must be byte-identical:
the JSON document listing every change and the default one, CSV, text, Markdown and HTML.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector import entrylog, native
from inspector.diff import DiffOptions, DiffResult, diff_inventories
from inspector.diff import pairing as pairing_module
from inspector.diff import twins as twins_module
from inspector.diff.model import ChangeList, ChangeStatus, same_file
from inspector.diff.pairing import pair_inventories
from inspector.model import Entry, EntryKind, Inventory, Problem, ProblemKind
from inspector.report.diff_html import render_diff_html
from inspector.report.diff_text import Filters, render_text, to_csv, to_json_dict
from inspector.walker import walk
from tests.test_diff_scale import _pair as scale_pair

Built = Callable[[str], list[Path]]
EVERY = Filters(only=frozenset(ChangeStatus))


def _documents(r: DiffResult) -> dict[str, str]:
    listed, default = EVERY.select(r.changes), Filters().select(r.changes)
    return {
        "json": json.dumps(to_json_dict(r, listed, EVERY), indent=1, default=str),
        "json-default": json.dumps(to_json_dict(r, default, Filters()), indent=1, default=str),
        "csv": to_csv(listed),
        "text": render_text(r, default, 20, False),
        "markdown": render_text(r, default, 20, True),
        "html": render_diff_html(r),
    }


def _both(old: Inventory, new: Inventory, monkeypatch: pytest.MonkeyPatch) -> tuple[DiffResult, DiffResult]:
    """(everything paired through the tries, twins set aside where they can be)."""
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 10**12)
    full = diff_inventories(old, new, DiffOptions(delta=False))
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 0)
    fast = diff_inventories(old, new, DiffOptions(delta=False))
    return full, fast


def _twins(old: Inventory, new: Inventory, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many twins were set aside (0 when the pairing fell back to pairing everything)."""
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 0)
    twins = pair_inventories(old, new).twins
    return len(twins) if twins is not None else 0


def _assert_same(old: Inventory, new: Inventory, monkeypatch: pytest.MonkeyPatch) -> DiffResult:
    full, fast = _both(old, new, monkeypatch)
    assert _documents(fast) == _documents(full)
    assert fast.totals == full.totals and fast.components == full.components
    assert fast.identical == full.identical and fast.complete == full.complete
    assert list(fast.changes) == list(full.changes)
    return fast


# -- inventories built by hand ---------------------------------------------------------------------------

def _side(version: str, rows: list[tuple[str, dict[str, object]]], problems: tuple[Problem, ...] = ()
          ) -> Inventory:
    root = f"rel-{version}.iso"
    entries = [Entry(path=root, kind=EntryKind.FILE, size=1, depth=0, sha256=f"iso{version}", container="iso",
                     opened=True)]
    for rel, kw in rows:
        fields: dict[str, object] = {"kind": EntryKind.FILE, "size": 10, "depth": rel.count("!/") + 1, **kw}
        if fields["kind"] is EntryKind.FILE and "sha256" not in fields and not fields.get("container"):
            fields["sha256"] = f"sha-{rel}"
        entries.append(Entry(path=f"{root}!/{rel}", **fields))  # type: ignore[arg-type]
    return Inventory(source=root, entries=tuple(entries), problems=problems)


def _dir(rel: str) -> tuple[str, dict[str, object]]:
    return rel, {"kind": EntryKind.DIR, "size": 0, "mode": 0o755}


def _file(rel: str, **kw: object) -> tuple[str, dict[str, object]]:
    return rel, {"mode": 0o644, "mtime": 1000.0, **kw}


def _package(name: str, files: int, **per_file: object) -> list[tuple[str, dict[str, object]]]:
    rows = [(f"pool/{name}.tgz", {"sha256": f"tgz-{name}", "container": "gzip", "opened": True}),
            (f"pool/{name}.tgz!/{name}.tar", {"sha256": f"tar-{name}", "container": "tar", "opened": True}),
            _dir(f"pool/{name}.tgz!/{name}.tar!/{name}"), _dir(f"pool/{name}.tgz!/{name}.tar!/{name}/bin")]
    rows += [_file(f"pool/{name}.tgz!/{name}.tar!/{name}/bin/f{j}", sha256=f"same-{j}", **per_file)
             for j in range(files)]
    return rows


def _common() -> list[tuple[str, dict[str, object]]]:
    return [_dir("pool"), _dir("docs"), *[_file(f"docs/d{j}.txt") for j in range(30)], *_package("lib", 20)]


def test_a_plain_pair_sets_aside_its_unchanged_files_and_gives_the_same_diff(monkeypatch):
    old = _side("1.0", [*_common(), _file("docs/old.txt")])
    new = _side("1.1", [*_common(), _file("docs/new.txt", sha256="fresh")])
    assert _twins(old, new, monkeypatch) == 50
    fast = _assert_same(old, new, monkeypatch)
    assert isinstance(fast.changes, ChangeList) and len(fast.changes.listed) < len(fast.changes)


def test_version_renamed_packages_moves_and_mode_only_changes_give_the_same_diff(monkeypatch):
    old_rows = [*_common(), *_package("app-1.0", 12), _dir("etc"), _file("etc/a.conf"), _file("etc/b.conf"),
                _file("docs/moving.txt", sha256="moves", size=99)]
    new_rows = [*_common(), *_package("app-1.1", 12), _dir("etc"), _file("etc/a.conf", mode=0o600),
                _file("etc/b.conf", mtime=1000.5), _dir("share"), _file("share/moving.txt", sha256="moves", size=99)]
    old, new = _side("1.0", old_rows), _side("1.1", new_rows)
    assert _twins(old, new, monkeypatch) == 50
    fast = _assert_same(old, new, monkeypatch)
    statuses = {c.path.rsplit("/", 1)[-1]: c.status for c in fast.changes}
    assert statuses["a.conf"] is ChangeStatus.METADATA and statuses["b.conf"] is ChangeStatus.UNCHANGED
    assert statuses["moving.txt"] is ChangeStatus.RENAMED
    assert len(fast.renamed_containers) == 3  # the image, the .tgz and its .tar


def test_the_same_content_at_several_paths_gives_the_same_diff(monkeypatch):
    copies = [_file(f"docs/copy{j}.bin", sha256="one-content", size=500) for j in range(5)]
    old = _side("1.0", [*_common(), *copies])
    new = _side("1.1", [*_common(), *copies[:3], _dir("more"), _file("more/copy9.bin", sha256="one-content",
                                                                      size=500)])
    assert _twins(old, new, monkeypatch) == 53
    _assert_same(old, new, monkeypatch)


def test_unopened_containers_and_files_without_a_parent_entry_give_the_same_diff(monkeypatch):
    rows = [*_common(), _file("docs/inner.tgz", container="gzip", opened=False, sha256="blob"),
            _file("implied/dir/x.txt"), _file("top.txt"), _file("docs/link", kind=EntryKind.SYMLINK,
                                                                link_target="d0.txt")]
    old, new = _side("1.0", rows), _side("1.1", rows)
    assert _twins(old, new, monkeypatch) == 52  # the unopened .tgz and x.txt (below implied directories) too
    fast = _assert_same(old, new, monkeypatch)
    assert fast.identical


def test_problems_and_incomplete_entries_give_the_same_diff(monkeypatch):
    rows = [*_common(), _dir("broken"), *[_file(f"broken/b{j}") for j in range(4)],
            _file("docs/partial.bin", sha256=None), _file("docs/half.tgz", container="tar", opened=True,
                                                            meta={"incomplete": True})]
    problems = (Problem("rel-1.1.iso!/broken/b2/inner", "cut short", ProblemKind.ERROR),
                Problem("rel-1.1.iso!/docs/d3.txt", "cannot read", ProblemKind.ERROR),
                Problem("rel-1.1.iso!/docs/d4.txt", "odd", ProblemKind.WARNING))
    old, new = _side("1.0", rows), _side("1.1", rows, problems)
    assert _twins(old, new, monkeypatch) == 52  # of 54 files: not those a problem points at (b2, d3)
    fast = _assert_same(old, new, monkeypatch)
    assert not fast.complete and fast.not_compared


def test_a_path_twice_on_one_side_pairs_everything_the_usual_way(monkeypatch):
    old = _side("1.0", [*_common(), _file("docs/d5.txt", sha256="again")])
    new = _side("1.1", _common())
    assert _twins(old, new, monkeypatch) == 0
    _assert_same(old, new, monkeypatch)


def test_a_path_twice_on_both_sides_pairs_everything_the_usual_way(monkeypatch):
    # far enough apart that the first twin is found before either side reads the second
    twice = [_file("docs/twice.txt"), *_package("pad", 2 * twins_module._BATCH), _file("docs/twice.txt")]
    old, new = _side("1.0", [*_common(), *twice]), _side("1.1", [*_common(), *twice])
    with pytest.raises(twins_module.TwinsInDoubt, match="two twins with one path"):
        twins_module.set_aside(old, new)
    assert _twins(old, new, monkeypatch) == 0
    _assert_same(old, new, monkeypatch)


def test_a_wrapper_whose_one_member_is_unchanged_pairs_the_same(monkeypatch):
    def rows(version: str) -> list[tuple[str, dict[str, object]]]:
        return [*_common(), (f"notes-{version}.gz", {"sha256": f"gz{version}", "container": "gzip", "opened": True}),
                _file(f"notes-{version}.gz!/notes"), ("same.gz", {"sha256": "gz", "container": "gzip", "opened": True}),
                _file("same.gz!/payload")]
    old, new = _side("1.0", rows("1.0")), _side("1.1", rows("1.1"))
    _assert_same(old, new, monkeypatch)


def test_the_synthetic_release_pair_of_the_scale_test_gives_the_same_diff(monkeypatch):
    old, new, _ = scale_pair()
    assert _twins(old, new, monkeypatch) == 200  # the docs: every package is version-renamed
    _assert_same(old, new, monkeypatch)


# -- inventories of fixture images -----------------------------------------------------------------------

@pytest.mark.parametrize("pair", ["diff-tgz-pair", "diff-zip-pair", "diff-identical", "diff-broken"])
def test_fixture_pairs_give_the_same_diff(built: Built, pair: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = (walk(p) for p in built(pair)[:2])
    _assert_same(old, new, monkeypatch)


def test_unchanged_files_are_only_read_back_when_listed(monkeypatch):
    old = _side("1.0", [*_common(), _file("docs/old.txt")])
    new = _side("1.1", _common())
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 0)
    r = diff_inventories(old, new, DiffOptions(delta=False))
    assert isinstance(r.changes, ChangeList)
    assert [c.status for c in Filters().select(r.changes)] == [ChangeStatus.REMOVED]
    assert r.changes._all is None  # the default listing did not build the unchanged ones
    assert len(EVERY.select(r.changes)) == len(r.changes) == 51


def test_a_directory_listed_after_its_files_gives_the_same_diff(monkeypatch):
    late = [_file("late/a.txt"), _file("late/b.txt"), _dir("late")]
    old = _side("1.0", [*_common(), *late])
    new = _side("1.1", [*_common(), _dir("late"), *late[:2], _file("late/c.txt")])
    _assert_same(old, new, monkeypatch)


def _random_side(rng: random.Random, version: str, base: list[tuple[str, dict[str, object]]]
                 ) -> list[tuple[str, dict[str, object]]]:
    """``base`` with some entries changed, moved, dropped, duplicated or added, in a shuffled order."""
    rows: list[tuple[str, dict[str, object]]] = []
    for rel, kw in base:
        r = rng.random()
        if r < 0.05:
            continue
        kw = dict(kw)
        if r < 0.10:
            kw["sha256"] = f"changed-{rel}"
        elif r < 0.13:
            kw["mode"] = 0o600
        elif r < 0.15:
            kw["mtime"] = 1000.25
        elif r < 0.18 and kw.get("kind", EntryKind.FILE) is EntryKind.FILE and not kw.get("container"):
            rel = rel.replace("d1/", "d2/", 1) if "d1/" in rel else f"moved/{rel.rsplit('/', 1)[-1]}"
        elif r < 0.19:
            rows.append((rel, dict(kw)))  # a duplicate
        rows.append((rel, kw))
    rows += [_file(f"d{rng.randrange(3)}/new{version}-{j}") for j in range(rng.randrange(3))]
    for _ in range(rng.randrange(4)):  # a few entries out of walk order
        i, j = rng.randrange(len(rows)), rng.randrange(len(rows))
        rows[i], rows[j] = rows[j], rows[i]
    return rows


def _random_base(rng: random.Random) -> list[tuple[str, dict[str, object]]]:
    rows: list[tuple[str, dict[str, object]]] = []
    for d in range(3):
        if rng.random() < 0.6:
            rows.append(_dir(f"d{d}"))
        rows += [_file(f"d{d}/f{j}", sha256=f"c{rng.randrange(8)}", size=rng.randrange(3) * 100)
                 for j in range(rng.randrange(2, 8))]
    rows += [_file("top"), _file("d0/ln", kind=EntryKind.SYMLINK, link_target="f0", sha256=None),
             ("pk.tgz", {"sha256": "tgz", "container": "gzip", "opened": True}),
             ("pk.tgz!/pk.tar", {"sha256": "tar", "container": "tar", "opened": True}),
             *[_file(f"pk.tgz!/pk.tar!/p/x{j}") for j in range(rng.randrange(1, 4))]]
    if rng.random() < 0.3:
        rows.append(_file("d1/half", sha256=None))
    return rows


def _random_pair(seed: int) -> tuple[Inventory, Inventory]:
    """Two releases of one random base (``_random_side``), the new one with a problem at or below an entry
    three times in ten."""
    rng = random.Random(seed)
    base = _random_base(rng)
    old_rows, new_rows = _random_side(rng, "1.0", base), _random_side(rng, "1.1", base)
    problems: tuple[Problem, ...] = ()
    if rng.random() < 0.3:
        rel = rng.choice(new_rows)[0]
        problems = (Problem(f"rel-1.1.iso!/{rel}{rng.choice(['', '/inner'])}", "bad", ProblemKind.ERROR),)
    return _side("1.0", old_rows), _side("1.1", new_rows, problems)


@pytest.mark.parametrize("seed", range(60))
def test_random_release_pairs_give_the_same_diff(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(*_random_pair(seed), monkeypatch)


def test_same_file_compares_exactly_the_digest_mode_mtime_and_link_target_of_two_rows():
    base = Entry("img!/a/f", EntryKind.FILE, 10, 1, sha256="1" * 64, mode=0o644, mtime=5.0, link_target=None,
                 stored_size=3, detected="text", container=None, opened=False)
    row = next(entrylog.rows((base,)))
    assert same_file(row, row)
    for field, value in (("sha256", "2" * 64), ("mode", 0o755), ("mtime", 6.0), ("link_target", "x")):
        other = next(entrylog.rows((dataclasses.replace(base, **{field: value}),)))
        assert not same_file(row, other) and not same_file(other, row), field
    for field, value in (("size", 11), ("stored_size", 4), ("detected", "data"), ("depth", 2)):
        other = next(entrylog.rows((dataclasses.replace(base, **{field: value}),)))
        assert same_file(row, other), field


def test_inventories_kept_on_disk_give_the_same_diff_as_on_the_heap(monkeypatch):
    old, new = scale_pair()[:2]
    monkeypatch.setattr(pairing_module, "TWINS_FROM", 0)
    monkeypatch.setattr(entrylog, "SPILL_AFTER", 50)

    def walked(inv: Inventory) -> Inventory:  # as a walk keeps them: one record per entry past the heap
        log = entrylog.EntryLog()
        for e in inv.entries:
            log.fill(log.reserve(), e)
        return dataclasses.replace(inv, entries=log.freeze())

    def stored(inv: Inventory) -> Inventory:  # as a stored inventory is read: records of rows
        rows = [(*r[:12], dict(r[12]) if r[12] else None) for r in entrylog.rows(inv.entries)]
        return dataclasses.replace(inv, entries=entrylog.from_rows([rows]))

    expected = _documents(diff_inventories(old, new, DiffOptions(delta=False)))
    for keep in (walked, stored):
        a, b = keep(old), keep(new)
        assert not isinstance(a.entries, tuple)
        assert _twins(a, b, monkeypatch) > 0
        assert _documents(diff_inventories(a, b, DiffOptions(delta=False))) == expected, keep.__name__


# -- the compiled take ---------------------------------------------------------------------------------------

try:
    from inspector import _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None  # type: ignore[assignment]

needs_native = pytest.mark.skipif(_native is None, reason="inspector._native was not built: the Python take runs")


def _set_aside(old: Inventory, new: Inventory) -> object:
    try:
        return twins_module.set_aside(old, new)
    except twins_module.TwinsInDoubt as exc:
        return ("in doubt", str(exc))


def _set_aside_both_ways(old: Inventory, new: Inventory, monkeypatch: pytest.MonkeyPatch) -> object:
    """``set_aside`` with the Python take and with the compiled one: the same twins, rest and groups."""
    monkeypatch.setattr(native, "twins_take", None)
    reference = _set_aside(old, new)
    monkeypatch.setattr(native, "twins_take", _native.twins_take)
    fast = _set_aside(old, new)
    assert fast == reference
    return fast


@needs_native
@pytest.mark.parametrize("seed", range(60))
def test_the_compiled_take_sets_aside_what_the_python_take_does(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    _set_aside_both_ways(*_random_pair(seed), monkeypatch)


@needs_native
def test_the_compiled_take_doubts_where_the_python_take_doubts(monkeypatch: pytest.MonkeyPatch) -> None:
    once = _side("1.1", _common())
    twice_here = _side("1.0", [*_common(), _file("docs/d5.txt", sha256="again")])
    assert _set_aside_both_ways(twice_here, once, monkeypatch) == ("in doubt", "docs/d5.txt twice on one side")
    twice = [_file("docs/twice.txt"), *_package("pad", 2 * twins_module._BATCH), _file("docs/twice.txt")]
    both = _set_aside_both_ways(_side("1.0", [*_common(), *twice]), _side("1.1", [*_common(), *twice]), monkeypatch)
    assert both == ("in doubt", "two twins with one path")


@needs_native
def test_the_compiled_take_sets_aside_the_scale_pair_and_stored_rows_as_the_python_take(monkeypatch) -> None:
    old, new = scale_pair()[:2]
    twins = _set_aside_both_ways(old, new, monkeypatch)
    assert isinstance(twins, twins_module.Twins) and len(twins) == 200
    stored = [dataclasses.replace(inv, entries=entrylog.from_rows([[(*r[:12], dict(r[12]) if r[12] else None)
                                                                    for r in entrylog.rows(inv.entries)]]))
              for inv in (old, new)]
    assert _set_aside_both_ways(*stored, monkeypatch) == twins


@needs_native
def test_the_compiled_take_weighs_sizes_beyond_64_bits_as_python_does(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = [*_common(), _file("docs/huge.bin", size=2**64 + 5, sha256="big")]
    twins = _set_aside_both_ways(_side("1.0", huge), _side("1.1", huge), monkeypatch)
    assert isinstance(twins, twins_module.Twins)
    assert any(g.old_bytes > 2**64 for g in twins.groups)


@needs_native
def test_set_aside_uses_the_compiled_take_when_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(*args: object) -> int:
        calls.append(1)
        return _native.twins_take(*args)

    monkeypatch.setattr(native, "twins_take", counting)
    twins_module.set_aside(_side("1.0", _common()), _side("1.1", _common()))
    assert calls
