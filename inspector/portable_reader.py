"""Reading a large ``.inv`` inventory without holding its columns or its entries in memory.

``portable.decode`` parses each JSON line whole, which for a million entries means millions of values in
lists at once. This reader walks the decompressed stream instead: each column's array is parsed a window
at a time (one C-level ``json.loads`` per window, cut at a value boundary) and spooled to its own
anonymous temporary file; the columns are then read back in step and the rows handed to
``entrylog.from_rows``, which keeps all but the first few thousand on disk. Memory stays flat in the entry count.

The layout is the one ``portable`` writes (see its docstring); a file whose columns come in another
order raises ``Unstreamable`` so the caller can fall back to the whole-document reader.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import io
import json
import marshal
import struct
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import zstandard

from inspector import entrylog
from inspector.limits import WalkError
from inspector.model import EntryKind, Inventory, Problem, ProblemKind
from inspector.streams import ReadAheadReader

#: Text parsed per step; a value longer than this is parsed value by value.
_WINDOW = 1 << 18
_READ = 1 << 20
_DECODER = json.JSONDecoder()
_KIND_VALUES = frozenset(k.value for k in EntryKind)
#: Each spooled list of values is one ``marshal`` record after its length (``marshal.load`` from a file
#: reads it a few bytes at a time: several times slower than ``loads`` of the record read whole).
_LENGTH = struct.Struct("<I")


class Unstreamable(Exception):
    """The file is valid JSON lines but not laid out as this reader expects (columns in another order)."""


class _Text:
    """The decompressed payload as text, read a megabyte at a time; ``buf[pos:]`` is what is left."""

    def __init__(self, reader: Any, limit: int) -> None:
        self._reader = reader
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._left = limit
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Append the next block (dropping what was consumed); False at the end of the stream."""
        if self.eof:
            return False
        data = self._reader.read(_READ)
        self._left -= len(data)
        if self._left < 0:
            raise WalkError("portable inventory expands beyond its size limit; refused")
        if not data:
            self.eof = True
        text = self._utf8.decode(data, final=not data)
        self.buf = self.buf[self.pos:] + text
        self.pos = 0
        return bool(data)

    def expect(self, literal: str) -> None:
        """Consume ``literal`` or raise ``Unstreamable``."""
        while len(self.buf) - self.pos < len(literal) and self.more():
            pass
        if not self.buf.startswith(literal, self.pos):
            raise Unstreamable(f"expected {literal!r}")
        self.pos += len(literal)

    def line(self) -> str:
        """The rest of the current line (without its newline)."""
        while (end := self.buf.find("\n", self.pos)) == -1:
            if not self.more():
                raise WalkError("truncated portable inventory")
        out = self.buf[self.pos:end]
        self.pos = end + 1
        return out


def _loads(text: str) -> list[Any] | None:
    try:
        values = json.loads("[" + text + "]")
    except ValueError:
        return None
    return values if isinstance(values, list) else None


def _array(text: _Text, sink: IO[bytes]) -> int:
    """Parse a JSON array (its ``[`` already consumed) into ``sink`` as marshal'ed chunks; return its length."""
    count = 0
    while True:
        buf, pos = text.buf, text.pos
        window_end = min(len(buf), pos + _WINDOW)
        values: list[Any] | None = None
        ended = False
        end = buf.find("]", pos, window_end)
        if end != -1:  # the array may end here (or "]" is inside a string: then the prefix does not parse)
            values, cut, ended = _loads(buf[pos:end]), end + 1, True
        if values is None:
            cut = buf.rfind(",", pos, window_end)
            if cut != -1 and (end == -1 or cut < end):
                values, ended = _loads(buf[pos:cut]), False
                cut += 1
        if values is None:
            values, cut, ended = _one_by_one(buf, pos)
        if values:
            record = marshal.dumps(values)
            sink.write(_LENGTH.pack(len(record)))
            sink.write(record)
            count += len(values)
        text.pos = cut
        if ended:
            return count
        if cut == pos and not text.more():
            raise WalkError("truncated portable inventory")


def _one_by_one(buf: str, pos: int) -> tuple[list[Any], int, bool]:
    """Values parsed one at a time (exact, slower) up to the array's end or the buffer's."""
    values: list[Any] = []
    while pos < len(buf):
        if buf[pos] == "]":
            return values, pos + 1, True
        try:
            value, end = _DECODER.raw_decode(buf, pos)
        except ValueError:
            break  # cut off at the end of the buffer (or damaged: the caller finds out at the end)
        if end >= len(buf) or buf[end] not in ",]":
            break  # a number or literal may continue in the next block
        values.append(value)
        pos = end + 1 if buf[end] == "," else end
    return values, pos, False


def _lists(spool: IO[bytes], size: int) -> Iterator[list[Any]]:
    """The values of a spooled column, ``size`` at a time (the last list may be shorter)."""
    spool.seek(0)
    buf: list[Any] = []
    pos = 0
    while head := spool.read(_LENGTH.size):
        values = marshal.loads(spool.read(_LENGTH.unpack(head)[0]))
        buf = buf[pos:] + values if pos < len(buf) else values
        pos = 0
        while len(buf) - pos >= size:
            yield buf[pos:pos + size]
            pos += size
    if pos < len(buf):
        yield buf[pos:]


def _metas(spool: IO[bytes]) -> Iterator[Any]:
    """The metadata rows ``[index, {...}]`` in file order."""
    for values in _lists(spool, entrylog.ROWS_PER_RECORD):
        yield from values


def decode_stream(data: bytes, columns: tuple[str, ...], fields: tuple[str, ...], limit: int) -> Inventory:
    """Rebuild the inventory from ``.inv`` bytes (magic already checked) with flat memory.

    ``columns`` is the column order of the format and ``fields`` the Entry field order (columns + meta).
    Raises ``WalkError`` for a damaged file and ``Unstreamable`` for one laid out differently.
    """
    from inspector import portable

    # decompressed a few blocks ahead in a thread (zstd releases the GIL) while this one parses
    reader = ReadAheadReader(zstandard.ZstdDecompressor().stream_reader(
        io.BytesIO(memoryview(data)[len(portable.MAGIC):])))
    text = _Text(reader, limit)
    enabled = gc.isenabled()
    gc.disable()  # millions of rows made and dropped, none cyclic: collection passes would only cost time
    try:
        header = json.loads(text.line())
        portable._check_header(header)
        count = int(header["entries"])
        with contextlib.ExitStack() as stack:
            spools = {name: stack.enter_context(tempfile.TemporaryFile(prefix="inspector-inv-"))
                      for name in (*columns, "meta")}
            for i, name in enumerate(columns):
                text.expect(("{" if i == 0 else ",") + json.dumps(name) + ":[")
                if _array(text, spools[name]) != count:
                    raise WalkError("corrupt portable inventory (column lengths differ)")
            text.expect("}\n[")
            _array(text, spools["meta"])
            text.expect("\n")
            if columns[1] != "kind" or (*columns, "meta") != fields:
                raise Unstreamable("columns are not the entry log's record layout")
            size = entrylog.ROWS_PER_RECORD
            entries = entrylog.from_rows(_rows([_lists(spools[name], size) for name in columns],
                                               _metas(spools["meta"]), count))
        problems = tuple(
            Problem(path=str(p), reason=str(r), kind=ProblemKind(str(k))) for p, r, k in header["problems"])
        return Inventory(source=str(header["source"]), entries=entries, problems=problems)
    except (WalkError, Unstreamable):
        raise
    except zstandard.ZstdError as exc:
        raise WalkError(f"corrupt portable inventory ({exc})") from None
    except (ValueError, KeyError, TypeError, IndexError, EOFError, UnicodeDecodeError) as exc:
        raise WalkError(f"corrupt portable inventory ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()
        if enabled:
            gc.enable()


def _rows(cols: list[Iterator[list[Any]]], metas: Iterator[Any], count: int) -> Iterator[list[tuple[Any, ...]]]:
    """The entries as rows in the entry log's record layout, ``entrylog.ROWS_PER_RECORD`` at a time: the
    columns read in step, zipped a list at a time, with each entry's metadata (a dict or None)."""
    next_meta = next(metas, None)
    base = 0
    for lists in zip(*cols, strict=True):
        n = len(lists[0])
        if any(len(values) != n for values in lists):
            raise WalkError("corrupt portable inventory (column lengths differ)")
        if not _KIND_VALUES.issuperset(lists[1]):
            raise WalkError("corrupt portable inventory (unknown kind)")
        meta: list[Any] = [None] * n
        while next_meta is not None and next_meta[0] < base + n:
            if not isinstance(next_meta, list) or len(next_meta) != 2 or next_meta[0] < base:
                raise Unstreamable("metadata rows out of order")
            if not isinstance(next_meta[1], dict):
                raise WalkError("corrupt portable inventory (meta is not an object)")
            meta[next_meta[0] - base] = next_meta[1]
            nxt = next(metas, None)
            if nxt is not None and nxt[0] <= next_meta[0]:
                raise Unstreamable("metadata rows out of order")
            next_meta = nxt
        base += n
        yield list(zip(*lists, meta, strict=True))
    if base != count:
        raise WalkError("corrupt portable inventory (column lengths differ)")
    if next_meta is not None:
        raise WalkError("corrupt portable inventory (metadata for a missing entry)")


def decode_blocks(data: bytes, header: dict[str, Any], columns: tuple[str, ...], limit: int) -> Inventory:
    """Rebuild the inventory from ``.inv`` bytes in the blocked layout (format version 2, see ``portable``).

    Each block is decompressed, parsed and checked whole, then handed to ``entrylog.from_rows`` as rows
    (kept on disk past the first few thousand), so memory stays flat in the entry count and a damaged
    file is a ``WalkError`` here, never later while its entries are read. ``header`` is the checked header;
    ``limit`` bounds the decompressed bytes of all blocks together.
    """
    enabled = gc.isenabled()
    gc.disable()  # millions of rows made and dropped, none cyclic: collection passes would only cost time
    try:
        count = int(header["entries"])
        per_block = int(header["block_entries"])
        lengths = [int(n) for n in header["blocks"]]
        if per_block <= 0 or per_block % entrylog.ROWS_PER_RECORD or any(n <= 0 for n in lengths):
            raise WalkError("corrupt portable inventory (bad block table)")
        start = _blocks_start(data)
        if start + sum(lengths) != len(data):
            raise WalkError("truncated portable inventory" if start + sum(lengths) > len(data)
                            else "corrupt portable inventory (bytes after the last block)")
        if len(lengths) != -(-count // per_block):
            raise WalkError("corrupt portable inventory (block count does not match the entries)")
        from inspector.entrylog import _FIELDS as record_layout

        order = [columns.index(name) for name in record_layout[:-1]]  # columns -> the entry log's record layout
        entries = entrylog.from_rows(_block_rows(data, start, lengths, per_block, count, order, limit))
        problems = tuple(
            Problem(path=str(p), reason=str(r), kind=ProblemKind(str(k))) for p, r, k in header["problems"])
        return Inventory(source=str(header["source"]), entries=entries, problems=problems)
    except WalkError:
        raise
    except zstandard.ZstdError as exc:
        raise WalkError(f"corrupt portable inventory ({exc})") from None
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise WalkError(f"corrupt portable inventory ({type(exc).__name__}: {exc})") from None
    finally:
        if enabled:
            gc.enable()


def _blocks_start(data: bytes) -> int:
    """Offset of the first block: just after the header's frame, which follows the magic."""
    from inspector import portable

    view = memoryview(data)
    d = zstandard.ZstdDecompressor().decompressobj()
    pos = len(portable.MAGIC)
    while not d.eof:
        if pos >= len(data):
            raise WalkError("truncated portable inventory")
        piece = view[pos:pos + (1 << 16)]
        d.decompress(piece)
        pos += len(piece)
    return pos - len(d.unused_data)


def _block_rows(data: bytes, start: int, lengths: list[int], per_block: int, count: int, order: list[int],
                limit: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of each block in the entry log's record layout, ``entrylog.ROWS_PER_RECORD`` at a time."""
    from inspector import portable

    view = memoryview(data)
    dctx = zstandard.ZstdDecompressor()
    left = limit
    record = entrylog.ROWS_PER_RECORD
    kinds, kind_at = _KIND_VALUES, order[1]  # the kind is the second field of a record
    for k, length in enumerate(lengths):
        frame = view[start:start + length]
        start += length
        size = zstandard.frame_content_size(frame)
        if size < 0 or size > min(portable.MAX_BLOCK, left):
            raise WalkError("portable inventory block of unknown or excessive size; refused")
        left -= size
        block = json.loads(dctx.decompress(frame, max_output_size=size))
        n = per_block if k < len(lengths) - 1 else count - k * per_block
        if not isinstance(block, list) or len(block) != len(order) + 1 or any(
                not isinstance(c, list) or len(c) != n for c in block[:-1]):
            raise WalkError("corrupt portable inventory (column lengths differ)")
        if not kinds.issuperset(block[kind_at]):
            raise WalkError("corrupt portable inventory (unknown kind)")
        meta: list[Any] = [None] * n
        last = -1
        for row in block[-1]:
            if not isinstance(row, list) or len(row) != 2 or not isinstance(row[0], int) or not last < row[0] < n:
                raise WalkError("corrupt portable inventory (metadata rows out of order)")
            if not isinstance(row[1], dict):
                raise WalkError("corrupt portable inventory (meta is not an object)")
            last = row[0]
            meta[last] = row[1]
        rows = list(zip(*[block[i] for i in order], meta, strict=True))
        chunks = [rows[i:i + record] for i in range(0, n, record)]
        chunks.reverse()  # popped from the end, in order
        del block, meta, rows  # the rows are then the only holders of their values (``_RowRecords.append``)
        while chunks:
            yield chunks.pop()
