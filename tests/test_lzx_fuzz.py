"""Damaged LZX data: whatever the damage, the decoder returns exactly the chunk size or raises LzxError."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.microsoft import fake_pe
from inspector.unpack import lzx
from inspector.walker import walk
from tests.test_lzx_decoder import SAMPLES, wimlib_lzx

Built = Callable[[str], list[Path]]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One random kind of damage: bit flips, a scrambled run, a cut, garbage appended, a splice."""
    buf = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        i = rng.randrange(len(buf))
        n = rng.randint(1, 64)
        buf[i : i + n] = rng.randbytes(min(n, len(buf) - i))
    elif kind == 2:
        del buf[rng.randrange(len(buf)) :]
    elif kind == 3:
        buf += rng.randbytes(rng.randint(1, 100))
    else:
        i = rng.randrange(len(buf))
        buf[i:] = buf[: len(buf) - i]
    return bytes(buf)


def _decodes_or_refuses(data: bytes, size: int) -> None:
    try:
        out = lzx.decompress(data, size)
    except lzx.LzxError as exc:
        assert str(exc), "an LZX error always says why"
    else:
        assert len(out) == size


@pytest.mark.parametrize("kind", ["text", "pe", "calls", "short-last-chunk"])
def test_damaged_chunks_decode_to_the_chunk_size_or_raise_lzx_error(kind: str) -> None:
    original = SAMPLES[kind]
    packed = wimlib_lzx(original)
    assert packed is not None
    rng = random.Random(kind)
    for _ in range(60):
        size = rng.choice((len(original), len(original), rng.randint(1, 32768)))
        _decodes_or_refuses(_mutate(rng, packed), size)


def test_damaged_aligned_offset_chunks_decode_or_raise_lzx_error() -> None:
    rng = random.Random(8)
    records = b"".join(rng.randbytes(5) + b"\x00" * 3 for _ in range(2048))
    packed = wimlib_lzx(records, 100)
    assert packed is not None
    for _ in range(60):
        _decodes_or_refuses(_mutate(rng, packed), len(records))


def test_random_bytes_decode_or_raise_lzx_error() -> None:
    rng = random.Random(1)
    for _ in range(300):
        _decodes_or_refuses(rng.randbytes(rng.randint(0, 600)), rng.randint(1, 32768))


def test_random_bytes_behind_each_block_type_decode_or_raise_lzx_error() -> None:
    rng = random.Random(2)
    for btype in range(8):
        for _ in range(30):
            head = bytes([(btype << 5) | rng.randrange(32), rng.randrange(256)])
            # the first word is read most significant bit first: the type is in the second byte's top bits
            _decodes_or_refuses(head[::-1] + rng.randbytes(rng.randint(0, 300)), rng.randint(1, 4096))


def test_bit_flips_in_an_lzx_wim_become_problems_never_tracebacks(built: Built, tmp_path: Path) -> None:
    source = next(p for p in built("wim") if p.name == "install-lzx.wim")
    data = source.read_bytes()
    rng = random.Random(3)
    for n in range(12):
        buf = bytearray(data)
        for _ in range(16):
            i = rng.randrange(208, len(buf))  # keep the header: its damage is the WIM reader's own test
            buf[i] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flipped-{n}.wim"
        path.write_bytes(bytes(buf))
        inv = walk(path)  # never raises: every failure is a Problem
        assert all(p.reason for p in inv.problems)


def test_wim_chunks_never_decode_past_the_declared_size() -> None:
    data = fake_pe("bounded", 32768)
    packed = wimlib_lzx(data)
    assert packed is not None
    for size in (1, 100, 32767):
        try:
            out = lzx.decompress(packed, size)
        except lzx.LzxError:
            continue
        assert len(out) == size
