"""gzip, bzip2, xz and zstd wrappers: one member, the payload, named and hashed as the CLI tools see it."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from inspector.limits import Limits
from inspector.model import NEST
from inspector.walker import Walker, walk
from tests.conftest import require_tool


def _file(built, name: str) -> Path:
    return next(p for p in built("archives") if p.name == name)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decompress(tool: str, path: Path) -> bytes:
    return subprocess.run([tool, "-dc", str(path)], capture_output=True, check=True).stdout


def test_gzip_fname_names_the_payload(built) -> None:
    inv = walk(_file(built, "renamed.gz"))
    assert [e.name for e in inv.entries[1:]] == ["original-name.bin"]


def test_gzip_payload_sha256_matches_gzip_dc(built) -> None:
    require_tool("gzip")
    path = _file(built, "renamed.gz")
    payload = walk(path).entries[1]
    data = _decompress("gzip", path)
    assert (payload.size, payload.sha256) == (len(data), _sha(data))


def test_gzip_without_fname_names_the_payload_after_the_file_minus_its_suffix(built) -> None:
    inv = walk(_file(built, "multi.txt.gz"))
    assert inv.entries[1].path == f"multi.txt.gz{NEST}multi.txt"


def test_multi_member_gzip_yields_the_whole_payload(built) -> None:
    require_tool("gzip")
    path = _file(built, "multi.txt.gz")
    inv = walk(path)
    data = _decompress("gzip", path)
    assert data == b"first member\n" * 100 + b"second member\n" * 100
    assert (inv.entries[1].size, inv.entries[1].sha256) == (len(data), _sha(data))
    assert inv.root.meta["streams"] == 2
    assert inv.complete and not inv.problems


def test_trailing_garbage_after_gzip_is_reported_as_a_warning(built) -> None:
    inv = walk(_file(built, "trailing.txt.gz"))
    assert [(p.path, p.kind) for p in inv.problems] == [("trailing.txt.gz", "warning")]
    assert "68 bytes after the last gzip stream" in inv.problems[0].reason
    assert inv.root.meta["trailing_bytes"] == 68
    assert inv.complete  # the payload itself is whole
    assert inv.entries[1].sha256 == _sha(b"payload before garbage\n" * 10)


@pytest.mark.parametrize(("name", "tool"), [("tree.tar.bz2", "bzip2"), ("tree.tar.xz", "xz"), ("tree.tar.zst", "zstd")])
def test_compressed_tar_payload_matches_the_codec_tool(built, name: str, tool: str) -> None:
    require_tool(tool)
    path = _file(built, name)
    # A payload that is opened as a container is not hashed (the wrapper's hash identifies it); stop one
    # level down so the payload is a leaf and its hash checks our decompression against the codec tool.
    inv = Walker(Limits(max_depth=1)).inventory(path)
    payload = inv.entries[1]
    data = _decompress(tool, path)
    assert payload.name == "tree.tar"
    assert (payload.size, payload.sha256) == (len(data), _sha(data))
    assert payload.stored_size == path.stat().st_size


@pytest.mark.parametrize("name", ["tree.tar.bz2", "tree.tar.xz", "tree.tar.zst"])
def test_compressed_tar_lists_the_same_members_as_the_plain_tar(built, name: str) -> None:
    plain = walk(_file(built, "gnu.tar"))
    inner = walk(_file(built, name))
    container = f"{name}{NEST}tree.tar"
    ours = {e.name: (e.kind, e.size, e.sha256) for e in inner.entries if e.parent == container}
    theirs = {e.name: (e.kind, e.size, e.sha256) for e in plain.entries if e.parent == "gnu.tar"}
    assert ours == theirs


@pytest.mark.parametrize("size", [1, 1000, 1 << 20])
def test_decompress_reader_read_gives_at_most_what_was_asked_and_all_of_it(size: int) -> None:
    import gzip as gzip_module
    import io as io_module

    from fixtures.common import pseudo_random
    from inspector.unpack.compressed import GZIP_MAGIC, DecompressReader, _ZlibGzip

    data = pseudo_random("reader", 3 << 20)
    src = io_module.BytesIO(gzip_module.compress(data, mtime=0) * 2)  # two streams, one after the other
    reader = DecompressReader(src, _ZlibGzip, GZIP_MAGIC)
    pieces = []
    while piece := reader.read(size):
        assert 0 < len(piece) <= size
        pieces.append(piece)
    assert b"".join(pieces) == data * 2 and reader.streams == 2
