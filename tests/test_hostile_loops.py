"""Structural loops and offsets pointing backwards: detected, reported, and the walk always ends."""

from __future__ import annotations

import hashlib

from inspector.model import NEST, EntryKind
from inspector.walker import walk


def _loop(built, name: str):
    return next(p for p in built("hostile-loops") if p.name == name)


def test_iso_directory_pointing_at_its_parent_is_reported_not_followed(built) -> None:
    inv = walk(_loop(built, "dir-loop.iso"))
    [p] = inv.problems
    assert p.path == "dir-loop.iso" and "loop" in p.reason and p.kind == "error"


def test_rock_ridge_symlink_cycles_are_listed_never_followed(built) -> None:
    inv = walk(_loop(built, "symlink-loops.iso"))
    links = {e.name: e.link_target for e in inv.entries if e.kind is EntryKind.SYMLINK}
    assert links == {"a": "b", "b": "a", "self": "self", "up": "..", "dot": "."}
    assert inv.complete and len(inv.entries) == 7


def test_tar_hard_links_to_themselves_and_each_other_are_listed(built) -> None:
    inv = walk(_loop(built, "link-loops.tar"))
    by = inv.by_path()
    assert by[f"link-loops.tar{NEST}self"].link_target == "self"
    assert by[f"link-loops.tar{NEST}s1"].kind is EntryKind.SYMLINK
    assert inv.complete


def test_vmtar_offsets_pointing_backwards_are_reported_and_the_rest_is_read(built) -> None:
    inv = walk(_loop(built, "backwards.vtar"))
    bad = {p.path.rsplit(NEST, 1)[1] for p in inv.problems}
    assert bad == {"two.bin", "three.bin"}
    by = inv.by_path()
    assert by[f"backwards.vtar{NEST}one.bin"].sha256 == hashlib.sha256(b"1" * 1500).hexdigest()
    assert by[f"backwards.vtar{NEST}four.bin"].sha256 == hashlib.sha256(b"4" * 100).hexdigest()


def test_ar_member_running_past_the_end_keeps_the_member_before_it(built) -> None:
    inv = walk(_loop(built, "bad-size.a"))
    assert inv.by_path()[f"bad-size.a{NEST}good.txt"].sha256 == hashlib.sha256(b"good member\n").hexdigest()
    assert any(p.path == f"bad-size.a{NEST}huge.bin" for p in inv.problems)
    assert not inv.complete


def test_fat_cluster_chain_loop_ends_with_a_problem(built) -> None:
    image = next(p for p in built("disk-bad") if p.name == "badchain.img")
    inv = walk(image)
    assert inv.problems and all("\n" not in p.line() for p in inv.problems)
