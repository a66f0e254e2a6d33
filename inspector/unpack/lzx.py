"""Pure-Python LZX decoder for one WIM chunk.

WIM files compressed with LZX store each chunk (32 KiB by default) as an independent LZX stream: the
window is the chunk itself, the Huffman code lengths start from zero and the repeated offsets R0/R1/R2
from 1 in every chunk, and there is no E8 header bit: the x86 ``CALL`` (E8) translation is always
undone afterwards, with the fixed "file size" 12,000,000. Everything else is LZX as Microsoft specifies it
([MS-PATCH] "LZX DELTA", which corrects the 1997 CAB document) and as wimlib reads it
(``src/lzx_decompress.c``, ``src/lzx_common.c``):

* the bitstream is little-endian 16-bit words, each read most significant bit first;
* a chunk is a sequence of blocks: 3-bit type (1 verbatim, 2 aligned offset, 3 uncompressed), then
  the block size (one bit set = 32768, else 16 bits, plus 8 more for windows of 64 KiB and up);
* aligned-offset blocks first give eight 3-bit lengths of the aligned-offset code; verbatim and aligned
  blocks then give the main code lengths (literals, then match headers) and the length code lengths,
  each list through a 20-symbol pretree whose 4-bit lengths are given plainly, with symbols 0-16 as a
  delta (mod 17) from the previous length, 17/18 as runs of zeros and 19 as a short run of one delta;
* a main symbol below 256 is a literal; above, it holds a 3-bit length header (7 = read the length code)
  and an offset slot: slots 0-2 reuse R0/R1/R2 (swapping the one used into R0), higher slots carry a base
  and extra bits (the low three of them through the aligned-offset code in aligned blocks), minus 2;
* an uncompressed block pads to the next 16-bit boundary (1 to 16 bits), stores R0, R1, R2 as 32-bit
  little-endian values and the raw bytes, plus one pad byte when the size is odd.

Speed (pure Python): the bitstream is turned into 64-bit big-endian words up front, the bit buffer is a
local int refilled 64 bits at a time (once per symbol at most, so a whole match reads without further
checks), and each Huffman code is a single flat table indexed by its longest codeword's worth of bits.

Bounded and hostile-safe: at most ``out_size`` bytes are produced, every symbol produces at least one
byte (so no loop can spin), and every failure is an ``LzxError`` (a ``FormatError``) with a plain reason.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from inspector.unpack.base import FormatError

#: Translation "file size" WIM uses for every chunk's E8 postprocessing.
WIM_E8_FILE_SIZE = 12_000_000
MIN_MATCH = 2
NUM_CHARS = 256
NUM_LEN_HEADERS = 8
NUM_PRIMARY_LENS = 7
LEN_SYMBOLS = 249
PRETREE_SYMBOLS = 20
ALIGNED_SYMBOLS = 8
DEFAULT_BLOCK_SIZE = 32768
MAX_CODEWORD_LEN = 16
BLOCK_VERBATIM, BLOCK_ALIGNED, BLOCK_UNCOMPRESSED = 1, 2, 3
MIN_WINDOW_ORDER, MAX_WINDOW_ORDER = 15, 21


def _slot_tables() -> tuple[list[int], list[int]]:
    """Offset slot bases and extra-bit counts (slots 0-49): bases double every two slots, capped at 17 bits."""
    extra = [min(max(i // 2 - 1, 0), 17) for i in range(50)]
    base = [0]
    for i in range(50):
        base.append(base[-1] + (1 << extra[i]))
    return base, extra


SLOT_BASE, SLOT_EXTRA = _slot_tables()


class LzxError(FormatError):
    """The compressed chunk is not valid LZX data."""


def window_order(chunk_size: int) -> int:
    """log2 of the LZX window for a WIM chunk size (15 for the standard 32 KiB chunks)."""
    if chunk_size <= 0 or chunk_size > 1 << MAX_WINDOW_ORDER:
        raise LzxError(f"chunk size {chunk_size} is outside what LZX windows allow (1..{1 << MAX_WINDOW_ORDER})")
    return max((chunk_size - 1).bit_length(), MIN_WINDOW_ORDER)


def num_main_symbols(order: int) -> int:
    """Literals plus 8 length headers per offset slot the window needs (496 for a 32 KiB window)."""
    max_adjusted_offset = (1 << order) - MIN_MATCH - 1 + 2
    slots = 30
    while max_adjusted_offset >= SLOT_BASE[slots]:
        slots += 1
    return NUM_CHARS + slots * NUM_LEN_HEADERS


def build_table(lens: Sequence[int], what: str) -> tuple[list[int], int]:
    """A flat decode table for the canonical code with these lengths, and its index width in bits.

    Entry ``i`` is ``symbol << 5 | codeword length`` for every ``i`` whose top bits are that codeword.
    An all-zero code is allowed (LZX uses it for unused trees) and decodes symbol 0 from no bits, as
    wimlib does; any other code must fill the code space exactly.
    """
    width = max(lens, default=0)
    if width == 0:
        return [0], 0
    if width > MAX_CODEWORD_LEN:
        raise LzxError(f"{what} code has a {width}-bit codeword (at most {MAX_CODEWORD_LEN})")
    space = 0
    for n in lens:
        if n:
            space += 1 << (width - n)
    if space != 1 << width:
        raise LzxError(f"{what} code is {'over-subscribed' if space > 1 << width else 'incomplete'}")
    table = [0] * (1 << width)
    pos = 0
    for sym in sorted((s for s in range(len(lens)) if lens[s]), key=lens.__getitem__):
        n = lens[sym]
        span = 1 << (width - n)
        table[pos : pos + span] = [sym << 5 | n] * span
        pos += span
    return table, width


def _words64(data: bytes) -> tuple[list[int], int]:
    """The bitstream as overlapping 64-bit values, one per 16-bit word position, and the word count.

    ``q[k]`` holds words ``k..k+3`` (each little-endian in the input) most significant first, so a refill
    at any word position is one list lookup. A few zero words follow the real ones for lookahead.
    """
    nw = len(data) // 2
    count = (nw + 8) // 4 * 4 + 4  # entries per residue class times 4, beyond the last real word
    swapped = bytearray(2 * (count + 3))
    swapped[0 : 2 * nw : 2] = data[1 : 2 * nw : 2]
    swapped[1 : 2 * nw : 2] = data[0 : 2 * nw : 2]
    q = [0] * count
    per = count // 4
    for k in range(4):
        q[k::4] = struct.unpack_from(f">{per}Q", swapped, 2 * k)
    return q, nw


class _Bits:
    """Bit reader for headers and code lengths; the block decoder copies its state into locals."""

    __slots__ = ("q", "limit", "buf", "n", "wi")

    def __init__(self, q: list[int], limit: int) -> None:
        self.q = q
        self.limit = limit  # bits of real input
        self.buf = 0
        self.n = 0
        self.wi = 0

    def read(self, count: int) -> int:
        """The next ``count`` (<= 32) bits as an unsigned number."""
        if self.n < count:
            self.buf = ((self.buf & ((1 << self.n) - 1)) << 64) | self.q[self.wi]
            self.wi += 4
            self.n += 64
        self.n -= count
        return (self.buf >> self.n) & ((1 << count) - 1)

    def symbol(self, table: list[int], width: int) -> int:
        """The next symbol of a code from its flat table."""
        if self.n < 32:
            self.buf = ((self.buf & ((1 << self.n) - 1)) << 64) | self.q[self.wi]
            self.wi += 4
            self.n += 64
        e = table[(self.buf >> (self.n - width)) & ((1 << width) - 1)]
        self.n -= e & 31
        return e >> 5

    @property
    def position(self) -> int:
        """Bits consumed so far."""
        return self.wi * 16 - self.n

    def check(self) -> None:
        """Refuse a stream that was read past its end (the reader supplies zero bits there)."""
        if self.wi * 16 - self.n > self.limit:
            raise LzxError("compressed data ends before the chunk is complete")

    def seek_word(self, word: int) -> None:
        """Resume the bitstream at a 16-bit word boundary (after an uncompressed block)."""
        self.buf, self.n, self.wi = 0, 0, word


def _read_lengths(bits: _Bits, lens: list[int], start: int, stop: int, what: str) -> None:
    """Update ``lens[start:stop]`` in place from a pretree and its delta/run-coded symbols."""
    pre = [bits.read(4) for _ in range(PRETREE_SYMBOLS)]
    bits.check()
    table, width = build_table(pre, f"{what} pretree")
    i = start
    while i < stop:
        sym = bits.symbol(table, width)
        if sym < 17:
            lens[i] = (lens[i] - sym) % 17
            i += 1
            continue
        if sym == 17:
            run, value = 4 + bits.read(4), 0
        elif sym == 18:
            run, value = 20 + bits.read(5), 0
        else:
            run = 4 + bits.read(1)
            sym = bits.symbol(table, width)
            if sym > 17:
                raise LzxError(f"{what} pretree: run of lengths with delta symbol {sym}")
            value = (lens[i] - sym) % 17
        end = min(i + run, stop)  # runs past the end are ignored, as in wimlib and libmspack
        lens[i:end] = [value] * (end - i)
        i = end


def _undo_e8(out: bytearray) -> None:
    """Turn absolute CALL targets back into relative ones (WIM: always on, file size 12,000,000)."""
    size = len(out)
    if size <= 10:
        return
    limit = size - 10
    i = out.find(0xE8, 0, limit)
    while i >= 0:
        target = int.from_bytes(out[i + 1 : i + 5], "little", signed=True)
        if 0 <= target < WIM_E8_FILE_SIZE:
            out[i + 1 : i + 5] = (target - i).to_bytes(4, "little", signed=True)
        elif -i <= target < 0:
            out[i + 1 : i + 5] = (target + WIM_E8_FILE_SIZE).to_bytes(4, "little", signed=True)
        i = out.find(0xE8, i + 5, limit)


def decompress(data: bytes, out_size: int, chunk_size: int = DEFAULT_BLOCK_SIZE) -> bytes:
    """Decode one LZX-compressed WIM chunk into exactly ``out_size`` bytes (``LzxError`` if it is not valid).

    ``chunk_size`` is the WIM's chunk size (header ``CompressionSize``); it sets the window and so the
    number of offset slots. ``out_size`` (at most ``chunk_size``) is this chunk's decoded size.
    """
    order = window_order(chunk_size)
    if not 0 < out_size <= 1 << order:
        raise LzxError(f"chunk of {out_size} bytes does not fit a {1 << order}-byte LZX window")
    try:
        out = _decode(data, out_size, order)
    except IndexError:
        raise LzxError("compressed data ends before the chunk is complete") from None
    _undo_e8(out)
    return bytes(out)


def _decode(data: bytes, out_size: int, order: int) -> bytearray:
    q, nw = _words64(data)
    bits = _Bits(q, 16 * nw + 8 * (len(data) & 1))  # a trailing odd byte only counts for stored blocks
    nmain = num_main_symbols(order)
    main_lens = [0] * nmain
    len_lens = [0] * LEN_SYMBOLS
    recent = [1, 1, 1]
    out = bytearray()
    while len(out) < out_size:
        btype = bits.read(3)
        size = DEFAULT_BLOCK_SIZE if bits.read(1) else bits.read(16)
        if order >= 16 and size != DEFAULT_BLOCK_SIZE:
            size = size << 8 | bits.read(8)
        bits.check()
        if btype not in (BLOCK_VERBATIM, BLOCK_ALIGNED, BLOCK_UNCOMPRESSED):
            raise LzxError(f"block type {btype} at output offset {len(out)} is not verbatim, aligned or "
                           "uncompressed")
        if size == 0 or size > out_size - len(out):
            raise LzxError(f"block of {size} bytes at output offset {len(out)} does not fit the {out_size}-byte "
                           "chunk")
        if btype == BLOCK_UNCOMPRESSED:
            _uncompressed_block(bits, data, out, size, recent)
            continue
        aligned = None
        if btype == BLOCK_ALIGNED:
            aligned = build_table([bits.read(3) for _ in range(ALIGNED_SYMBOLS)], "aligned offset")
            bits.check()
        _read_lengths(bits, main_lens, 0, NUM_CHARS, "main")
        _read_lengths(bits, main_lens, NUM_CHARS, nmain, "main")
        main = build_table(main_lens, "main")
        _read_lengths(bits, len_lens, 0, LEN_SYMBOLS, "length")
        length = build_table(len_lens, "length")
        _compressed_block(bits, out, len(out) + size, main, length, aligned, recent)
    bits.check()
    return out


def _uncompressed_block(bits: _Bits, data: bytes, out: bytearray, size: int, recent: list[int]) -> None:
    """Copy a stored block: pad to a 16-bit boundary (1-16 bits), R0-R2, the bytes, a pad byte if odd."""
    start = (bits.position // 16 + 1) * 2  # byte offset of the next word boundary, never the current one
    if start + 12 + size > len(data):
        raise LzxError(f"uncompressed block of {size} bytes runs past the end of the compressed data")
    r = struct.unpack_from("<3I", data, start)
    if 0 in r:
        raise LzxError("uncompressed block sets a repeated offset to 0")
    recent[:] = r
    out += data[start + 12 : start + 12 + size]
    end = start + 12 + size + (size & 1)
    bits.seek_word((end + 1) // 2)


def _compressed_block(bits: _Bits, out: bytearray, end: int, main: tuple[list[int], int],
                      length: tuple[list[int], int], aligned: tuple[list[int], int] | None,
                      recent: list[int]) -> None:
    """Decode one verbatim or aligned-offset block up to output offset ``end`` (the hot loop)."""
    mtab, mw = main
    mmask = (1 << mw) - 1
    ltab, lw = length
    lmask = (1 << lw) - 1
    atab, aw = aligned if aligned is not None else ([0], 0)
    amask = (1 << aw) - 1
    min_aligned = 3 if aligned is not None else 99
    bases, extras = SLOT_BASE, SLOT_EXTRA
    q, limit = bits.q, bits.limit
    buf, n, wi = bits.buf, bits.n, bits.wi
    r0, r1, r2 = recent
    pos = len(out)
    append = out.append
    while pos < end:
        if n < 64:  # 64+ bits cover a main symbol, a length symbol and the longest offset
            if wi * 16 - n > limit:
                raise LzxError("compressed data ends before the chunk is complete")
            buf = ((buf & ((1 << n) - 1)) << 64) | q[wi]
            wi += 4
            n += 64
        e = mtab[(buf >> (n - mw)) & mmask]
        n -= e & 31
        sym = e >> 5
        if sym < NUM_CHARS:
            append(sym)
            pos += 1
            continue
        sym -= NUM_CHARS
        ln = sym & 7
        slot = sym >> 3
        if ln == NUM_PRIMARY_LENS:
            e = ltab[(buf >> (n - lw)) & lmask]
            n -= e & 31
            ln += e >> 5
        ln += MIN_MATCH
        if slot < 3:
            if slot == 0:
                off = r0
            elif slot == 1:
                off, r1 = r1, r0
                r0 = off
            else:
                off, r2 = r2, r0
                r0 = off
        else:
            nb = extras[slot]
            off = bases[slot] - 2
            if nb >= min_aligned:
                nb -= 3
                n -= nb
                off += ((buf >> n) & ((1 << nb) - 1)) << 3
                e = atab[(buf >> (n - aw)) & amask]
                n -= e & 31
                off += e >> 5
            else:
                n -= nb
                off += (buf >> n) & ((1 << nb) - 1)
            r2, r1, r0 = r1, r0, off
        if ln > end - pos:
            raise LzxError(f"match of {ln} bytes at output offset {pos} runs past the end of its block")
        if off > pos or off <= 0:
            raise LzxError(f"match offset {off} at output offset {pos} points before the start of the chunk")
        start = pos - off
        if off >= ln:
            out += out[start : start + ln]
        else:  # overlapping copy: repeat the last ``off`` bytes
            reps, rest = divmod(ln, off)
            piece = out[start:pos]
            out += piece * reps + piece[:rest]
        pos += ln
    bits.buf, bits.n, bits.wi = buf, n, wi
    bits.check()
    recent[:] = (r0, r1, r2)
