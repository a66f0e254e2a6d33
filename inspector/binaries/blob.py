"""An executable's bytes, in memory or in a spool file, and the digests of its code and data sections."""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO

from inspector.binaries.model import DATA_CLASSES, BinaryInfo, Section, SectionClass


class Blob:
    """An executable's bytes, in memory or in a spool file: its size and reads at an offset."""

    def __init__(self, data: bytes | bytearray | memoryview | None = None, fh: BinaryIO | None = None,
                 size: int = 0) -> None:
        self._data = data
        self._fh = fh
        self.size = len(data) if data is not None else size

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the file)."""
        if offset >= self.size or n <= 0:
            return b""
        if self._data is not None:
            return bytes(self._data[offset : offset + n])
        assert self._fh is not None
        self._fh.seek(offset)
        return self._fh.read(min(n, self.size - offset))

    def feed(self, sink: Any, offset: int, n: int, chunk: int = 1 << 20) -> None:
        """Pass the ``n`` bytes at ``offset`` to ``sink.update`` (a hash): a view of memory, or bounded reads."""
        if self._data is not None:
            sink.update(memoryview(self._data)[offset : offset + n])
            return
        assert self._fh is not None
        n = min(n, self.size - offset)
        if n <= 0:
            return
        buf = memoryview(bytearray(min(chunk, n)))  # one buffer for every read of this extent
        self._fh.seek(offset)
        while n > 0:
            got = self._fh.readinto(buf[:min(len(buf), n)])  # type: ignore[attr-defined]
            if not got:
                return
            sink.update(buf[:got])
            n -= got


def binary_info(fmt: str, machine: str, sections: list[Section], blob: Blob) -> BinaryInfo:
    """The ``BinaryInfo`` of ``sections``, with the digests of their code and of their data bytes."""
    code, rest = hashlib.sha256(), hashlib.sha256()
    for s in sections:
        if s.klass is SectionClass.CODE:
            blob.feed(code, s.offset, s.file_size)
        elif s.klass in DATA_CLASSES:
            blob.feed(rest, s.offset, s.file_size)
    return BinaryInfo(format=fmt, machine=machine, sections=tuple(sections), code_sha256=code.hexdigest(),
                      data_sha256=rest.hexdigest())
