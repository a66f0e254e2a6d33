"""Pure-Python XPRESS (LZ77 + Huffman) decoder for one WIM chunk.

WIM files compressed with XPRESS store each chunk (32 KiB by default) as one independent block: a
256-byte table of 512 four-bit Huffman code lengths (literals 0-255, then match headers 256-511),
followed by a bitstream read as little-endian 16-bit words, most significant bit first. A match header
holds the match length (low 4 bits, escaped through extra bytes read straight from the input) and the
log2 of the offset (high 4 bits, followed by that many offset bits). This follows the layout used by
wimlib (``src/xpress_decompress.c``) and Microsoft's [MS-XCA] "LZ77+Huffman" description.

It is slow (pure Python, ~1 MB/s) but bounded: one chunk in, at most ``out_size`` bytes out.
"""

from __future__ import annotations

NUM_SYMBOLS = 512
TABLE_BITS = 15
MIN_MATCH = 3


class XpressError(ValueError):
    """The compressed chunk is not valid XPRESS data."""


def _decode_table(lens: list[int]) -> list[int]:
    """A full lookup table (2**15 entries) mapping the next 15 bits to ``symbol | length << 16``."""
    table = [-1] * (1 << TABLE_BITS)
    code = 0
    pos = 0
    for length in range(1, TABLE_BITS + 1):
        for sym in range(NUM_SYMBOLS):
            if lens[sym] != length:
                continue
            span = 1 << (TABLE_BITS - length)
            start = code << (TABLE_BITS - length)
            if start + span > len(table):
                raise XpressError("over-subscribed Huffman code")
            table[start : start + span] = [sym | (length << 16)] * span
            code += 1
            pos = start + span
        code <<= 1
    if pos == 0:
        raise XpressError("empty Huffman code")
    return table


def decompress(data: bytes, out_size: int) -> bytes:
    """Decode one XPRESS-compressed WIM chunk into exactly ``out_size`` bytes (``XpressError`` if bad)."""
    if len(data) < 256:
        raise XpressError("chunk shorter than its 256-byte Huffman table")
    lens = []
    for b in data[:256]:
        lens.append(b & 0x0F)
        lens.append(b >> 4)
    table = _decode_table(lens)
    out = bytearray()
    pos = 256
    end = len(data)
    bitbuf = 0
    bitsleft = 0

    while len(out) < out_size:
        # ensure 15 bits (one 16-bit word at most, as the reference decoder does)
        if bitsleft < TABLE_BITS:
            if end - pos >= 2:
                bitbuf = (bitbuf << 16) | data[pos] | (data[pos + 1] << 8)
                pos += 2
            else:
                bitbuf <<= 16  # past the end: zero bits
            bitsleft += 16
        entry = table[bitbuf >> (bitsleft - TABLE_BITS)]
        if entry < 0:
            raise XpressError("invalid Huffman codeword")
        sym = entry & 0xFFFF
        bitsleft -= entry >> 16
        bitbuf &= (1 << bitsleft) - 1
        if sym < 256:
            out.append(sym)
            continue
        sym -= 256
        length = sym & 0x0F
        log2_offset = sym >> 4
        if bitsleft < 16:
            if end - pos >= 2:
                bitbuf = (bitbuf << 16) | data[pos] | (data[pos + 1] << 8)
                pos += 2
            else:
                bitbuf <<= 16
            bitsleft += 16
        bitsleft -= log2_offset
        offset = (1 << log2_offset) | (bitbuf >> bitsleft)
        bitbuf &= (1 << bitsleft) - 1
        if length == 0x0F:
            extra = data[pos] if pos < end else 0
            pos += pos < end
            length += extra
            if length == 0x0F + 0xFF:
                length = (data[pos] | (data[pos + 1] << 8)) if end - pos >= 2 else 0
                pos += 2 if end - pos >= 2 else 0
        length += MIN_MATCH
        have = len(out)
        if offset > have:
            raise XpressError(f"match offset {offset} before the start of the chunk")
        if length > out_size - have:
            raise XpressError("match runs past the end of the chunk")
        start = have - offset
        if offset >= length:
            out += out[start : start + length]
        else:  # overlapping copy: repeat the period
            period = out[start:have]
            reps, rest = divmod(length, offset)
            out += period * reps + period[:rest]
    return bytes(out)
