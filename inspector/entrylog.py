"""Where the walker puts entries as it finds them, in walk order (a container before its members).

A container's entry is only complete after its members have been walked, so the walker first
``reserve``s a slot for it and ``fill``s it later. ``freeze`` returns the entries in slot order as a
read-only sequence. This module is the one place that decides where entries live while and after an
image is walked (in memory today; spilled to disk past a threshold is the plan for very large images).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

from inspector.model import Entry


class EntryLog:
    """Collects a walk's entries in walk order; slots are reserved first and filled later."""

    def __init__(self) -> None:
        self._slots: list[Entry | None] = []

    def reserve(self) -> int:
        """Reserve the next slot (for an entry whose figures are known only after its members)."""
        self._slots.append(None)
        return len(self._slots) - 1

    def fill(self, slot: int, entry: Entry) -> None:
        """Put ``entry`` into a slot from ``reserve``."""
        self._slots[slot] = entry

    def freeze(self) -> Sequence[Entry]:
        """The filled entries in slot order (a slot never filled is skipped)."""
        return FrozenEntries(tuple(e for e in self._slots if e is not None))


class FrozenEntries(Sequence[Entry]):
    """A read-only sequence of entries, root first."""

    __slots__ = ("_entries",)

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        return self._entries[index]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)
