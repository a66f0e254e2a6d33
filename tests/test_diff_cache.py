"""A second diff of the same pair reads neither image: inventories and delta estimates come from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.diff import diff_images
from tests.conftest import count_walks


@pytest.fixture()
def pair(built) -> tuple[Path, Path]:
    files = sorted(built("diff-tgz-pair"))
    return files[0], files[1]


def test_second_diff_of_a_stored_pair_walks_no_image(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    first = diff_images(*pair)
    walked = count_walks(monkeypatch)
    second = diff_images(*pair)
    assert walked == []
    assert second.totals == first.totals


def test_cached_deltas_equal_the_computed_ones(pair) -> None:
    first = diff_images(*pair)
    second = diff_images(*pair)
    assert first.totals.delta_bytes > 0 and first.totals.delta_skipped == 0
    assert [c.delta_bytes for c in second.changes] == [c.delta_bytes for c in first.changes]


def test_without_a_store_the_images_are_walked_again(pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSPECTOR_STORE", "off")
    diff_images(*pair)
    walked = count_walks(monkeypatch)
    diff_images(*pair)
    assert len(walked) >= 2


def test_copies_of_one_change_share_one_cached_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip
    import io
    import tarfile

    from fixtures.common import pseudo_random

    def tgz(name: str, data: bytes) -> Path:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for member in ("a/lib.so", "b/lib.so"):  # the same file shipped twice
                ti = tarfile.TarInfo(member)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
        p = tmp_path / name
        p.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
        return p

    old_data = pseudo_random("lib", 50_000)
    old, new = tgz("r-1.tgz", old_data), tgz("r-2.tgz", old_data[:1000] + b"X" + old_data[1001:])
    first = diff_images(old, new)
    walked = count_walks(monkeypatch)
    second = diff_images(old, new)
    assert walked == []
    assert second.totals.delta_bytes == first.totals.delta_bytes > 0
