"""Structural checks against hostile containers that no single member read would notice.

A ZIP's central directory may list many entries whose local data overlap (David Fifield's "better zip
bomb": every entry reuses one highly compressed kernel, so a 46 MB file expands to 4.5 PB while each
member on its own looks ordinary). Honest writers lay local records out one after another, so any
overlap is refused before a single member is decompressed.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Iterable, Iterator

#: Fixed part of a ZIP local file header (APPNOTE 4.3.7), before the name and extra field.
ZIP_LOCAL_HEADER = 30
#: Entries sorted at a time when the directory is out of order (the sorted runs are then merged).
_RUN = 1 << 16
_MAX_Q = (1 << 64) - 1


def zip_span(offset: int, name_length: int, compressed_size: int) -> tuple[int, int]:
    """The bytes an entry occupies at least: ``[offset, offset + 30 + name + compressed size)``.

    The local extra field and a data descriptor only make it longer, so this lower bound never reports
    an overlap that is not there.
    """
    return offset, offset + ZIP_LOCAL_HEADER + name_length + compressed_size


def zip_overlap(spans: Callable[[], Iterable[tuple[int, int]]]) -> tuple[int, int] | None:
    """The indices ``(earlier, later)`` of the first two entries whose spans overlap, or None.

    ``spans`` returns the entries' ``(start, end)`` in directory order, afresh on each call (a pass over
    the central directory), so no entry is held: honest writers store entries in ascending order, and one
    pass comparing each start with the previous end settles it in constant memory. Only a directory out
    of order is read a second time into two compact ``array('Q')`` and sorted in bounded runs.
    """
    prev_start = prev_end = -1
    prev = -1
    for n, (start, end) in enumerate(spans()):
        if start < prev_start:
            return _overlap_out_of_order(spans)
        if start < prev_end:
            return prev, n
        prev_start, prev_end, prev = start, end, n
    return None


def _overlap_out_of_order(spans: Callable[[], Iterable[tuple[int, int]]]) -> tuple[int, int] | None:
    """``zip_overlap`` for a directory whose entries are not in ascending order: sort, then compare neighbours.

    Each entry that overlaps any later one (in start order) overlaps its immediate successor, so
    neighbours are enough.
    """
    starts, ends = array("Q"), array("Q")
    for start, end in spans():
        starts.append(min(max(start, 0), _MAX_Q))
        ends.append(min(max(end, 0), _MAX_Q))
    prev = -1
    for n in _by_start(starts):
        if prev >= 0 and starts[n] < ends[prev]:
            return prev, n
        prev = n
    return None


def _by_start(starts: array[int]) -> Iterator[int]:
    """Indices of ``starts`` in ascending order of start (then index), holding only ``array('Q')`` runs."""
    runs = [array("Q", sorted(range(lo, min(lo + _RUN, len(starts))), key=starts.__getitem__))
            for lo in range(0, len(starts), _RUN)]
    return heapq.merge(*runs, key=starts.__getitem__)
