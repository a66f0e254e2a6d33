"""LZX chunk decoder: wimlib's own compressor as the oracle, hand-made streams for what it never writes."""

from __future__ import annotations

import ctypes
import ctypes.util
import random
from collections.abc import Iterator

import pytest

from fixtures.microsoft import fake_pe
from inspector.unpack import lzx
from inspector.unpack.base import FormatError


# -- oracle: libwim's LZX compressor (wimlib_create_compressor / wimlib_compress) ---------------------
def _libwim() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("wim")
    for candidate in (name, "libwim.so.15"):
        if candidate:
            try:
                return ctypes.CDLL(candidate)
            except OSError:
                continue
    return None


def wimlib_lzx(data: bytes, level: int = 50, chunk: int = 32768) -> bytes | None:
    """``data`` compressed as one WIM LZX chunk by libwim (``None`` when it does not shrink)."""
    lib = _libwim()
    if lib is None:
        pytest.skip("needs libwim (Debian wimtools)")
    lib.wimlib_create_compressor.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_uint,
                                             ctypes.POINTER(ctypes.c_void_p)]
    lib.wimlib_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.c_void_p]
    lib.wimlib_compress.restype = ctypes.c_size_t
    lib.wimlib_free_compressor.argtypes = [ctypes.c_void_p]
    comp = ctypes.c_void_p()
    assert lib.wimlib_create_compressor(2, chunk, level, ctypes.byref(comp)) == 0  # 2 = LZX
    try:
        out = ctypes.create_string_buffer(len(data))
        n = lib.wimlib_compress(data, len(data), out, len(data) - 1, comp)
    finally:
        lib.wimlib_free_compressor(comp)
    return out.raw[:n] if n else None


def _text(seed: int, n: int) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"etaoinshrdlu") for _ in range(rng.randint(1, 9))) for _ in range(400)]
    return b" ".join(rng.choice(words) for _ in range(n // 3))[:n]


def _calls(seed: int, n: int) -> bytes:
    """x86-ish code: many E8 (CALL) opcodes with plausible relative targets, the E8 filter's business."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += bytes(rng.choice((b"\x55", b"\x48\x89\xe5", b"\x90", b"\xc3", b"\x8b\x45\xfc")))
        out += b"\xe8" + rng.randint(-20000, 20000).to_bytes(4, "little", signed=True)
    return bytes(out[:n])


SAMPLES = {
    "text": _text(1, 32768),
    "pe": fake_pe("lzx", 32768),
    "calls": _calls(2, 32768),
    "run": b"A" * 32768,
    "ramp": bytes(range(256)) * 128,
    "short-last-chunk": _text(3, 5000),
    "tiny": b"abc" * 30,
}


@pytest.mark.parametrize("level", [1, 50, 100])
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_chunk_compressed_by_wimlib_decodes_to_the_original(kind: str, level: int) -> None:
    data = SAMPLES[kind]
    packed = wimlib_lzx(data, level)
    assert packed is not None and len(packed) < len(data)
    assert lzx.decompress(packed, len(data)) == data


def _block_types(packed: bytes, size: int) -> Iterator[int]:
    """Types of the blocks the decoder reads from ``packed`` (spying on its block dispatch)."""
    seen: list[int] = []
    real = lzx._compressed_block

    def spy(bits, out, end, main, length, aligned, recent):  # noqa: ANN001, ANN202
        seen.append(lzx.BLOCK_ALIGNED if aligned is not None else lzx.BLOCK_VERBATIM)
        return real(bits, out, end, main, length, aligned, recent)

    lzx._compressed_block = spy
    try:
        lzx.decompress(packed, size)
    finally:
        lzx._compressed_block = real
    yield from seen


def test_wimlib_writes_both_verbatim_and_aligned_offset_blocks_and_both_decode() -> None:
    rng = random.Random(8)
    records = b"".join(rng.randbytes(5) + b"\x00" * 3 for _ in range(4096))  # 8-byte records: aligned offsets
    types = set()
    for data in (fake_pe("verbatim", 32768), records):
        packed = wimlib_lzx(data, 100)
        assert packed is not None
        types.update(_block_types(packed, len(data)))
        assert lzx.decompress(packed, len(data)) == data
    assert types == {lzx.BLOCK_VERBATIM, lzx.BLOCK_ALIGNED}


def test_larger_wimlib_chunk_sizes_use_a_larger_window() -> None:
    data = (_text(5, 40000) + fake_pe("big", 20000)) * 2
    packed = wimlib_lzx(data, 50, chunk=1 << 17)
    assert packed is not None
    assert lzx.decompress(packed, len(data), chunk_size=1 << 17) == data


# -- hand-made streams: the format pieces wimlib's compressor never emits -------------------------------
#: A complete 20-symbol pretree: symbols 0-11 get 4-bit codes 0-11, symbols 12-19 5-bit codes 24-31.
PRETREE = [4] * 12 + [5] * 8


def _canonical(lens: list[int]) -> dict[int, tuple[int, int]]:
    codes, code = {}, 0
    for n in range(1, 17):
        for sym, ln in enumerate(lens):
            if ln == n:
                codes[sym] = (code, n)
                code += 1
        code <<= 1
    return codes


class Writer:
    """An LZX bitstream: 16-bit little-endian words filled most significant bit first, plus raw bytes."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.acc: list[int] = []

    def bits(self, value: int, n: int) -> None:
        self.acc += [(value >> i) & 1 for i in reversed(range(n))]

    def _flush(self) -> None:
        for i in range(0, len(self.acc), 16):
            word = int("".join(map(str, self.acc[i : i + 16])), 2)
            self.data += word.to_bytes(2, "little")
        self.acc = []

    def pad_to_word(self) -> int:
        """The uncompressed-block padding: 1 to 16 zero bits, 16 when already at a word boundary."""
        pad = 16 - len(self.acc) % 16
        self.bits(0, pad)
        self._flush()
        return pad

    def raw(self, data: bytes) -> None:
        assert not self.acc
        self.data += data

    def finish(self) -> bytes:
        self.bits(0, -len(self.acc) % 16)
        self._flush()
        return bytes(self.data)


def _lengths(w: Writer, old: list[int], new: list[int], zero_groups: int = 0) -> None:
    """Pretree, then one delta symbol per length (``zero_groups`` runs of four zeros via symbol 19)."""
    pre = _canonical(PRETREE)
    for n in PRETREE:
        w.bits(n, 4)
    i = 0
    while i < len(new):
        if zero_groups and not any(old[i : i + 4]) and not any(new[i : i + 4]) and i + 4 <= len(new):
            w.bits(*pre[19])
            w.bits(0, 1)  # run of 4
            w.bits(*pre[0])
            zero_groups -= 1
            i += 4
            continue
        w.bits(*pre[(old[i] - new[i]) % 17])
        i += 1


LITERALS = [8] * 256 + [0] * 240
#: Literals 0-253 (8 bits), 254, 255, "R0 length 3" (257) and "offset 1 length 3" (281) (9 bits each).
WITH_MATCHES = [8] * 254 + [9, 9] + [0] + [9] + [0] * 23 + [9] + [0] * 214
R0_LEN3, OFF1_LEN3 = 257, 256 + 3 * 8 + 1


class Chunk:
    """Builds one chunk block by block, keeping the code lengths the decoder will keep."""

    def __init__(self) -> None:
        self.w = Writer()
        self.main = [0] * 496
        self.length = [0] * 249

    def header(self, btype: int, size: int) -> None:
        self.w.bits(btype, 3)
        if size == 32768:
            self.w.bits(1, 1)
        else:
            self.w.bits(0, 1)
            self.w.bits(size, 16)

    def verbatim(self, main: list[int], symbols: list[int], size: int, zero_groups: int = 0) -> None:
        self.header(lzx.BLOCK_VERBATIM, size)
        _lengths(self.w, self.main[:256], main[:256])
        _lengths(self.w, self.main[256:], main[256:])
        _lengths(self.w, self.length, [0] * 249, zero_groups)
        self.main = list(main)
        codes = _canonical(main)
        for sym in symbols:
            self.w.bits(*codes[sym])

    def uncompressed(self, data: bytes, recent: tuple[int, int, int] = (1, 1, 1)) -> int:
        self.header(lzx.BLOCK_UNCOMPRESSED, len(data))
        pad = self.w.pad_to_word()
        self.w.raw(b"".join(r.to_bytes(4, "little") for r in recent) + data + b"\x00" * (len(data) & 1))
        return pad


def test_hand_made_verbatim_block_of_literals_decodes() -> None:
    c = Chunk()
    c.verbatim(LITERALS, list(b"hello, world"), 12)
    assert lzx.decompress(c.w.finish(), 12) == b"hello, world"


def test_explicit_offset_match_may_overlap_what_it_copies_and_r0_repeats_it() -> None:
    c = Chunk()
    c.verbatim(WITH_MATCHES, [ord("a"), ord("b"), OFF1_LEN3, R0_LEN3], 8)
    assert lzx.decompress(c.w.finish(), 8) == b"abbbbbbb"


def test_uncompressed_block_after_a_mid_word_header_pads_to_the_next_word() -> None:
    c = Chunk()
    assert c.uncompressed(b"stored!") == 12  # 3 type bits + 1 size flag... + 16 size bits = 20 bits
    assert lzx.decompress(c.w.finish(), 7) == b"stored!"


def test_uncompressed_block_whose_header_ends_on_a_word_boundary_skips_a_whole_word() -> None:
    # [MS-PATCH] 2.3.2.1: "1 to 16 bits of zero padding": 16 when the header already ends word-aligned
    for groups in range(0, 40):
        c = Chunk()
        c.verbatim(LITERALS, list(b"abcd"), 4, zero_groups=groups)
        if (len(c.w.acc) + 20) % 16 == 0:
            break
    else:
        raise AssertionError("no zero-group count aligns the next header")
    assert c.uncompressed(b"xyz") == 16
    assert lzx.decompress(c.w.finish(), 7) == b"abcdxyz"


def test_repeated_offsets_stored_in_an_uncompressed_block_carry_into_the_next_block() -> None:
    c = Chunk()
    c.uncompressed(b"xyz", recent=(2, 7, 9))
    c.verbatim(WITH_MATCHES, [R0_LEN3], 3)
    assert lzx.decompress(c.w.finish(), 6) == b"xyzyzy"


def test_code_lengths_carry_over_between_blocks_as_deltas() -> None:
    c = Chunk()
    c.verbatim(LITERALS, list(b"one "), 4)
    c.verbatim(LITERALS, list(b"two"), 3)  # every delta symbol 0: lengths unchanged
    assert lzx.decompress(c.w.finish(), 7) == b"one two"


# -- E8 (x86 CALL) translation, WIM flavour: file size 12,000,000, never in the last 10 bytes -----------
def _call(target: int) -> bytes:
    return b"\xe8" + target.to_bytes(4, "little", signed=True)


def test_e8_absolute_targets_become_relative_to_the_call_position() -> None:
    buf = bytearray(b"\x90" * 3 + _call(1000) + b"\x90" * 20)
    lzx._undo_e8(buf)
    assert buf[3:8] == _call(1000 - 3)


def test_e8_negative_targets_within_the_chunk_are_compensated_by_the_file_size() -> None:
    buf = bytearray(b"\x90" * 8 + _call(-5) + b"\x90" * 20)
    lzx._undo_e8(buf)
    assert buf[8:13] == _call(-5 + 12_000_000)


def test_e8_targets_out_of_range_are_left_alone() -> None:
    buf = bytearray(b"\x90" * 8 + _call(12_000_000) + _call(-9) + b"\x90" * 20)  # second call at 13
    lzx._undo_e8(buf)
    assert buf[8:13] == _call(12_000_000)
    assert buf[13:18] == _call(-9 + 12_000_000)
    far = bytearray(b"\x90" * 8 + _call(-9) + b"\x90" * 20)  # position 8: -9 reaches before the chunk
    lzx._undo_e8(far)
    assert far[8:13] == _call(-9)


def test_e8_in_the_last_ten_bytes_and_inside_a_translated_target_is_not_translated() -> None:
    tail = bytearray(b"\x90" * 20 + _call(100) + b"\x90" * 5)  # call starts 10 bytes before the end
    lzx._undo_e8(tail)
    assert tail[20:25] == _call(100)
    inner = bytearray(b"\x90" + _call(0xE9) + b"\x00" * 20)  # becomes E8 00 00 00: not a call of its own
    lzx._undo_e8(inner)
    assert inner == b"\x90" + _call(0xE8) + b"\x00" * 20


# -- invalid input: always an LzxError (a FormatError), with a reason --------------------------------
def _fails(data: bytes, size: int, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        lzx.decompress(data, size)


def test_block_type_zero_is_refused() -> None:
    c = Chunk()
    c.header(0, 10)
    _fails(c.w.finish(), 10, "block type 0")


def test_block_larger_than_the_chunk_is_refused() -> None:
    c = Chunk()
    c.verbatim(LITERALS, list(b"abcdef"), 6)
    _fails(c.w.finish(), 5, "does not fit the 5-byte chunk")


def test_match_reaching_before_the_chunk_start_is_refused() -> None:
    c = Chunk()
    c.verbatim(WITH_MATCHES, [OFF1_LEN3], 3)
    _fails(c.w.finish(), 3, "before the start of the chunk")


def test_match_running_past_its_block_is_refused() -> None:
    c = Chunk()
    c.verbatim(WITH_MATCHES, [ord("a"), OFF1_LEN3], 2)
    _fails(c.w.finish(), 2, "runs past the end of its block")


def test_over_subscribed_and_incomplete_codes_are_refused() -> None:
    with pytest.raises(lzx.LzxError, match="over-subscribed"):
        lzx.build_table([1, 1, 1], "test")
    with pytest.raises(lzx.LzxError, match="incomplete"):
        lzx.build_table([1, 2, 0], "test")
    assert lzx.build_table([0, 0, 0], "test") == ([0], 0)  # empty codes are legal (unused trees)


def test_truncated_chunk_is_refused_rather_than_padded_with_zeros() -> None:
    data = SAMPLES["text"]
    packed = wimlib_lzx(data)
    assert packed is not None
    for cut in (0, 1, 2, 40, len(packed) // 2, len(packed) - 2):
        _fails(packed[:cut], len(data), "ends before the chunk is complete")


def test_uncompressed_block_with_a_zero_repeated_offset_is_refused() -> None:
    c = Chunk()
    c.uncompressed(b"abc", recent=(0, 1, 1))
    _fails(c.w.finish(), 3, "repeated offset to 0")


def test_output_size_outside_the_window_is_refused() -> None:
    _fails(b"\x00" * 8, 40000, "does not fit a 32768-byte LZX window")
    _fails(b"\x00" * 8, 0, "does not fit")
