"""The names one container's members have had so far: exact answers, in memory that stops growing by the name.

Two checks ask, for every member, whether its name came before in the same container: the walker's
duplicate-name warning and tar's hard-link check (a link must name an earlier member). A Python set of
str costs about 130 bytes a name (the string and its slot); a tar of millions of members made that the
one part of a walk's memory that still grew with the number of entries.

The walker and the tar reader keep a plain set (C-speed, as before) until it holds ``EXACT_NAMES``
names; ``bounded`` then hands it to a ``SeenNames``, which appends each further name to an unlinked
temporary file and keeps only its hash and the offset of its record, in two ``array``s under an
open-addressing table of 4-byte indices (at most half full): 24 to 32 bytes a name, no Python object per
name. Equal hashes are confirmed by reading the earlier name back, so every answer stays exact: a hash
collision costs one read, never a wrong "duplicate". The table is probed in Python (about 2.5 us a name
against a set's 0.1 us), which is why it starts only where a set's memory starts to matter.
"""

from __future__ import annotations

import struct
import tempfile
from array import array
from typing import IO

#: Names held as a plain set before the rest go to the compact table (small containers never touch disk).
EXACT_NAMES = 1_000_000
#: Pending name records written to the file at once.
_WRITE_BATCH = 1 << 20
_LENGTH = struct.Struct("<I")


class SeenNames:
    """Member names seen so far in one container; ``remember`` says whether a name is new.

    ``exact`` names (``EXACT_NAMES`` by default) are held as a set: ``holding``, when a caller that kept a
    plain set (C-speed for the many containers that never get there) hands it over (``bounded``). Further
    names go to a file in the system's temporary directory, unlinked at once (as the entry log's) and
    closed by ``close``.
    """

    __slots__ = ("_exact", "_limit", "_slots", "_keys", "_offsets", "_mask", "_file", "_written", "_pending")

    def __init__(self, exact: int | None = None, holding: set[str] | None = None) -> None:
        self._exact: set[str] = set() if holding is None else holding
        self._limit = max(0, EXACT_NAMES if exact is None else exact)
        #: Past ``_limit``, name number n (in the order remembered) has hash ``_keys[n]`` and its record at
        #: ``_offsets[n]`` in the file (4-byte length, then UTF-8 with surrogates kept); ``_slots`` is the
        #: open-addressing table over them: n + 1 per used slot, 0 when free, at most half full.
        self._slots: array[int] | None = None
        self._keys = array("q")
        self._offsets = array("q")
        self._mask = 0
        self._file: IO[bytes] | None = None
        self._written = 0  # bytes in the file; records after it are still in ``_pending``
        self._pending = bytearray()

    def __len__(self) -> int:
        return len(self._exact) + len(self._keys)

    def __contains__(self, name: str) -> bool:
        if name in self._exact:
            return True
        return self._slots is not None and self._slot(name, _key(name))[1]

    def remember(self, name: str) -> bool:
        """Remember ``name``; True when it was seen before (a duplicate)."""
        exact = self._exact
        if name in exact:
            return True
        if len(exact) < self._limit:
            exact.add(name)
            return False
        if self._slots is None:
            self._grow(1024)
        key = _key(name)
        slot, found = self._slot(name, key)
        if found:
            return True
        assert self._slots is not None
        self._keys.append(key)
        self._offsets.append(self._append(name))
        self._slots[slot] = len(self._keys)
        if 2 * len(self._keys) > self._mask + 1:
            self._grow(2 * (self._mask + 1))
        return False

    #: ``set.add``'s name, for the readers that only remember (tar's hard-link check).
    add = remember

    def close(self) -> None:
        """Drop everything held (the spill file included)."""
        self._exact = set()
        self._slots = None
        self._keys = array("q")
        self._offsets = array("q")
        self._pending = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- the compact table ------------------------------------------------------------------------
    def _slot(self, name: str, key: int) -> tuple[int, bool]:
        """Where ``name`` is in the table (found) or would go (not found): linear probing from its hash."""
        slots = self._slots
        assert slots is not None
        keys = self._keys
        mask = self._mask
        i = key & mask
        while True:
            n = slots[i]
            if not n:
                return i, False
            if keys[n - 1] == key and self._name_at(self._offsets[n - 1]) == name:
                return i, True
            i = (i + 1) & mask

    def _grow(self, size: int) -> None:
        """A table of ``size`` slots (a power of two) over every name remembered so far."""
        wide = size >= (1 << 31)  # 4-byte indices up to two billion names
        slots = array("q" if wide else "i", bytes((8 if wide else 4) * size))
        mask = size - 1
        for n, key in enumerate(self._keys, 1):
            i = key & mask
            while slots[i]:
                i = (i + 1) & mask
            slots[i] = n
        self._slots, self._mask = slots, mask

    def _append(self, name: str) -> int:
        """Write ``name``'s record (buffered); its offset in the file."""
        raw = name.encode("utf-8", "surrogatepass")
        offset = self._written + len(self._pending)
        self._pending += _LENGTH.pack(len(raw))
        self._pending += raw
        if len(self._pending) >= _WRITE_BATCH:
            self._flush()
        return offset

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="inspector-names-")  # noqa: SIM115
        self._file.seek(self._written)
        self._file.write(self._pending)
        self._written += len(self._pending)
        self._pending.clear()

    def _name_at(self, offset: int) -> str:
        """The name whose record starts at ``offset`` (from the pending buffer or the file)."""
        if offset >= self._written:
            at = offset - self._written
            (n,) = _LENGTH.unpack_from(self._pending, at)
            raw = bytes(self._pending[at + 4 : at + 4 + n])
        else:
            assert self._file is not None
            self._file.seek(offset)
            (n,) = _LENGTH.unpack(self._file.read(4))
            raw = self._file.read(n)
        return raw.decode("utf-8", "surrogatepass")


def bounded(names: set[str] | SeenNames) -> set[str] | SeenNames:
    """``names`` while it is a set of fewer than ``EXACT_NAMES``; past that, a ``SeenNames`` holding it.

    The hot loops (the walker's duplicate check, tar's hard-link check) remember names in a plain set and
    ask this after each one: from ``EXACT_NAMES`` names on, memory then grows by about 30 bytes a name
    instead of about 130.
    """
    if len(names) >= EXACT_NAMES and type(names) is set:
        return SeenNames(holding=names)
    return names


def _key(name: str) -> int:
    """The table key of ``name``: its str hash (computed once and cached by Python)."""
    return hash(name)


__all__ = ["EXACT_NAMES", "SeenNames", "bounded"]
