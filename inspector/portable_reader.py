"""Reading a large ``.inv`` inventory without holding its columns or its entries in memory.

``portable.decode`` parses each JSON line whole, which for a million entries means millions of values in
lists at once. This reader walks the decompressed stream instead: each column's array is parsed a window
at a time (one C-level ``json.loads`` per window, cut at a value boundary) and spooled to its own
anonymous temporary file; the columns are then read back in step and the entries put into an
``EntryLog``, which keeps all but the first few thousand on disk. Memory stays flat in the entry count.

The layout is the one ``portable`` writes (see its docstring); a file whose columns come in another
order raises ``Unstreamable`` so the caller can fall back to the whole-document reader.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import marshal
import tempfile
from collections.abc import Iterator
from types import MappingProxyType
from typing import IO, Any

import zstandard

from inspector.entrylog import EntryLog
from inspector.limits import WalkError
from inspector.model import Entry, EntryKind, Inventory, Problem, ProblemKind

#: Text parsed per step; a value longer than this is parsed value by value.
_WINDOW = 1 << 18
_READ = 1 << 20
_DECODER = json.JSONDecoder()
_KINDS = {k.value: k for k in EntryKind}
_EMPTY_META: MappingProxyType[str, Any] = MappingProxyType({})


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
            marshal.dump(values, sink)
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


def _chunks(spool: IO[bytes]) -> Iterator[Any]:
    spool.seek(0)
    while True:
        try:
            chunk = marshal.load(spool)
        except EOFError:
            return
        yield from chunk


def decode_stream(data: bytes, columns: tuple[str, ...], fields: tuple[str, ...], limit: int) -> Inventory:
    """Rebuild the inventory from ``.inv`` bytes (magic already checked) with flat memory.

    ``columns`` is the column order of the format and ``fields`` the Entry field order (columns + meta).
    Raises ``WalkError`` for a damaged file and ``Unstreamable`` for one laid out differently.
    """
    from inspector import portable

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(memoryview(data)[len(portable.MAGIC):]))
    text = _Text(reader, limit)
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
            log = EntryLog()
            _fill(log, [_chunks(spools[name]) for name in columns], _chunks(spools["meta"]), fields)
            entries = log.freeze()
        problems = tuple(
            Problem(path=str(p), reason=str(r), kind=ProblemKind(str(k))) for p, r, k in header["problems"])
        return Inventory(source=str(header["source"]), entries=entries, problems=problems)
    except (WalkError, Unstreamable):
        raise
    except zstandard.ZstdError as exc:
        raise WalkError(f"corrupt portable inventory ({exc})") from None
    except (ValueError, KeyError, TypeError, IndexError, EOFError, UnicodeDecodeError) as exc:
        raise WalkError(f"corrupt portable inventory ({type(exc).__name__}: {exc})") from None


def _fill(log: EntryLog, cols: list[Iterator[Any]], metas: Iterator[Any], fields: tuple[str, ...]) -> None:
    """Build the entries from the columns read in step, with each entry's metadata, into ``log``."""
    next_meta = next(metas, None)
    new = object.__new__
    for index, row in enumerate(zip(*cols, strict=True)):
        meta: Any = _EMPTY_META
        if next_meta is not None and next_meta[0] < index:
            raise Unstreamable("metadata rows out of order")
        if next_meta is not None and next_meta[0] == index:
            if not isinstance(next_meta[1], dict):
                raise WalkError("corrupt portable inventory (meta is not an object)")
            meta = MappingProxyType(next_meta[1])
            next_meta = next(metas, None)
        values = list(row)
        values[1] = _KINDS[values[1]]
        values.append(meta)
        e = new(Entry)
        e.__dict__.update(zip(fields, values, strict=True))
        log.fill(log.reserve(), e)
    if next_meta is not None:
        raise WalkError("corrupt portable inventory (metadata for a missing entry)")
