"""Where the walker puts entries as it finds them, in walk order (a container before its members).

A container's entry is only complete after its members have been walked, so the walker first
``reserve``s a slot for it and ``fill``s it later. ``freeze`` returns the entries in slot order as a
read-only sequence. This module is the one place that decides where entries live while and after an
image is walked: the first ``spill_after`` slots stay on the heap, every later entry is appended to an
anonymous temporary file as one ``marshal`` record, with its offset kept in a compact array, so memory
does not grow with the number of entries (about 12 bytes per spilled entry instead of about a kilobyte).

Why a record file and not SQLite: for 300,000 entries, appending marshal records took 1.5 s and reading
them back 1.8 s, against 6.4 s and 3.1 s for SQLite rows of marshal blobs (10.5 s and 4.1 s with one
column per field), measured on this project's 2-core machine. Nothing needs to query the spilled entries;
they are only read back in slot order, which a record file does with a few large reads.
"""

from __future__ import annotations

import marshal
import os
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import accumulate, chain
from operator import attrgetter
from types import MappingProxyType
from typing import IO, Any, overload

from inspector.model import Entry, EntryKind

#: Slots kept on the heap before entries go to the record file (small images never touch the disk).
SPILL_AFTER = 20_000
#: Bytes read at once when entries are read back in order.
_CHUNK = 1 << 20
#: Encoded records buffered before one write to the record file.
_WRITE_BATCH = 2048

_FIELDS = ("path", "kind", "size", "depth", "stored_size", "sha256", "detected", "mode", "mtime", "link_target",
           "container", "opened", "meta")
_KINDS = {k.value: k for k in EntryKind}
_EMPTY_META: MappingProxyType[str, Any] = MappingProxyType({})
#: Entries are rebuilt by position only while Entry has exactly these fields, in this order; otherwise by name.
_FAST_BUILD = tuple(Entry.__dataclass_fields__) == _FIELDS


def _encode(row: tuple[Any, ...]) -> bytes | None:
    """One row (the record layout) as a marshal record (``None`` when its metadata holds something neither
    marshal nor pickle takes)."""
    meta = row[12]
    if not meta:
        return marshal.dumps(row if meta is None else (*row[:12], None))
    if type(meta) is not dict:
        meta = dict(meta)
        row = (*row[:12], meta)  # its metadata as a plain dict for marshal
    try:
        return marshal.dumps(row)
    except ValueError:
        pass
    # pickle is imported where it is used, not with this module: only metadata marshal cannot take needs it,
    # and a command's start-up need not pay for it.
    import pickle

    try:
        pickled = pickle.dumps(meta, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - any unpicklable value: the entry stays on the heap instead
        return None
    return marshal.dumps((*row[:12], pickled))


def _decode(record: bytes | memoryview) -> Entry:
    """Inverse of ``_encode`` (marshal ignores bytes after the record, so a view into a chunk is enough)."""
    return _from_row(marshal.loads(record))


def _from_row(row: Any) -> Entry:
    """The entry of one row in the record layout (``_encode``'s tuple)."""
    (path, kind, size, depth, stored_size, sha256, detected, mode, mtime, link_target, container, opened,
     meta) = row
    if meta is None:
        meta = _EMPTY_META
    else:
        if isinstance(meta, bytes):
            import pickle

            meta = pickle.loads(meta)  # noqa: S301 - a record this process wrote
        if not isinstance(meta, MappingProxyType):  # a row of ``rows`` made from an entry keeps its mapping
            meta = MappingProxyType(meta)
    if not _FAST_BUILD:  # pragma: no cover - only if Entry changes shape
        return Entry(**dict(zip(_FIELDS, (*row[:1], _KINDS[kind], *row[2:12], meta), strict=True)))
    # By position, in Entry's field order (``_FAST_BUILD``): its ``__init__`` (``model.direct_init``) is
    # cheaper than filling a bare instance's dict from a zip.
    return Entry(path, _KINDS[kind], size, depth, stored_size, sha256, detected, mode, mtime, link_target,
                 container, opened, meta)


def entry_of(row: tuple[Any, ...]) -> Entry:
    """The entry of a row from ``rows``."""
    return _from_row(row)


#: The record layout (the one place that lays it out): an entry's fields in ``_FIELDS`` order, the kind as
#: its value (``kind._value_``: without the enum property lookup, once per entry), ``meta`` last.
_LAYOUT = tuple("kind._value_" if name == "kind" else name for name in _FIELDS)
#: An entry as a row in the record layout, its metadata left as it is (a mapping).
row_of: Callable[[Entry], tuple[Any, ...]] = attrgetter(*_LAYOUT)


def make_row(path: str, kind: EntryKind, size: int | None, depth: int, stored_size: int | None, sha256: str | None,
             detected: str | None, mode: int | None, mtime: float | None, link_target: str | None,
             container: str | None, opened: bool, meta: dict[str, Any] | None) -> tuple[Any, ...]:
    """The row of the entry these values make (``Entry``'s fields in order; ``meta`` a dict of the caller's
    own, or None for none): what the walker files for a member without building its ``Entry``."""
    return (path, kind._value_, size, depth, stored_size, sha256, detected, mode, mtime, link_target, container,
            opened, meta or None)


def _record_row(record: bytes | memoryview) -> tuple[Any, ...]:
    """The row of one ``_encode`` record (pickled metadata loaded)."""
    row = marshal.loads(record)
    if isinstance(row[12], bytes):
        import pickle

        return (*row[:12], pickle.loads(row[12]))  # noqa: S301 - a record this process wrote
    return row


def rows(entries: Sequence[Entry]) -> Iterator[tuple[Any, ...]]:
    """The entries of ``entries`` in order as rows in the record layout (``_encode``'s tuple: the kind's
    value first after the path, ``meta`` last: a dict, a mapping or None), without building an entry for
    what is kept as rows: for a pass that looks at every entry but keeps few of them (``entry_of`` builds
    one). Entries on the heap are turned into rows."""
    if isinstance(entries, FrozenEntries):
        return entries.rows()
    return map(row_of, entries)


def _from_rows(rows: list[Any]) -> list[Entry]:
    """``_from_row`` of each row (inlined: once per entry when a large stored inventory is read)."""
    if not _FAST_BUILD:  # pragma: no cover - only if Entry changes shape
        return list(map(_from_row, rows))
    kinds, empty, proxy = _KINDS, _EMPTY_META, MappingProxyType
    out: list[Entry] = []
    append = out.append
    for (path, kind, size, depth, stored_size, sha256, detected, mode, mtime, link_target, container, opened,
         meta) in rows:
        append(Entry(path, kinds[kind], size, depth, stored_size, sha256, detected, mode, mtime, link_target,
                     container, opened, empty if meta is None else proxy(meta)))
    return out


def meta_weight(meta: Mapping[str, Any]) -> int:
    """How many items an entry's metadata holds in lists, one level into nested mappings (a section table)."""
    n = 0
    for value in meta.values():
        if isinstance(value, (list, tuple)):
            n += len(value)
        elif isinstance(value, Mapping):
            n += sum(len(v) for v in value.values() if isinstance(v, (list, tuple)))
    return n


class EntryLog:
    """Collects a walk's entries in walk order; slots are reserved first and filled later.

    ``spill_after`` slots (``SPILL_AFTER`` by default) live on the heap; later ones go to a temporary
    file in ``directory`` (the system's temporary directory by default), unlinked at once so nothing is
    left behind however the process ends.
    """

    def __init__(self, spill_after: int | None = None, directory: str | None = None) -> None:
        self._spill_after = max(0, SPILL_AFTER if spill_after is None else spill_after)
        self._directory = directory
        self._heap: list[Entry | None] = []
        #: The heap's weight: one per entry plus the items of its metadata's lists (an executable's
        #: section table), so entries heavy with metadata move the spill point earlier.
        self._weight = 0
        self._reserved = 0
        # Spilled slots (index = slot - spill_after): record offset and length; length 0 = not filled,
        # negative = filled late (after later slots were reserved, so out of file order).
        self._offsets = array("q")
        self._lengths = array("q")
        self._kept: dict[int, Entry] = {}  # spilled slots whose entry could not be encoded
        self._file: IO[bytes] | None = None
        self._pending: list[bytes] = []
        #: Rows of the slots ``add_row`` filled last, not yet recorded (``_encode_rows``).
        self._rows: list[tuple[Any, ...]] = []
        self._end = 0  # file offset after the last record, including those still pending

    def reserve(self) -> int:
        """Reserve the next slot (for an entry whose figures are known only after its members)."""
        slot = self._reserved
        self._reserved += 1
        if slot < self._spill_after and self._weight >= self._spill_after:
            self._spill_after = slot  # the heap is as heavy as its budget: this slot and all later ones spill
        if slot < self._spill_after:
            self._heap.append(None)
        else:
            if self._rows:
                self._encode_rows()  # the slots before this one first
            self._offsets.append(0)
            self._lengths.append(0)
        return slot

    def add_row(self, row: tuple[Any, ...]) -> int:
        """Reserve the next slot and fill it with the entry of ``row`` (the record layout: ``make_row``) in one
        step, for an entry complete when it is found (a leaf); the slot. Past the heap the entry is never
        built: the row is the record."""
        slot = self._reserved
        if slot < self._spill_after:
            self.reserve()
            self.fill_row(slot, row)
            return slot
        self._reserved = slot + 1
        rows = self._rows
        rows.append(row)
        if len(rows) >= _WRITE_BATCH:
            self._encode_rows()
        return slot

    def _encode_rows(self) -> None:
        """Record the rows ``add_row`` left pending (slots in order after every slot recorded so far), a batch
        at a time: one ``map`` of ``marshal.dumps`` and one extension of each slot array, not a call per row."""
        rows, self._rows = self._rows, []
        try:
            records = list(map(marshal.dumps, rows))  # rows from make_row: their meta is a dict or None
        except ValueError:  # metadata marshal cannot take (or a mapping): row by row, as a late fill is
            for row in rows:
                self._offsets.append(0)
                self._lengths.append(0)
                self._spill(self._spill_after + len(self._offsets) - 1, row, in_order=True)
            return
        lengths = list(map(len, records))
        starts = list(accumulate(lengths, initial=self._end))
        self._end = starts.pop()
        self._offsets.extend(starts)
        self._lengths.extend(lengths)
        self._pending += records
        if len(self._pending) >= _WRITE_BATCH:
            self._flush()

    def fill_row(self, slot: int, row: tuple[Any, ...]) -> None:
        """Put the entry of ``row`` (the record layout: ``make_row``) into a slot from ``reserve``."""
        if slot < self._spill_after:
            self.fill(slot, _from_row(row))
        else:
            self._spill(slot, row)

    def fill(self, slot: int, entry: Entry) -> None:
        """Put ``entry`` into a slot from ``reserve``."""
        if slot < self._spill_after:
            self._heap[slot] = entry
            self._weight += 1 + (meta_weight(entry.meta) if entry.meta else 0)
        else:
            self._spill(slot, row_of(entry))

    def _spill(self, slot: int, row: tuple[Any, ...], in_order: bool = False) -> None:
        """Record a spilled slot's row (late when later slots were reserved since, unless ``in_order``)."""
        if self._rows and not in_order:
            self._encode_rows()  # the records of the slots added before it first
        index = slot - self._spill_after
        record = _encode(row)
        if record is None:
            self._kept[index] = _from_row(row)
            self._lengths[index] = 0
            return
        self._offsets[index] = self._end
        self._lengths[index] = len(record) if in_order or slot == self._reserved - 1 else -len(record)
        self._end += len(record)
        self._pending.append(record)
        if len(self._pending) >= _WRITE_BATCH:
            self._flush()

    def row_at(self, slot: int) -> tuple[Any, ...] | None:
        """The row of a filled slot while the walk goes on (None for a slot not filled yet), read back from
        the record file when it has spilled: the walker gives a member whose content it has already read
        (``Member.content_key``) the figures of that earlier entry from here instead of keeping them."""
        if slot < self._spill_after:
            entry = self._heap[slot] if slot < len(self._heap) else None
            return None if entry is None else row_of(entry)
        index = slot - self._spill_after
        recorded = len(self._offsets)
        if index >= recorded:  # added by ``add_row`` and not encoded yet
            pending = index - recorded
            return self._rows[pending] if pending < len(self._rows) else None
        kept = self._kept.get(index)
        if kept is not None:
            return row_of(kept)
        length = abs(self._lengths[index])
        if not length:
            return None
        self._flush()
        assert self._file is not None
        self._file.flush()
        return _record_row(os.pread(self._file.fileno(), length, self._offsets[index]))

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="inspector-entries-", dir=self._directory)  # noqa: SIM115
        self._file.write(b"".join(self._pending))
        self._pending.clear()

    def freeze(self) -> Sequence[Entry]:
        """The filled entries in slot order (a slot never filled is skipped)."""
        heap = tuple(e for e in self._heap if e is not None)
        if self._rows:
            self._encode_rows()
        if not self._offsets:
            return heap  # nothing spilled: a plain tuple, as cheap as it gets
        self._flush()
        if self._lengths.count(0) == len(self._kept):  # every slot filled (kept ones have length 0 too)
            offsets, lengths, kept = array("q", self._offsets), array("q", self._lengths), dict(self._kept)
        else:  # slots never filled are left out
            offsets, lengths, kept = array("q"), array("q"), {}
            for i in range(len(self._offsets)):
                if i in self._kept:
                    kept[len(offsets)] = self._kept[i]
                elif self._lengths[i] == 0:
                    continue
                offsets.append(self._offsets[i])
                lengths.append(self._lengths[i])
        if self._file is not None:
            self._file.flush()
        return FrozenEntries(heap, _Records(self._file, offsets, lengths, kept))


class _Records:
    """Spilled entries: an unlinked record file and where each record is in it."""

    __slots__ = ("file", "fd", "offsets", "lengths", "kept")

    def __init__(self, file: IO[bytes] | None, offsets: array[int], lengths: array[int],
                 kept: dict[int, Entry]) -> None:
        self.file = file  # kept referenced: the file closes (and its space is freed) with the last sequence
        self.fd = file.fileno() if file is not None else -1
        self.offsets = offsets
        self.lengths = lengths
        self.kept = kept

    def __len__(self) -> int:
        return len(self.offsets)

    def get(self, index: int) -> Entry:
        """The entry at ``index`` (one read)."""
        kept = self.kept.get(index)
        if kept is not None:
            return kept
        return _decode(os.pread(self.fd, abs(self.lengths[index]), self.offsets[index]))

    def iterate(self, start: int, stop: int) -> Iterator[Entry]:
        """Entries ``start`` to ``stop - 1`` in order, read in large chunks (late-filled records one by one)."""
        return self._each(start, stop, _decode, lambda e: e)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every entry as a row (see ``rows``)."""
        return self._each(0, len(self), _record_row, row_of)

    def _each(self, start: int, stop: int, decode: Callable[[bytes | memoryview], Any],
              kept_as: Callable[[Entry], Any]) -> Iterator[Any]:
        offsets, lengths, kept, fd = self.offsets, self.lengths, self.kept, self.fd
        chunk = memoryview(b"")
        base = 0
        for i in range(start, stop):
            length = lengths[i]
            if length <= 0:
                if length == 0:
                    yield kept_as(kept[i])
                else:
                    yield decode(os.pread(fd, -length, offsets[i]))
                continue
            off = offsets[i] - base
            if off < 0 or off + length > len(chunk):
                base = offsets[i]
                chunk = memoryview(os.pread(fd, max(_CHUNK, length), base))
                off = 0
            yield decode(chunk[off:])


#: Rows per record of ``from_rows`` (one ``marshal`` record holds this many entries).
ROWS_PER_RECORD = 512


def from_rows(chunks: Iterable[list[tuple[Any, ...]]], directory: str | None = None) -> Sequence[Entry]:
    """Entries given as rows in the record layout (``_encode``'s tuple: the kind's value, ``meta`` a dict
    or None), a list of rows at a time, as a read-only sequence like ``EntryLog.freeze``'s.

    For entries read from a stored inventory, whose slots need no reserving: the first ``SPILL_AFTER``
    become entries on the heap, the rest go to an unlinked record file as they are, ``ROWS_PER_RECORD``
    rows per ``marshal`` record, with no entry built until one is read (a million rows: one ``marshal.dumps``
    per record instead of an entry and a record each).
    """
    heap: list[Entry] = []
    records: _RowRecords | None = None
    pending: list[tuple[Any, ...]] = []
    for rows in chunks:
        room = SPILL_AFTER - len(heap)
        if room > 0:
            heap.extend(_from_rows(rows[:room]))
            rows = rows[room:]
        if not rows:
            continue
        if records is None:
            records = _RowRecords(tempfile.TemporaryFile(prefix="inspector-entries-", dir=directory))  # noqa: SIM115
        if not pending and len(rows) == ROWS_PER_RECORD:
            records.append(rows)  # the usual case: rows come a record's worth at a time
            continue
        pending.extend(rows)
        del rows
        while len(pending) >= ROWS_PER_RECORD:
            record = pending[:ROWS_PER_RECORD]
            del pending[:ROWS_PER_RECORD]  # before the record is marshalled: see ``_RowRecords.append``
            records.append(record)
    if records is None:
        return tuple(heap)
    if pending:
        records.append(pending)
    records.close_writes()
    return FrozenEntries(tuple(heap), records)


class _RowRecords:
    """Entries kept as rows, ``ROWS_PER_RECORD`` to a ``marshal`` record of an unlinked file (``from_rows``)."""

    __slots__ = ("file", "fd", "offsets", "count", "_batch", "_end", "_cached", "_cached_rows")

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file  # kept referenced: the file closes (and its space is freed) with the last sequence
        self.fd = file.fileno()
        self.offsets = array("q", [0])  # record k spans offsets[k]:offsets[k + 1]
        self.count = 0
        self._batch: list[bytes] = []
        self._end = 0
        self._cached = -1
        self._cached_rows: list[Any] = []

    def append(self, rows: list[tuple[Any, ...]]) -> None:
        """Add one record of ``ROWS_PER_RECORD`` rows (fewer for the last).

        ``marshal`` keeps every object it meets that has more than one reference in a table (to write it
        once), which made a record three times slower to write: the rows should be referenced only by
        ``rows`` (and their values only by the rows).
        """
        try:
            record = b"m" + marshal.dumps(rows)
        except ValueError:  # metadata marshal cannot take (rows from JSON never get here)
            import pickle

            record = b"p" + pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        self._end += len(record)
        self.offsets.append(self._end)
        self.count += len(rows)
        self._batch.append(record)
        if len(self._batch) >= 64:
            self.file.write(b"".join(self._batch))
            self._batch.clear()

    def close_writes(self) -> None:
        """Write what is buffered; the records are read with ``pread`` from now on."""
        self.file.write(b"".join(self._batch))
        self._batch.clear()
        self.file.flush()

    def __len__(self) -> int:
        return self.count

    def _rows(self, k: int, data: bytes | memoryview | None = None) -> list[Any]:
        if data is None:
            data = os.pread(self.fd, self.offsets[k + 1] - self.offsets[k], self.offsets[k])
        if data[:1] == b"m":
            return marshal.loads(data[1:])
        import pickle

        return pickle.loads(data[1:])  # noqa: S301 - a record this process wrote

    def get(self, index: int) -> Entry:
        """The entry at ``index`` (its record is read and kept, so neighbours asked next cost no read)."""
        k, i = divmod(index, ROWS_PER_RECORD)
        if k != self._cached:
            self._cached_rows = self._rows(k)
            self._cached = k
        return _from_row(self._cached_rows[i])

    def iterate(self, start: int, stop: int) -> Iterator[Entry]:
        """Entries ``start`` to ``stop - 1`` in order, read a megabyte or more at a time."""
        return chain.from_iterable(map(_from_rows, self._lists(start, stop)))

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every entry as a row (see ``rows``): the records as they are."""
        return chain.from_iterable(self._lists(0, self.count))

    def _lists(self, start: int, stop: int) -> Iterator[list[Any]]:
        """The rows of entries ``start`` to ``stop - 1``, a record's worth at a time (no generator step per
        entry)."""
        if start >= stop:
            return
        offsets, fd = self.offsets, self.fd
        first, last = start // ROWS_PER_RECORD, (stop - 1) // ROWS_PER_RECORD
        k = first
        while k <= last:
            end = k + 1  # records read at once: up to _CHUNK bytes, at least one
            while end <= last and offsets[end + 1] - offsets[k] <= _CHUNK:
                end += 1
            block = memoryview(os.pread(fd, offsets[end] - offsets[k], offsets[k]))
            for j in range(k, end):
                rows = self._rows(j, block[offsets[j] - offsets[k]:offsets[j + 1] - offsets[k]])
                lo = start - j * ROWS_PER_RECORD if j == first else 0
                hi = stop - j * ROWS_PER_RECORD if j == last else len(rows)
                yield rows[lo:hi] if lo or hi != len(rows) else rows
            k = end


class _EntrySequence(Sequence[Entry]):
    """Equality by content with any sequence of entries (a tuple, a list, another view), like a tuple's."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking equality: not hashable, like a list


class FrozenEntries(_EntrySequence):
    """A read-only sequence of entries, root first: a heap part, then (for large walks) a spilled part.

    Indexing, ``len`` and iteration never load the spilled part whole; a slice is a lazy view.
    """

    __slots__ = ("_heap", "_spilled")

    def __init__(self, heap: Sequence[Entry], spilled: _Records | _RowRecords | None = None) -> None:
        self._heap = heap
        self._spilled = spilled

    def __len__(self) -> int:
        return len(self._heap) + (len(self._spilled) if self._spilled is not None else 0)

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        if isinstance(index, slice):
            return _Slice(self, *index.indices(len(self)))
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("entry index out of range")
        if index < len(self._heap):
            return self._heap[index]
        assert self._spilled is not None
        return self._spilled.get(index - len(self._heap))

    def __iter__(self) -> Iterator[Entry]:
        return self.iterate(0, len(self))

    def iterate(self, start: int, stop: int) -> Iterator[Entry]:
        """Entries ``start`` to ``stop - 1`` in order."""
        heap = len(self._heap)
        head: Iterator[Entry] = iter(self._heap[start:min(stop, heap)] if start < heap else ())
        if self._spilled is None or stop <= heap:
            return head
        return chain(head, self._spilled.iterate(max(start, heap) - heap, stop - heap))

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every entry as a row (see ``rows``)."""
        head = map(row_of, self._heap)
        return head if self._spilled is None else chain(head, self._spilled.rows())


class _Slice(_EntrySequence):
    """A lazy view of part of a ``FrozenEntries`` (what ``entries[1:]`` returns)."""

    __slots__ = ("_base", "_range")

    def __init__(self, base: FrozenEntries, start: int, stop: int, step: int) -> None:
        self._base = base
        self._range = range(start, stop, step)

    def __len__(self) -> int:
        return len(self._range)

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        if isinstance(index, slice):
            r = self._range[index]
            return _Slice(self._base, r.start, r.stop, r.step)
        return self._base[self._range[index]]

    def __iter__(self) -> Iterator[Entry]:
        r = self._range
        if r.step == 1:
            return self._base.iterate(r.start, r.stop)
        return (self._base[i] for i in r)


def with_first(first: Entry, entries: Sequence[Entry]) -> Sequence[Entry]:
    """``entries`` with its first entry replaced by ``first``, without copying the rest."""
    if isinstance(entries, tuple):
        return (first, *entries[1:])
    return _WithFirst(first, entries)


class _WithFirst(_EntrySequence):
    """A view of a sequence of entries whose first one is replaced (a stored inventory's rebased root)."""

    __slots__ = ("_first", "_rest")

    def __init__(self, first: Entry, entries: Sequence[Entry]) -> None:
        self._first = first
        self._rest = entries

    def __len__(self) -> int:
        return len(self._rest)

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if start == 0:
                return [self[i] for i in range(start, stop, step)]
            return self._rest[index]
        if index == 0 or index == -len(self):
            return self._first
        return self._rest[index]

    def __iter__(self) -> Iterator[Entry]:
        yield self._first
        yield from self._rest[1:]
