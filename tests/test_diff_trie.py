"""The path trie that pairing works on: inventory order kept through promotions, one pass over entries."""

from __future__ import annotations

from inspector.diff import DiffOptions, diff_inventories
from inspector.diff.trie import FILE, INTERIOR, PathTrie
from inspector.model import Entry, EntryKind, Inventory


def _inventory() -> Inventory:
    root = "img.iso"
    entries = [Entry(path=root, kind=EntryKind.FILE, size=10, depth=0, sha256="r", container="iso", opened=True)]
    for rel, kind, extra in (
        ("a", EntryKind.DIR, {}),
        ("a/one", EntryKind.FILE, {"sha256": "1"}),
        ("a/two", EntryKind.FILE, {"sha256": "2"}),
        ("b.tgz", EntryKind.FILE, {"sha256": "3", "container": "gzip", "opened": True}),
        ("b.tgz!/b.tar", EntryKind.FILE, {"sha256": "4"}),
        ("a/three", EntryKind.FILE, {"sha256": "5"}),
    ):
        entries.append(Entry(path=f"{root}!/{rel}", kind=kind, size=100, depth=rel.count("!/") + 1, **extra))
    return Inventory(source=root, entries=tuple(entries))


def _trie() -> PathTrie:
    return PathTrie(_inventory(), old_side=True)


def test_plain_files_stay_out_of_the_node_list_until_asked_for() -> None:
    trie = _trie()
    assert [x.path for x in trie.nodes] == ["", "a", "b.tgz"]


def test_a_file_asked_for_becomes_a_node_in_its_inventory_place() -> None:
    trie = _trie()
    three, one = trie.find("a/three"), trie.find("a/one")
    assert three is not None and one is not None and one.cls is FILE
    assert [x.path for x in trie.nodes] == ["", "a", "a/one", "b.tgz", "a/three"]


def test_children_stay_in_inventory_order_after_promotions() -> None:
    trie = _trie()
    trie.find("a/three")
    trie.find("a/two")
    a = trie.find("a")
    assert a is not None and a.cls is INTERIOR
    assert list(a.children) == ["two", "three"]
    assert a.member_count == 3


def test_a_skipped_member_locates_its_nearest_ancestor_with_an_entry() -> None:
    trie = _trie()
    assert trie.locate("b.tgz!/b.tar!/deep/x").path == "b.tgz!/b.tar"
    assert trie.locate("nowhere/else").path == ""


def test_the_unpacked_footprint_counts_leaf_files_only() -> None:
    assert _trie().unpacked == 4 * 100  # not the image, not the directory, not the opened .tgz


class _OnePass:
    """Entries that can be iterated once and indexed only at 0 (as entries read from disk may be)."""

    def __init__(self, inv: Inventory) -> None:
        self.inv, self.used = inv, False

    def __iter__(self):  # type: ignore[no-untyped-def]
        assert not self.used, "entries iterated twice"
        self.used = True
        return iter(self.inv.entries)

    def __getitem__(self, i: int) -> Entry:
        assert i == 0, "entries indexed beyond [0]"
        return self.inv.entries[0]

    def __len__(self) -> int:  # a Sequence's length is known without reading it
        return len(self.inv.entries)


def _one_pass(inv: Inventory) -> Inventory:
    return Inventory(source=inv.source, entries=_OnePass(inv))  # type: ignore[arg-type]


def test_the_trie_reads_the_entries_in_one_pass() -> None:
    trie = PathTrie(_one_pass(_inventory()), old_side=False)
    assert trie.find("a/two") is not None


def test_a_diff_reads_each_inventory_in_one_pass_with_the_same_result() -> None:
    old = _inventory()
    new = Inventory(source="img.iso", entries=(*old.entries[:2], *old.entries[3:]))  # a/one removed
    expected = diff_inventories(old, new, DiffOptions(delta=False))
    got = diff_inventories(_one_pass(old), _one_pass(new), DiffOptions(delta=False))
    assert got.totals == expected.totals and got.totals.files_removed == 1
    assert [(c.status, c.path) for c in got.changes] == [(c.status, c.path) for c in expected.changes]
