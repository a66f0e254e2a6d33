"""Diff on the small release pairs of ``fixtures/diffpairs.py``: exact change sets and byte counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.diffpairs import LIB_NEW, LIB_OLD, PAIRS, TOOL_SIZE
from inspector.diff import ChangeStatus, DiffOptions, diff_images
from inspector.diff.engine import diff_inventories
from inspector.diff.model import DiffResult, relative
from inspector.walker import walk

Built = Callable[[str], list[Path]]


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", str(tmp_path / "store.sqlite"))


def _inner(path: str) -> str:
    """Path below the versioned top directory of the tgz pair (``app-1.1.tar!/app-1.1/x`` -> ``x``)."""
    return relative(path).split("!/", 1)[-1].split("/", 1)[-1]


def _by_status(r: DiffResult, key: Callable[[str], str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in r.changes:
        out.setdefault(c.status.value, set()).add(key(c.path))
    return out


@pytest.fixture(scope="module")
def tgz_result(built: Built) -> DiffResult:
    old, new = built("diff-tgz-pair")
    return diff_images(old, new)


def test_tgz_pair_change_sets_match_ground_truth(tgz_result: DiffResult) -> None:
    truth = PAIRS["diff-tgz-pair"]
    got = _by_status(tgz_result, _inner)
    assert got["modified"] == set(truth["modified"])
    assert got["renamed_modified"] == set(truth["renamed_modified"])
    assert got["renamed"] == set(truth["renamed"])
    assert got["metadata"] == set(truth["metadata"]) | set(truth["link"])
    assert got["removed"] == set(truth["removed"])
    assert got["added"] == set(truth["added"])
    assert got["unchanged"] == set(truth["unchanged"])


def test_tgz_pair_byte_counts_match_ground_truth(tgz_result: DiffResult) -> None:
    t = tgz_result.totals
    assert t.bytes_added == 7_000
    assert t.bytes_removed == 5_000
    assert t.bytes_modified_old == TOOL_SIZE + LIB_OLD
    assert t.bytes_modified_new == TOOL_SIZE + LIB_NEW
    assert t.replaced_bytes == 7_000 + TOOL_SIZE + LIB_NEW
    assert t.growth_bytes == 7_000 - 5_000 + (LIB_NEW - LIB_OLD)
    assert t.churn_ratio == pytest.approx(t.replaced_bytes / t.old_unpacked)


def test_version_renamed_directory_pairs_files_as_unchanged(tgz_result: DiffResult) -> None:
    readme = next(c for c in tgz_result.changes if c.path.endswith("share/doc/README"))
    assert readme.status is ChangeStatus.UNCHANGED
    assert "app-1.0/" in readme.old.path and "app-1.1/" in readme.new.path


def test_mode_only_change_is_metadata(tgz_result: DiffResult) -> None:
    conf = next(c for c in tgz_result.changes if c.path.endswith("etc/app.conf"))
    assert conf.status is ChangeStatus.METADATA and conf.changed_meta == ("mode",)


def test_symlink_retarget_is_metadata(tgz_result: DiffResult) -> None:
    link = next(c for c in tgz_result.changes if c.path.endswith("bin/current"))
    assert link.status is ChangeStatus.METADATA and link.changed_meta == ("link_target",)
    assert (link.old.link_target, link.new.link_target) == PAIRS["diff-tgz-pair"]["link"]["bin/current"]


def test_patched_file_delta_is_close_to_the_patch_size(tgz_result: DiffResult) -> None:
    tool = next(c for c in tgz_result.changes if c.path.endswith("bin/tool"))
    assert tool.delta_bytes is not None and 300 <= tool.delta_bytes < 600  # 300 random bytes overwritten


def test_zip_pair_renamed_container_members_pair_by_inner_path(built: Built) -> None:
    old, new = built("diff-zip-pair")
    r = diff_images(old, new)
    got = _by_status(r, relative)
    truth = PAIRS["diff-zip-pair"]
    assert got["modified"] == set(truth["modified"])
    assert got["renamed"] == set(truth["renamed"])
    assert got["unchanged"] == set(truth["unchanged"])
    assert "added" not in got and "removed" not in got
    assert ("bundle-2.0.zip!/pkg-2.0.tgz", "bundle-2.1.zip!/pkg-2.1.tgz") in r.renamed_containers
    x = next(c for c in r.changes if c.status is ChangeStatus.MODIFIED)
    assert x.delta_bytes is not None and x.delta_bytes < 200  # 64 bytes overwritten


def test_move_is_renamed_with_old_and_new_paths(built: Built) -> None:
    old, new = built("diff-zip-pair")
    r = diff_images(old, new, DiffOptions(delta=False))
    moved = next(c for c in r.changes if c.status is ChangeStatus.RENAMED)
    assert (relative(moved.old.path), relative(moved.new.path)) == ("docs/guide.txt", "doc/guide.txt")


def test_identical_inputs_give_an_empty_diff(built: Built) -> None:
    a, b = built("diff-identical")
    r = diff_images(a, b)
    assert r.identical
    assert all(c.status is ChangeStatus.UNCHANGED for c in r.changes)
    assert r.totals.replaced_bytes == 0 and r.totals.files_changed == 0


def test_unreadable_subtree_is_not_compared_instead_of_removed(built: Built) -> None:
    old, new = built("diff-broken")
    r = diff_images(old, new)
    assert not r.complete
    assert r.not_compared == ("new: bundle-2.1.zip!/pkg-2.1.tgz!/pkg-2.1.tar",)
    assert not any(c.status in (ChangeStatus.REMOVED, ChangeStatus.ADDED) for c in r.changes)
    assert all(p.side in ("old", "new") for p in r.problems)


def test_problems_carry_their_side_as_a_field_and_keep_their_logical_path(built: Built) -> None:
    old, new = built("diff-broken")
    r = diff_images(old, new)
    assert r.problems and all(p.side == "new" for p in r.problems)
    assert all(p.path.startswith(new.name) for p in r.problems)
    assert all(p.line().startswith(f"new: {new.name}") for p in r.problems)


def test_diff_inventories_without_content_uses_replaced_size_as_upper_bound(built: Built) -> None:
    old, new = built("diff-tgz-pair")
    r = diff_inventories(walk(old), walk(new))
    assert r.totals.delta_skipped == r.totals.files_modified == 2
    assert r.totals.delta_bytes == r.totals.replaced_bytes


def test_saved_inventory_is_diffed_without_reading_the_image(built: Built, tmp_path: Path) -> None:
    import json

    from inspector.serialize import inventory_to_dict

    old, new = built("diff-tgz-pair")
    saved = tmp_path / "old.json"
    saved.write_text(json.dumps(inventory_to_dict(walk(old)), indent=1))
    r = diff_images(saved, new)
    assert r.totals.files_modified == 2
    mod = [c for c in r.changes if c.status in (ChangeStatus.MODIFIED, ChangeStatus.RENAMED_MODIFIED)]
    assert all(c.delta_bytes is None and c.delta_note for c in mod)
