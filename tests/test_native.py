"""The compiled fast paths (``inspector._native``, chosen in ``inspector.native``) give what the Python code gives.

The pure-Python code is the reference. The tar reader is run twice over the same bytes, with the compiled
run of plain headers and without it: the members (name, kind, size, mode, mtime, link, content), the
offset at which the archive is handed to libarchive, the format bookkeeping left for that hand-over, the
problems and the names a hard link may point at must be the same, for generated and mutated headers read
through streams that return short reads. Whole inventories of tars written by GNU tar, bsdtar and Python's
tarfile must be the same with and without the compiled module, and so must the content type
``sniff.detect_type`` names for heads of every kind. Tests that need the module skip when it
was not built (no compiler or no Python headers where inspector was installed).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector import names, native, sniff
from inspector.limits import Limits
from inspector.model import EMPTY_META, EntryKind
from inspector.streams import Budget
from inspector.unpack import archive, tar
from inspector.unpack.base import FormatError, Member, UnpackContext
from inspector.unpack.blocks import Blocks, bytes_opener
from inspector.walker import Walker
from tests.conftest import require_tool
from tests.test_tar_reader import BSDTAR_FORMATS, GNU_TAR_FORMATS, python_tar, tool_tar, v7_tar

try:
    from inspector import _native
except ImportError:  # pragma: no cover - depends on the install
    _native = None  # type: ignore[assignment]

needs_native = pytest.mark.skipif(_native is None, reason="inspector._native was not built (no C compiler or "
                                  "Python headers at install time); the pure-Python code is what runs")


@contextmanager
def fast_paths(on: bool, run_most: int = tar._RUN_MOST) -> Iterator[None]:
    """Run the enclosed code with the compiled fast paths (``on``, ``run_most`` members a run) or without them."""
    saved = native.tar_plain_run, native.text_or_data, native.sha256_hex, tar._RUN_MOST
    compiled = on and _native is not None
    native.tar_plain_run = _native.tar_plain_run if compiled else None
    native.text_or_data = _native.text_or_data if compiled else None
    native.sha256_hex = _native.sha256_hex if compiled and _native.has_sha256() else native._hashlib_sha256_hex
    tar._RUN_MOST = run_most
    try:
        yield
    finally:
        native.tar_plain_run, native.text_or_data, native.sha256_hex, tar._RUN_MOST = saved


class ShortReads(io.RawIOBase):
    """``data`` as a forward-only stream whose reads return at most ``most`` bytes (as a pipe may)."""

    def __init__(self, data: bytes, most: int) -> None:
        super().__init__()
        self._b = io.BytesIO(data)
        self._most = most

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:  # type: ignore[override]
        view = memoryview(b).cast("B")
        return self._b.readinto(view[: self._most])


def read_members(blob: bytes, most: int) -> dict[str, Any]:
    """Everything the tar reader's own part makes of ``blob``: members, where it hands over, what it reported."""
    problems: list[tuple[Any, ...]] = []
    ctx = UnpackContext(path="t.tar", name="t.tar", size=None, head=blob[:65536], budget=Budget(Limits()),
                        problem=lambda *a, **k: problems.append((*a, tuple(sorted(k.items())))))
    blocks = Blocks(ShortReads(blob, most))  # type: ignore[arg-type]
    links = archive.HardLinkCheck(ctx, set())
    members: list[tuple[Any, ...]] = []
    reader = tar._read(blocks, ctx, links)
    outcome: object
    try:
        while True:
            m = next(reader)
            try:
                content: object = m.open().read() if m.open is not None else None  # type: ignore[misc]
            except FormatError as exc:
                content = f"error: {exc}"
            members.append((type(m), list(vars(m)), m.name, m.kind, m.size, m.stored_size, m.mode, m.mtime,
                            m.link_target, dict(m.meta), m.data, content, m.payload, m.compressed_progress))
    except StopIteration as stop:
        outcome = ("handed over at", stop.value)
    except Exception as exc:  # noqa: BLE001 - a failure is an outcome to compare
        outcome = ("raised", type(exc).__name__, str(exc))
    return {"members": members, "outcome": outcome, "format": blocks.format, "problems": problems,
            "seen": links.seen, "flagged": ctx.flagged_unsafe}


def same_both_ways(blob: bytes, most: int = 1 << 20, run_most: int = tar._RUN_MOST) -> dict[str, Any]:
    """Read ``blob`` with and without the compiled run; both must make the same of it."""
    with fast_paths(False):
        reference = read_members(blob, most)
    with fast_paths(True, run_most):
        fast = read_members(blob, most)
    assert fast == reference
    return fast


# -- generated headers ------------------------------------------------------------------------------------
MAGICS = (b"ustar\x0000", b"ustar  \x00", bytes(8), b"ustar \x00\x00", b"ustar\x00xx", b"ustarX\x00\x00")
FLAGS = b"0\x0075213467LKxgSDV"
NAME_CHARS = "abcz09._-/ +~@" + "\u00e9"  # the last one is not ASCII


def number(draw: st.DrawFn, value: int, width: int, odd: bool) -> bytes:
    """A numeric field of ``width`` bytes holding ``value``, written one of the ways writers write it."""
    usual = ["plain", "plain", "plain", "nul", "bsd", "spaced", "empty"]
    style = draw(st.sampled_from([*usual, "base256", "junk"] if odd else usual))
    digits = b"%o" % value
    if style == "plain" and len(digits) <= width - 1:
        return digits.rjust(width - 1, b"0") + b"\x00"
    if style == "nul" and len(digits) <= width - 2:
        return digits.rjust(width - 2, b"0") + b"\x00\x00"
    if style == "bsd" and len(digits) <= width - 2:
        return digits.rjust(width - 2, b"0") + b" \x00"
    if style == "spaced" and len(digits) <= width - 2:
        return b" " + digits.ljust(width - 1, b" ")
    if style == "empty":
        return b" " * width
    if style == "base256":
        return b"\x80" + value.to_bytes(width - 1, "big")
    if style == "junk":
        raw = bytearray(digits.rjust(width - 1, b"0")[: width - 1] + b"\x00")
        raw[draw(st.integers(0, width - 1))] = draw(st.sampled_from(b"8x\t- \x00"))
        return bytes(raw)
    return digits.rjust(width - 1, b"0")[-(width - 1):] + b"\x00"


@st.composite
def headers(draw: st.DrawFn) -> bytes:
    """One member: a header block (valid or mutated) and its content, as some writer might have written it."""
    h = bytearray(512)
    odd = draw(st.integers(0, 3)) == 0  # a quarter: headers no common writer makes
    chars = NAME_CHARS if odd else NAME_CHARS[:-1]
    name = draw(st.text(chars, min_size=0 if odd else 1, max_size=110)).encode()
    name = (name + draw(st.sampled_from([b"", b"/"]))).rjust(draw(st.sampled_from([0, 99, 100])), b"n")[:100]
    h[0 : len(name)] = name
    flag = draw(st.sampled_from(FLAGS if odd else b"0\x0007522346"))
    near = (0, 1, 511, 512, 513, tar.SMALL - 1, tar.SMALL, tar.SMALL + 1)
    size = draw(st.sampled_from(near) | st.integers(0, 3000))
    h[100:108] = number(draw, draw(st.sampled_from((0o644, 0o755, 0o4777, 0o100644, 0))), 8, odd)
    h[108:116] = number(draw, draw(st.integers(0, 70000)), 8, odd)
    h[116:124] = number(draw, draw(st.integers(0, 70000)), 8, odd)
    h[124:136] = number(draw, size, 12, odd)
    h[136:148] = number(draw, draw(st.sampled_from((0, 1_600_000_000, 8**11 - 1))), 12, odd)
    h[156] = flag
    link = draw(st.text(chars, max_size=20)).encode()[:100]
    h[157 : 157 + len(link)] = link
    magic = draw(st.sampled_from(MAGICS if odd else MAGICS[:4]))
    h[257:265] = magic
    if draw(st.booleans()):  # a ustar prefix (in a GNU header: where its sparse map and real size are)
        prefix = draw(st.text(chars, min_size=1, max_size=20)).encode() + draw(st.sampled_from([b"", b"/"]))
        prefix = prefix.rjust(draw(st.sampled_from([0, 45, 155])), b"p")[:155]
        h[345 : 345 + len(prefix)] = prefix
    if draw(st.integers(0, 5)) == 0:
        h[draw(st.sampled_from([386, 483]))] = draw(st.sampled_from(b"1\x80"))
    for _ in range(draw(st.integers(0, 2)) if odd else 0):  # mutations the checksum then covers
        h[draw(st.integers(0, 511))] = draw(st.integers(0, 255))
    h[148:156] = b" " * 8
    total = sum(h)
    signed = total - 256 * sum(1 for i, b in enumerate(h) if b >= 128 and not 148 <= i < 156)
    kind = draw(st.sampled_from(["unsigned", "signed", "wrong", "bsd"]) if odd else st.just("unsigned"))
    stored = {"signed": signed, "wrong": total + 1}.get(kind, total)
    h[148:156] = (b"%06o \x00" if kind == "bsd" else b"%06o\x00 ") % (stored % 8**6)
    for _ in range(draw(st.integers(0, 1)) if odd else 0):  # mutations after it
        h[draw(st.integers(0, 511))] = draw(st.integers(0, 255))
    data = draw(st.sampled_from([b"text\n", bytes(range(256)), b"\x00"])) * (size // 5 + 1)
    return bytes(h) + data[:size] + bytes(-size % 512)


def plain_header(name: bytes, size: int, flag: bytes = b"0", fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A member's header as Python's tarfile writes it (the form the compiled run reads), and its content."""
    info = tarfile.TarInfo(name.decode("utf-8"))
    info.size, info.mtime, info.mode, info.uid, info.gid, info.type = size, 1_600_000_000, 0o644, 1000, 1000, flag
    return info.tobuf(fmt, "utf-8", "surrogateescape") + b"d" * size + bytes(-size % 512)


def pax_member() -> bytes:
    """A member with a pax header (its name is too long for ustar), as Python's tarfile writes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("p" * 120)
        info.size = 2
        tf.addfile(info, io.BytesIO(b"pp"))
    return out.getvalue().rstrip(b"\x00") + bytes(510)  # the member and its padding, without the end blocks


@st.composite
def archives(draw: st.DrawFn) -> bytes:
    """A plain first member, then generated members, an end of archive, and maybe a cut anywhere."""
    blob = draw(st.sampled_from([plain_header(b"first.txt", 3), pax_member()]))
    blob += b"".join(draw(st.lists(headers(), max_size=6)))
    if draw(st.booleans()):
        blob += plain_header(b"after.txt", draw(st.integers(0, 700)))
    blob += bytes(1024)
    if draw(st.integers(0, 3)) == 0:
        blob = blob[: draw(st.integers(0, len(blob)))]
    return blob


@needs_native
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=archives(), most=st.sampled_from([1 << 20, 4096, 1000, 512, 7]), run_most=st.sampled_from([32, 1, 2]))
def test_compiled_tar_run_reads_generated_headers_as_the_python_reader_does(blob: bytes, most: int,
                                                                            run_most: int) -> None:
    same_both_ways(blob, most, run_most)


# -- the run's boundaries ---------------------------------------------------------------------------------
@needs_native
def test_compiled_tar_run_reads_plain_members_itself() -> None:
    blob = b"".join(plain_header(b"d/f%d.txt" % i, i * 100) for i in range(8)) + bytes(1024)
    # from the second member (the first is empty)
    run, fmt, end = _native.tar_plain_run(blob, 512, tar._RUN_MOST, tar.SMALL, 0, tar._RUN_KINDS, None)
    assert [m[0] for m in run] == [f"d/f{i}.txt" for i in range(1, 8)]
    assert (fmt, end) == (1, len(blob) - 1024)
    assert same_both_ways(blob)["outcome"] == ("handed over at", None)


@needs_native
@pytest.mark.parametrize("stop", [
    plain_header(b"big.bin", tar.SMALL + 1),
    plain_header(b"hard", 0, flag=b"1"),
    plain_header(b"././@LongLink", 5, flag=b"L"),
    plain_header("caf\u00e9".encode(), 1),
    bytes(512),
], ids=["large", "hard-link", "long-name", "not-ascii", "end"])
def test_compiled_tar_run_stops_at_a_header_it_does_not_read(stop: bytes) -> None:
    blob = plain_header(b"a", 1) + plain_header(b"b", 2) + stop + plain_header(b"c", 3) + bytes(1024)
    run, _, end = _native.tar_plain_run(blob, 512 + 512, tar._RUN_MOST, tar.SMALL, 0, tar._RUN_KINDS, None)
    assert [m[0] for m in run] == ["b"]
    assert end == 2 * 1024
    same_both_ways(blob)


@needs_native
@pytest.mark.parametrize("mode", [b"0000644\x00", b"  644  \x00", b"     644", b"        ", b"0000644\t", b"000064 4",
                                  b"\x000000644", b"0000648\x00", b"-000644\x00", b"+000644\x00",
                                  b"\x80\x00\x00\x00\x00\x00\x01\xa4"])
def test_compiled_tar_run_reads_numbers_as_the_python_reader_does(mode: bytes) -> None:
    h = bytearray(plain_header(b"m", 1)[:512])
    h[100:108] = mode
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    same_both_ways(plain_header(b"a", 1) + bytes(h) + b"d" + bytes(511) + plain_header(b"z", 1) + bytes(1024))


@needs_native
def test_compiled_tar_run_makes_at_most_the_members_asked_for() -> None:
    blob = b"".join(plain_header(b"f%d" % i, 1) for i in range(5))
    run, _, end = _native.tar_plain_run(blob, 0, 3, tar.SMALL, 1, tar._RUN_KINDS, None)
    assert [m[0] for m in run] == ["f0", "f1", "f2"]
    assert end == 3 * 1024


@needs_native
def test_compiled_tar_run_stops_where_the_buffer_ends() -> None:
    blob = plain_header(b"a", 1) + plain_header(b"b", 700)
    run, _, end = _native.tar_plain_run(blob[:-1], 1024, tar._RUN_MOST, tar.SMALL, 0, tar._RUN_KINDS, None)
    assert (run, end) == ([], 1024)


@needs_native
def test_compiled_tar_run_keeps_a_pax_archive_pax_through_ustar_headers() -> None:
    _, fmt, _ = _native.tar_plain_run(plain_header(b"a", 1), 0, tar._RUN_MOST, tar.SMALL, 3, tar._RUN_KINDS, None)
    assert fmt == 3
    gnu = plain_header(b"a", 1, fmt=tarfile.GNU_FORMAT)
    _, fmt, _ = _native.tar_plain_run(gnu, 0, tar._RUN_MOST, tar.SMALL, 3, tar._RUN_KINDS, None)
    assert fmt == 2


@needs_native
def test_compiled_tar_run_makes_members_of_plain_names_and_leaves_the_others_to_python() -> None:
    blob = (plain_header(b"d/a.txt", 1) + plain_header(b"./b.txt", 2) + plain_header(b"c", 0, flag=b"5")
            + plain_header(b"dev", 0, flag=b"3"))  # tarfile writes the directory as "c/"
    seen: set[str] = set()
    make = (Member, tar._MEMBER_FIELDS, EMPTY_META, bytes_opener, seen)
    run, _, _ = _native.tar_plain_run(blob, 0, tar._RUN_MOST, tar.SMALL, 1, tar._RUN_KINDS, make)
    assert [type(item) for item in run] == [Member, tuple, tuple, Member]
    assert run[0] == Member("d/a.txt", EntryKind.FILE, 1, None, 0o644, 1_600_000_000, None, EMPTY_META, run[0].open,
                            None, False, b"d")
    assert run[0].open().read() == b"d"
    assert run[3].kind is EntryKind.DEVICE and run[3].size is None and run[3].open is None
    assert seen == {"d/a.txt", "dev"}


@needs_native
def test_the_compiled_tar_run_knows_every_field_of_member() -> None:
    """A field added to Member must reach the compiled reader too, or tar silently loses its fast path."""
    assert tar._MEMBER_FIELDS == tuple(Member.__dataclass_fields__)


NAME_SAMPLE = "aZ09_+@=,~%#- ./\\\t\n:*?\x00\x7f\u00e9"


@needs_native
@settings(max_examples=500, deadline=None)
@given(name=st.text(NAME_SAMPLE, max_size=12))
def test_plain_names_are_the_ones_checked_member_path_takes_as_they_are(name: str) -> None:
    assert _native.plain_name(name) == bool(".." not in name and names._PLAIN.fullmatch(name))


# -- content types ----------------------------------------------------------------------------------------
def _sprinkled(length: int, changes: list[tuple[int, int]]) -> bytes:
    """``length`` letters with some bytes put in (at positions taken modulo the length)."""
    out = bytearray(b"a" * length)
    for at, byte in changes:
        out[at % length] = byte
    return bytes(out)


def _heads() -> st.SearchStrategy[bytes]:
    """Heads of every kind ``detect_type`` tells apart: binary, ASCII, UTF-8 (cut anywhere), latin-1 text,
    control bytes, magics of its own in front, around the 8 KiB it samples."""
    magics = st.sampled_from([m for o, m in sniff._PREFIXES if o == 0] + [b"\x7fELF\x02\x01", b"PA30", b"DCH\x01"])
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
    latin = st.text(st.characters(codec="latin-1"), max_size=60).map(lambda t: t.encode("latin-1"))
    # single-byte text about as printable as the 90% detect_type asks, with every kind of control byte
    mostly = st.builds(_sprinkled, st.integers(5, 60), st.lists(st.tuples(
        st.integers(0, 60), st.sampled_from(b"\xe9\xff\x80\xa0\x7f\t\n\r\x0c\x0b\x1b\x01 ~")), max_size=8))
    body = st.one_of(st.binary(max_size=300), text.map(lambda t: t.encode()), latin, mostly,
                     text.map(lambda t: t.encode()[:-1]), st.sampled_from([b"a" * 8190, "\u00e9".encode() * 4097]))
    return st.builds(lambda pre, b, tail: pre + b + tail, st.sampled_from([b""]) | magics | st.binary(max_size=6),
                     body, st.sampled_from([b"", b"\x00", b"\xe9", b"\xc3", b"\x7f", b"\x0b"]))


@needs_native
@settings(max_examples=1000, deadline=None)
@given(head=_heads())
def test_compiled_text_or_data_names_content_as_detect_type_does(head: bytes) -> None:
    with fast_paths(False):
        reference = sniff.detect_type(head)
    with fast_paths(True):
        assert sniff.detect_type(head) == reference


@needs_native
@pytest.mark.parametrize("head", [b"", b"\x7fELF", b"MZ", b"#!/bin/sh\n", b"xxxxPA30", b"%PDF-1.4",
                                  b"\x00" * 1080 + b"\x53\xef"])
def test_compiled_text_or_data_leaves_magics_and_empty_heads_to_detect_type(head: bytes) -> None:
    assert _native.text_or_data(head, sniff._PREFIXES) is None


# -- whole inventories ------------------------------------------------------------------------------------
needs_libcrypto_sha256 = pytest.mark.skipif(_native is None or not _native.has_sha256(),
                                             reason="inspector._native not built, or libcrypto's SHA256_* not found")


@needs_libcrypto_sha256
@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=9000))
def test_compiled_sha256_is_hashlibs(data: bytes) -> None:
    import hashlib

    expected = hashlib.sha256(data).hexdigest()
    assert _native.sha256_hex(data) == _native.sha256_hex(bytearray(data)) == expected
    assert _native.sha256_hex(memoryview(b"x" + data)[1:]) == expected


@needs_libcrypto_sha256
@pytest.mark.parametrize("size", [0, 55, 56, 63, 64, 65, 4095, 4096, 1 << 20])
def test_compiled_sha256_is_hashlibs_at_block_and_thread_release_edges(size: int) -> None:
    import hashlib

    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert _native.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_sha256_hex_is_always_callable_and_hashlibs_in_pure_python() -> None:
    code = "from inspector import native; print(native.sha256_hex(b'abc'), native.sha256_hex.__module__)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "INSPECTOR_PURE_PYTHON": "1"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "inspector.native"]


def same_inventory_both_ways(path: Path) -> None:
    with fast_paths(False):
        reference = Walker().inventory(path)
    with fast_paths(True):
        fast = Walker().inventory(path)
    assert list(fast.entries) == list(reference.entries)
    assert fast.problems == reference.problems


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_python_tarfile_inventory_is_the_same_with_and_without_the_compiled_module(tmp_path, fmt) -> None:
    same_inventory_both_ways(python_tar(tmp_path / "t.tar", fmt))


@pytest.mark.parametrize("fmt", GNU_TAR_FORMATS)
def test_gnu_tar_inventory_is_the_same_with_and_without_the_compiled_module(tmp_path, fmt) -> None:
    require_tool("tar")
    same_inventory_both_ways(tool_tar(tmp_path, "tar", fmt))


@pytest.mark.parametrize("fmt", BSDTAR_FORMATS)
def test_bsdtar_inventory_is_the_same_with_and_without_the_compiled_module(tmp_path, fmt) -> None:
    require_tool("bsdtar")
    same_inventory_both_ways(tool_tar(tmp_path, "bsdtar", fmt))


def test_v7_inventory_is_the_same_with_and_without_the_compiled_module(tmp_path) -> None:
    same_inventory_both_ways(v7_tar(tmp_path / "v7.tar"))


def test_unsafe_names_are_reported_the_same_with_and_without_the_compiled_module(tmp_path) -> None:
    blob = (plain_header(b"ok", 1) + plain_header(b"../escape", 2) + plain_header(b"/abs/x", 3)
            + plain_header(b"a/./b//c", 4) + plain_header(b"ok", 5) + bytes(1024))
    (tmp_path / "u.tar").write_bytes(blob)
    same_inventory_both_ways(tmp_path / "u.tar")


# -- the choice -------------------------------------------------------------------------------------------
def _choice(env: dict[str, str]) -> str:
    code = "from inspector import native; print(native.compiled())"
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_inspector_pure_python_forces_the_python_code() -> None:
    assert _choice({"INSPECTOR_PURE_PYTHON": "1"}) == "False"


@needs_native
def test_the_compiled_module_is_used_when_built() -> None:
    assert _choice({"INSPECTOR_PURE_PYTHON": ""}) == "True"


def test_the_compiled_module_is_importable_after_install() -> None:
    if _native is None:
        pytest.skip("inspector._native was not built (no C compiler or Python headers at install time)")
    assert callable(_native.tar_plain_run)

