"""ReadWindow: small reads of a seekable stream, served from one window when they run forward."""

from __future__ import annotations

import io

from inspector.streams import ReadWindow


class _CountingBytes(io.BytesIO):
    """A BytesIO that counts its reads."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, n: int | None = -1) -> bytes:
        self.reads += 1
        return super().read(n)


_DATA = bytes(range(256)) * 64  # 16 KiB


def test_reads_give_the_bytes_at_their_offset() -> None:
    window = ReadWindow(io.BytesIO(_DATA), size=1024)
    for offset, n in ((0, 10), (10, 100), (5000, 7), (100, 3), (16000, 384)):
        assert window.read(offset, n) == _DATA[offset : offset + n]


def test_reads_running_forward_are_served_by_one_read_ahead() -> None:
    stream = _CountingBytes(_DATA)
    window = ReadWindow(stream, size=4096)
    for offset in range(0, 4000, 200):
        assert window.read(offset, 100) == _DATA[offset : offset + 100]
    assert stream.reads == 1


def test_a_read_far_from_the_last_one_reads_exactly_and_keeps_the_window() -> None:
    stream = _CountingBytes(_DATA)
    window = ReadWindow(stream, size=1024)
    window.read(0, 8)  # the window [0, 1024) is read
    assert window.read(12000, 4) == _DATA[12000:12004]
    assert window.read(100, 4) == _DATA[100:104]  # still in the window
    assert stream.reads == 2


def test_a_read_past_the_end_is_short() -> None:
    window = ReadWindow(io.BytesIO(b"abcdef"), size=4)
    assert window.read(4, 10) == b"ef"
    assert window.read(10, 2) == b""


def test_a_read_larger_than_the_window_is_whole() -> None:
    window = ReadWindow(io.BytesIO(_DATA), size=16)
    window.read(0, 1)
    assert window.read(1, 5000) == _DATA[1:5001]


def test_whole_gives_the_bytes_or_none_when_the_stream_ends_first() -> None:
    window = ReadWindow(io.BytesIO(b"abcdef"), size=4)
    assert window.whole(1, 3) == b"bcd"
    assert window.whole(4, 3) is None
