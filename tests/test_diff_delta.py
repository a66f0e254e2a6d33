"""Delta estimates: zstd with the old file as prefix (``--patch-from`` style) and bsdiff."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.common import pseudo_random
from inspector.diff import ChangeStatus, DiffOptions, diff_images
from inspector.diff.delta import bsdiff_delta_size, zstd_delta_size, zstd_size

MIB = 1024 * 1024


def _one_byte_changed(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xA5
    return bytes(b)


@pytest.fixture(autouse=True)
def _own_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", str(tmp_path / "store.sqlite"))


def test_one_byte_change_in_1mib_gives_a_few_hundred_bytes() -> None:
    old = pseudo_random("d-old", MIB)
    assert zstd_delta_size(old, _one_byte_changed(old, MIB // 3)) < 400


def test_one_byte_change_in_a_large_file_stays_small() -> None:
    old = pseudo_random("d-large", 24 * MIB)  # beyond the part of a raw dictionary zstd indexes
    assert zstd_delta_size(old, _one_byte_changed(old, 20 * MIB)) < 24 * MIB // 1000


def test_unrelated_file_delta_is_near_its_compressed_size() -> None:
    old, new = pseudo_random("d-a", MIB), pseudo_random("d-b", MIB)
    compressed = zstd_size(new)
    assert abs(zstd_delta_size(old, new) - compressed) < compressed * 0.01


def test_bsdiff_one_byte_change_is_small() -> None:
    pytest.importorskip("bsdiff4")
    old = pseudo_random("d-bs", MIB)
    assert bsdiff_delta_size(old, _one_byte_changed(old, 1234)) < 400


def test_images_one_byte_change_delta_end_to_end(built: Callable[[str], list[Path]]) -> None:
    base, one, _ = built("diff-delta")
    r = diff_images(base, one)
    (c,) = [c for c in r.changes if c.status is ChangeStatus.MODIFIED]
    assert c.delta_bytes is not None and c.delta_bytes < 400
    assert r.totals.delta_bytes == c.delta_bytes and r.totals.delta_skipped == 0


def test_images_unrelated_file_delta_end_to_end(built: Callable[[str], list[Path]]) -> None:
    base, _, unrelated = built("diff-delta")
    r = diff_images(base, unrelated)
    (c,) = [c for c in r.changes if c.status is ChangeStatus.MODIFIED]
    assert c.delta_bytes is not None and c.delta_bytes > 0.99 * MIB


def test_delta_skipped_over_the_size_bound_is_said(built: Callable[[str], list[Path]]) -> None:
    base, one, _ = built("diff-delta")
    r = diff_images(base, one, DiffOptions(delta_max_bytes=1000))
    (c,) = [c for c in r.changes if c.status is ChangeStatus.MODIFIED]
    assert c.delta_bytes is None and "size bound" in (c.delta_note or "")
    assert r.totals.delta_skipped == 1 and r.totals.delta_bytes == MIB


def test_bsdiff_method_end_to_end(built: Callable[[str], list[Path]]) -> None:
    pytest.importorskip("bsdiff4")
    base, one, _ = built("diff-delta")
    r = diff_images(base, one, DiffOptions(delta_method="bsdiff"))
    (c,) = [c for c in r.changes if c.status is ChangeStatus.MODIFIED]
    assert c.delta_bytes is not None and c.delta_bytes < 400


def test_added_file_counts_its_compressed_size(built: Callable[[str], list[Path]]) -> None:
    old, new = built("diff-tgz-pair")
    r = diff_images(old, new)
    (added,) = [c for c in r.changes if c.status is ChangeStatus.ADDED]
    assert added.delta_bytes == zstd_size(pseudo_random("new-notes", 7_000))
