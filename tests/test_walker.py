"""The walker: recursion, logical paths, hashing, limits and error handling, independent of formats."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from inspector.limits import Limits, WalkError
from inspector.model import NEST, EntryKind
from inspector.walker import Walker, walk
from tests.conftest import made_dirs


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_root_entry_is_the_image_with_its_size_and_hash(tmp_path: Path) -> None:
    p = tmp_path / "plain.bin"
    p.write_bytes(b"\x00\x01" * 1000)
    inv = walk(p)
    assert inv.root.path == "plain.bin"
    assert inv.root.size == 2000
    assert inv.root.sha256 == hashlib.sha256(b"\x00\x01" * 1000).hexdigest()
    assert inv.root.depth == 0 and not inv.root.opened


def test_nested_containers_get_bang_slash_paths_at_every_depth(tmp_path: Path) -> None:
    inner = gzip.compress(_tar({"usr/bin/x": b"payload"}), mtime=0)
    p = tmp_path / "outer.zip"
    p.write_bytes(_zip({"inner.tgz": inner}))
    paths = {e.path: e for e in walk(p).entries}
    leaf = paths["outer.zip!/inner.tgz!/inner.tar!/usr/bin/x"]
    assert leaf.depth == 3
    assert leaf.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert paths["outer.zip!/inner.tgz"].container == "gzip" and paths["outer.zip!/inner.tgz"].opened


def test_container_entry_hash_covers_its_whole_content(tmp_path: Path) -> None:
    data = _tar({"a": b"1" * 5000})
    p = tmp_path / "x.tar"
    p.write_bytes(data)
    inv = walk(p)
    assert inv.root.sha256 == hashlib.sha256(data).hexdigest()
    assert inv.root.size == len(data)


def test_entries_are_listed_parent_before_children(tmp_path: Path) -> None:
    p = tmp_path / "a.tgz"
    p.write_bytes(gzip.compress(_tar({"f": b"x"}), mtime=0))
    order = [e.path for e in walk(p).entries]
    assert order.index("a.tgz") < order.index("a.tgz!/a.tar") < order.index("a.tgz!/a.tar!/f")


def test_depth_limit_leaves_deeper_containers_unopened_and_reports_it(tmp_path: Path) -> None:
    data = b"core"
    for _ in range(5):
        data = gzip.compress(data, mtime=0)
    p = tmp_path / "deep.gz"
    p.write_bytes(data)
    inv = Walker(Limits(max_depth=2)).inventory(p)
    unopened = [e for e in inv.entries if e.container and not e.opened]
    assert len(unopened) == 1 and unopened[0].depth == 2
    assert any(pr.kind == "limit" and "deeper than 2" in pr.reason for pr in inv.problems)
    assert not inv.complete


def test_corrupt_member_is_reported_at_its_path_and_siblings_still_listed(tmp_path: Path) -> None:
    good = gzip.compress(b"fine", mtime=0)
    bad = bytearray(gzip.compress(bytes(range(256)) * 64, mtime=0))
    bad[30:40] = b"\xff" * 10
    p = tmp_path / "bundle.zip"
    p.write_bytes(_zip({"bad.gz": bytes(bad), "good.gz": good}))
    inv = walk(p)
    paths = {e.path for e in inv.entries}
    assert "bundle.zip!/good.gz!/good" in paths
    assert any(pr.path.startswith("bundle.zip!/bad.gz") for pr in inv.problems)
    assert not inv.complete


def test_total_bytes_budget_stops_the_walk_with_a_limit_problem(tmp_path: Path) -> None:
    p = tmp_path / "zeros.gz"
    p.write_bytes(gzip.compress(b"\x00" * (8 << 20), mtime=0))
    inv = Walker(Limits(max_total_bytes=1 << 20)).inventory(p)
    assert any(pr.kind == "limit" and "total unpacked" in pr.reason for pr in inv.problems)
    assert not inv.complete


def test_expansion_ratio_limit_stops_a_bomb(tmp_path: Path) -> None:
    p = tmp_path / "bomb.gz"
    p.write_bytes(gzip.compress(b"\x00" * (64 << 20), mtime=0))
    inv = Walker(Limits(max_ratio=100, ratio_floor_bytes=1 << 20)).inventory(p)
    assert any(pr.kind == "limit" and "expands more than" in pr.reason for pr in inv.problems)


def test_missing_image_raises_a_walk_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(WalkError, match="missing.iso"):
        walk(tmp_path / "missing.iso")


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(WalkError, match="not a regular file"):
        walk(tmp_path)


def test_capture_receives_exactly_the_requested_leaf_contents(tmp_path: Path) -> None:
    p = tmp_path / "a.tgz"
    p.write_bytes(gzip.compress(_tar({"keep": b"K" * 3000, "skip": b"S"}), mtime=0))
    got: dict[str, io.BytesIO] = {}

    def capture(path: str, size: int | None) -> io.BytesIO | None:
        if path.endswith("keep"):
            got[path] = io.BytesIO()
            return got[path]
        return None

    Walker(capture=capture).inventory(p)
    assert {k: v.getvalue() for k, v in got.items()} == {"a.tgz!/a.tar!/keep": b"K" * 3000}


def test_leaf_types_are_detected_from_content_not_names(tmp_path: Path) -> None:
    elf = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00" + b"\x00" * 100
    p = tmp_path / "x.tar"
    p.write_bytes(_tar({"looks.txt": elf, "prog": b"hello world\n"}))
    by = {e.name: e for e in walk(p).entries}
    assert by["looks.txt"].detected == "elf-executable"
    assert by["prog"].detected == "text"


def test_walk_writes_nothing_outside_its_private_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    inner = _zip({"a": b"x" * 100})
    p = tmp_path / "x.tgz"
    p.write_bytes(gzip.compress(_tar({"nested.zip": inner}), mtime=0))
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    inv = walk(p)
    assert "x.tgz!/x.tar!/nested.zip!/a" in {e.path for e in inv.entries}
    assert list(tmp.iterdir()) == []
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before



def test_a_walk_that_spools_nothing_makes_no_private_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    made = made_dirs(monkeypatch)
    p = tmp_path / "x.tgz"
    p.write_bytes(gzip.compress(_tar({"nested.zip": _zip({"a": b"x" * 100})}), mtime=0))
    inv = walk(p)
    assert "x.tgz!/x.tar!/nested.zip!/a" in {e.path for e in inv.entries}
    assert made == []


def test_a_walk_that_spools_makes_its_private_temp_dir_then_removes_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import inspector.walker as walker_module

    made = made_dirs(monkeypatch)
    monkeypatch.setattr(walker_module, "MEMORY_SPOOL", 10)  # the nested ZIP (read seeking) goes to a spool file
    p = tmp_path / "x.tgz"
    p.write_bytes(gzip.compress(_tar({"nested.zip": _zip({"a": os.urandom(4 << 20)})}), mtime=0))
    inv = walk(p)
    assert "x.tgz!/x.tar!/nested.zip!/a" in {e.path for e in inv.entries}
    assert len(made) == 1
    assert not os.path.exists(made[0])


def test_symlinks_and_dirs_carry_no_content_hash(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        tf.addfile(d)
        s = tarfile.TarInfo("dir/link")
        s.type = tarfile.SYMTYPE
        s.linkname = "../target"
        tf.addfile(s)
    p = tmp_path / "l.tar"
    p.write_bytes(buf.getvalue())
    by = {e.name: e for e in walk(p).entries}
    assert by["dir"].kind is EntryKind.DIR and by["dir"].sha256 is None
    assert by["dir/link"].kind is EntryKind.SYMLINK and by["dir/link"].link_target == "../target"


def test_a_decompressed_payload_that_is_a_container_is_not_hashed_again(tmp_path: Path) -> None:
    p = tmp_path / "a.tgz"
    p.write_bytes(gzip.compress(_tar({"f": b"x" * 100}), mtime=0))
    by = {e.path: e for e in walk(p).entries}
    payload = by["a.tgz!/a.tar"]
    assert payload.container == "tar" and payload.opened and payload.sha256 is None
    assert not payload.unread  # identified by the wrapper's hash, not missing
    assert by["a.tgz"].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert by["a.tgz!/a.tar!/f"].sha256 == hashlib.sha256(b"x" * 100).hexdigest()


def test_a_traversing_name_from_any_reader_is_a_warning(tmp_path: Path) -> None:
    from fixtures.vmware import tree_entries, vmtar_bytes

    # vmtar names are not vetted by their reader: the walker itself flags the '..' component.
    p = tmp_path / "evil.vtar"
    p.write_bytes(vmtar_bytes(tree_entries({"../../etc/cron.d/evil": b"data", "ok.txt": b"fine"})))
    inv = walk(p)
    warned = {pr.path: pr.kind for pr in inv.problems if "unsafe member name" in pr.reason}
    assert warned["evil.vtar!/../../etc/cron.d/evil"] == "warning"  # (its parent dirs are flagged too)
    assert "evil.vtar!/ok.txt" not in warned
    assert len(warned) == len([pr for pr in inv.problems if "unsafe member name" in pr.reason])  # once each
    assert inv.complete


def test_a_name_its_reader_already_flagged_is_not_flagged_twice(tmp_path: Path) -> None:
    p = tmp_path / "evil.tar"
    p.write_bytes(_tar({"../escape.txt": b"x"}))
    warnings = [pr for pr in walk(p).problems if "unsafe member name" in pr.reason]
    assert len(warnings) == 1


# -- draining long content: hashed one chunk behind the reading, in a thread of its own -------------------
def _tracked(data: bytes, limits: Limits | None = None):  # type: ignore[no-untyped-def]
    from inspector.streams import Budget, TrackedStream, read_head

    raw = io.BytesIO(data)
    return TrackedStream(raw, Budget(limits or Limits(), image_size=len(data)), head=read_head(raw))


@pytest.mark.parametrize("size", [0, 1000, 64 * 1024, 1024 * 1024, 9 * 1024 * 1024 + 17])
def test_drained_content_is_hashed_counted_and_copied_whole(size: int) -> None:
    from fixtures.common import pseudo_random

    data = pseudo_random("drain", size)
    sink = io.BytesIO()
    ts = _tracked(data)
    ts.drain(sink)
    assert ts.sha256 == hashlib.sha256(data).hexdigest()
    assert ts.count == size and sink.getvalue() == data


@pytest.mark.parametrize("declared", [0, 100, 5000, 2 * 1024 * 1024, 20 * 1024 * 1024])
def test_content_that_is_longer_or_shorter_than_declared_is_drained_whole(declared: int) -> None:
    from fixtures.common import pseudo_random

    data = pseudo_random("declared", 6 * 1024 * 1024 + 3)  # past OVERLAP_FROM, and not a whole chunk
    sink = io.BytesIO()
    ts = _tracked(data)
    ts.drain(sink, size=declared)
    assert ts.sha256 == hashlib.sha256(data).hexdigest()
    assert ts.count == len(data) and sink.getvalue() == data


class _Chunks(io.RawIOBase):
    """A stream that hands out its own chunks, as a decompressor does (``hands_out_chunks``)."""

    hands_out_chunks = True

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self.chunks = list(chunks)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self.chunks:
            return b""
        if 0 <= size < len(self.chunks[0]):  # asked for less: a cut, the rest kept for the next read
            head, self.chunks[0] = self.chunks[0][:size], self.chunks[0][size:]
            return head
        return self.chunks.pop(0)


def test_reading_past_the_head_hands_the_raw_streams_chunks_on_counted_and_hashed() -> None:
    from inspector.streams import Budget, TrackedStream, read_head

    chunks = [b"h" * 100, b"a" * 70_000, b"b" * 5]
    raw = _Chunks(chunks)
    ts = TrackedStream(raw, Budget(Limits()), head=read_head(raw, 50))
    assert ts.hands_out_chunks
    got = [ts.read(1 << 20) for _ in range(5)]
    assert got[0] == b"h" * 50  # the head first, then the rest of the chunk it was cut from
    assert got[2] is chunks[1] and got[3] is chunks[2]  # then the raw stream's own objects, not copies
    assert b"".join(got) == b"".join(chunks) and ts.read(10) == b""
    assert ts.count == 70_105 and ts.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()


def test_a_limit_met_while_reading_past_the_head_still_stops_it() -> None:
    from inspector.limits import LimitExceeded
    from inspector.streams import Budget, TrackedStream, read_head

    raw = _Chunks([b"x" * 10, b"y" * 5000])
    ts = TrackedStream(raw, Budget(Limits(max_member_bytes=1000)), head=read_head(raw, 10))
    assert ts.read(100) == b"x" * 10
    with pytest.raises(LimitExceeded):
        ts.read(1 << 20)


def test_read_ahead_hands_out_the_producers_chunks_and_cuts_them_only_when_asked_for_less() -> None:
    from inspector.streams import ReadAheadReader

    chunks = [bytes([i]) * 1000 for i in range(1, 6)]
    reader = ReadAheadReader(_Chunks(chunks), depth=2)
    try:
        assert reader.read(1000) is chunks[0]
        assert reader.read(300) == chunks[1][:300]
        assert reader.read(10_000) == chunks[1][300:]  # the rest of a cut chunk: a copy
        view = bytearray(1500)
        assert reader.readinto(view) == 1000 and bytes(view[:1000]) == chunks[2]
        assert reader.read(5000) is chunks[3] and reader.read(5000) is chunks[4]
        assert reader.read(10) == b""
    finally:
        reader.close()


def test_a_limit_met_while_draining_long_content_still_stops_it() -> None:
    from inspector.limits import LimitExceeded

    ts = _tracked(bytes(9 * 1024 * 1024), Limits(max_member_bytes=6 * 1024 * 1024))  # past OVERLAP_FROM
    with pytest.raises(LimitExceeded):
        ts.drain()
    assert ts.sha256 is not None  # the hash is the stream's again, whatever was read before the limit


@pytest.mark.parametrize("wrap", [lambda b: b, lambda b: gzip.compress(b, mtime=0)], ids=["tar", "tar.gz"])
def test_a_streamed_image_is_hashed_whole_beside_its_reader_even_past_the_end_of_its_archive(
        tmp_path: Path, wrap) -> None:
    data = wrap(_tar({"a.txt": b"alpha\n", "b.bin": bytes(range(256)) * 8}) + b"bytes after the archive")
    p = tmp_path / "image"
    p.write_bytes(data)
    inv = walk(p)
    assert inv.root.opened
    assert (inv.root.sha256, inv.root.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert {e.path.rsplit("/", 1)[-1]: e.sha256 for e in inv.entries if e.kind is EntryKind.FILE and e.depth} \
        .get("a.txt") == hashlib.sha256(b"alpha\n").hexdigest()


def test_a_small_member_that_exhausts_the_byte_budget_is_listed_unhashed_and_stops_the_walk(tmp_path: Path) -> None:
    p = tmp_path / "x.tar"
    p.write_bytes(_tar({"small": b"s" * 100, "big": b"b" * 3000, "after": b"a" * 10}))  # 10,240 bytes read first
    inv = Walker(Limits(max_total_bytes=12_000)).inventory(p)
    by_name = {e.path.rsplit(NEST, 1)[-1]: e for e in inv.entries[1:]}
    assert by_name["small"].sha256 == hashlib.sha256(b"s" * 100).hexdigest()
    assert by_name["big"].sha256 is None and by_name["big"].size == 3000
    assert "after" not in by_name and not inv.complete
    assert [(pr.path, pr.limit) for pr in inv.problems] == [("x.tar!/big", "max_total_bytes")]


def test_a_walk_stopped_by_a_limit_stops_hashing_the_image_aside(tmp_path: Path, monkeypatch) -> None:
    import threading

    from inspector import walker
    from inspector.streams import HashStopped

    asked: list[threading.Event] = []
    started = threading.Event()

    def hash_until_stopped(path: str, stop: threading.Event | None = None) -> str:
        assert stop is not None
        asked.append(stop)
        started.set()
        stop.wait(60)  # a large image: hashing goes on until told to stop
        raise HashStopped(path)

    monkeypatch.setattr(walker, "hash_file", hash_until_stopped)
    p = tmp_path / "many.tar"
    p.write_bytes(_tar({f"f{i}": b"x" for i in range(50)}))
    inv = Walker(Limits(max_members=10)).inventory(p)
    assert started.wait(10)
    assert asked[0].is_set()
    assert inv.root.sha256 is None and not inv.complete
