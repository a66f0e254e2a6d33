"""Portable inventories (``.inv``): a compact, versioned file holding one whole inventory.

Modelled on Chromium's ``.size`` files: a short binary magic, then one compressed stream with a small JSON
header (readable without decoding the entries) followed by the entries stored column by column, which
compresses far better than one object per entry and decodes with a handful of C-level ``json`` calls.

Layout of format version 1::

    8 bytes   magic b"\\x89INV\\r\\n\\x1a\\n"   (PNG-style: detects text-mode mangling and truncation)
    rest      one zstd frame; decompressed, three UTF-8 JSON lines (each ended by "\\n"):
      1. header   {"format": "inspector.inv", "format_version": 1, "schema_version": <model schema>,
                   "created_by": "inspector X.Y", "source": <image path at walk time>,
                   "root_sha256": <SHA-256 of the image file>, "entries": N,
                   "complete": bool, "totals": {...inventory totals...},
                   "problems": [[path, reason, kind], ...]}
      2. columns  {"path": [...N strings], "kind": [...], "size": [...], "depth": [...], "stored_size": [...],
                   "sha256": [...], "detected": [...], "mode": [...], "mtime": [...], "link_target": [...],
                   "container": [...], "opened": [...]}           (null where unknown)
      3. meta     [[entry index, {format metadata}], ...]        (only entries whose meta is not empty)

Format version 2 (written for inventories of ``BLOCKED_FROM`` entries or more, which are read back as a
stream) keeps the same columns, cut into blocks of ``BLOCK_ENTRIES`` entries, each its own zstd frame, so a
reader parses one block at a time with one C-level ``json.loads`` and never spools the columns::

    8 bytes   the same magic
    frame     the header line (as above, with "format_version": 2, "block_entries": B and
              "blocks": [compressed length of each block frame, ...])
    frames    one per block, in entry order; decompressed, one UTF-8 JSON line:
              [[path values...], [kind values...], ... (the twelve columns above, in that order),
               [[index within the block, {format metadata}], ...]]

Readers accept both versions: stores and ``.inv`` files written before version 2 read as before.

The same bytes are what the inventory store keeps per image, so a stored inventory, a shared ``.inv`` file
and the result a worker process sends back are one format. A reader refuses a newer ``format_version``
or another model ``schema_version`` with a one-line reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import json
import os
import tempfile
from collections.abc import Mapping
from itertools import starmap
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, BinaryIO

import zstandard

from inspector import __version__
from inspector.inventory import Summariser
from inspector.limits import WalkError
from inspector.model import SCHEMA_VERSION, Entry, EntryKind, Inventory, Problem, ProblemKind

MAGIC = b"\x89INV\r\n\x1a\n"
FORMAT_VERSION = 1
#: The blocked layout (see the module docstring), written for inventories of ``BLOCKED_FROM`` entries or more.
BLOCKED_VERSION = 2
#: Entries per block of the blocked layout (a multiple of ``entrylog.ROWS_PER_RECORD``).
BLOCK_ENTRIES = 4096
#: Largest decompressed block accepted (a block is a few megabytes; a hostile one must not exhaust memory).
MAX_BLOCK = 256 * 1024**2
SUFFIX = ".inv"
#: Largest decompressed payload accepted (a hostile file must not exhaust memory): ~20M entries' worth.
MAX_PAYLOAD = 4 * 1024**3

_COLUMNS = ("path", "kind", "size", "depth", "stored_size", "sha256", "detected", "mode", "mtime",
            "link_target", "container", "opened")
_FIELDS = tuple(f.name for f in dataclasses.fields(Entry))
_EMPTY_META: MappingProxyType[str, Any] = MappingProxyType({})
_KINDS = {k.value: k for k in EntryKind}
#: Entries are built by position (and large inventories read as record rows) only while Entry has exactly
#: these fields, in this order.
_FAST_BUILD = (*_COLUMNS, "meta") == _FIELDS


def is_portable(path: Path) -> bool:
    """True when ``path`` starts with the ``.inv`` magic (content decides, not the suffix)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


#: Entries gathered per column before they are encoded (one C-level ``json.dumps`` per column per chunk).
_ENCODE_CHUNK = 4096


def encode(inv: Inventory, level: int = 3) -> bytes:
    """The ``.inv`` bytes of ``inv`` (deterministic for a given inventory and zstd level)."""
    out = io.BytesIO()
    encode_to(inv, out, level)
    return out.getvalue()


def encode_to(inv: Inventory, out: BinaryIO, level: int = 3) -> dict[str, Any]:
    """Write the ``.inv`` bytes of ``inv`` to ``out`` without holding the columns in memory; return the header.

    One pass over the entries sums the totals and appends each column, a chunk of entries at a time, to
    its own anonymous temporary file; the header (which needs the totals) is then compressed first,
    followed by the columns copied from those files. The bytes are the same as encoding the whole
    document at once.
    """
    if len(inv.entries) >= BLOCKED_FROM:
        return _encode_blocks(inv, out, level)
    summary = Summariser()
    with contextlib.ExitStack() as stack:
        spools = {name: stack.enter_context(tempfile.TemporaryFile(prefix="inspector-inv-"))
                  for name in (*_COLUMNS, "meta")}
        count = 0
        chunk: list[Entry] = []
        for e in inv.entries:
            summary.add(e)
            chunk.append(e)
            if len(chunk) >= _ENCODE_CHUNK:
                _spool_chunk(chunk, count, spools)
                count += len(chunk)
                chunk = []
        if chunk:
            _spool_chunk(chunk, count, spools)
            count += len(chunk)
        header = _header(inv, summary, count, FORMAT_VERSION)
        out.write(MAGIC)
        cctx = zstandard.ZstdCompressor(level=level)
        with cctx.stream_writer(out, closefd=False) as zw:
            zw.write(_json(header))
            zw.write(b"\n{")
            for i, name in enumerate(_COLUMNS):
                zw.write(b'%s"%s":[' % (b"," if i else b"", name.encode()))
                _copy(spools[name], zw)
                zw.write(b"]")
            zw.write(b"}\n[")
            _copy(spools["meta"], zw)
            zw.write(b"]\n")
    return header


def _header(inv: Inventory, summary: Summariser, count: int, version: int) -> dict[str, Any]:
    """The header line of an inventory whose entries were summed by ``summary``."""
    return {
        "format": "inspector.inv",
        "format_version": version,
        "schema_version": SCHEMA_VERSION,
        "created_by": f"inspector {__version__}",
        "source": inv.source,
        "root_sha256": summary.root.sha256 if summary.root is not None else None,
        "entries": count,
        "complete": inv.complete,
        "totals": dataclasses.asdict(summary.totals(inv.problems, inv.complete)),
        "problems": [[p.path, p.reason, p.kind] for p in inv.problems],
    }


def _encode_blocks(inv: Inventory, out: BinaryIO, level: int) -> dict[str, Any]:
    """``encode_to`` in the blocked layout: each block compressed into an anonymous temporary file as the
    entries come, then the header (which needs the totals and the blocks' lengths) and the blocks."""
    summary = Summariser()
    cctx = zstandard.ZstdCompressor(level=level)
    lengths: list[int] = []
    count = 0
    with tempfile.TemporaryFile(prefix="inspector-inv-") as spool:
        chunk: list[Entry] = []
        for e in inv.entries:
            summary.add(e)
            chunk.append(e)
            if len(chunk) >= BLOCK_ENTRIES:
                lengths.append(spool.write(cctx.compress(_block(chunk))))
                count += len(chunk)
                chunk = []
        if chunk:
            lengths.append(spool.write(cctx.compress(_block(chunk))))
            count += len(chunk)
        header = _header(inv, summary, count, BLOCKED_VERSION)
        header["block_entries"] = BLOCK_ENTRIES
        header["blocks"] = lengths
        out.write(MAGIC)
        out.write(cctx.compress(_json(header) + b"\n"))
        _copy(spool, out)
    return header


def _block(chunk: list[Entry]) -> bytes:
    """One block of the blocked layout: the chunk's columns and its metadata rows, as one JSON line."""
    columns = [_column(chunk, name) for name in _COLUMNS]
    columns.append(_meta_rows(chunk, 0))
    return _json(columns) + b"\n"


def _column(chunk: list[Entry], name: str) -> list[Any]:
    """The values of one column for a chunk of entries (the kind as its value)."""
    if name == "kind":
        return [e.kind.value for e in chunk]
    return [getattr(e, name) for e in chunk]


def _meta_rows(chunk: list[Entry], first_index: int) -> list[list[Any]]:
    """``[index, metadata]`` of each entry of the chunk that has metadata (indices from ``first_index``)."""
    return [[first_index + i, dict(e.meta)] for i, e in enumerate(chunk) if e.meta]


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def _spool_chunk(chunk: list[Entry], first_index: int, spools: Mapping[str, IO[bytes]]) -> None:
    """Append one chunk of entries to every column file (comma-separated JSON values, no brackets)."""
    for name in _COLUMNS:
        _append(spools[name], _json(_column(chunk, name))[1:-1])
    meta = _meta_rows(chunk, first_index)
    if meta:
        _append(spools["meta"], _json(meta)[1:-1])


def _append(spool: IO[bytes], body: bytes) -> None:
    if spool.tell():
        spool.write(b",")
    spool.write(body)


def _copy(spool: IO[bytes], dest: Any) -> None:
    spool.seek(0)
    while block := spool.read(1 << 20):
        dest.write(block)


def _payload(data: bytes) -> bytes:
    if not data.startswith(MAGIC):
        raise WalkError("not a portable inventory (bad magic)")
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(memoryview(data)[len(MAGIC):]))
        payload = reader.read(MAX_PAYLOAD + 1)
    except zstandard.ZstdError as exc:
        raise WalkError(f"corrupt portable inventory ({exc})") from None
    if len(payload) > MAX_PAYLOAD:
        raise WalkError(f"portable inventory expands beyond {MAX_PAYLOAD} bytes; refused")
    return payload


def read_header(data: bytes) -> dict[str, Any]:
    """Only the header (source, totals, problems) of ``.inv`` bytes, without building the entries."""
    if not data.startswith(MAGIC):
        raise WalkError("not a portable inventory (bad magic)")
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(memoryview(data)[len(MAGIC):]))
        line = io.BufferedReader(reader).readline(64 * 1024 * 1024)
        header = json.loads(line)
    except (zstandard.ZstdError, ValueError) as exc:
        raise WalkError(f"corrupt portable inventory ({exc})") from None
    _check_header(header)
    return header


def _check_header(header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != "inspector.inv":
        raise WalkError("not a portable inventory (bad header)")
    if header.get("format_version") not in (FORMAT_VERSION, BLOCKED_VERSION):
        raise WalkError(f"portable inventory format version {header.get('format_version')} "
                        f"(this build reads {FORMAT_VERSION} and {BLOCKED_VERSION})")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise WalkError(f"inventory schema version {header.get('schema_version')} (this build reads {SCHEMA_VERSION})")


#: Stored inventories up to this many entries are rebuilt on the heap (about 1 KB an entry). Larger ones
#: stream, so memory stays bounded. Streaming once cost three times as long (2 x 200,000 entries: 5.4 s
#: instead of 1.5 s); since rows are kept as they are (``entrylog.from_rows``) it costs about the same CPU
#: time in all (decoding is quicker, a diff slower: it builds each entry as it reads it), so the limit
#: stays where the 200,000-entry diff was measured. A walk spills much earlier (``entrylog.SPILL_AFTER``).
DECODE_IN_MEMORY = 250_000
#: Inventories read back as a stream are written in the blocked layout (version 2): reading one costs a
#: ``json.loads`` per block instead of spooling each column and zipping the spools back into rows (a
#: 1,000,000-entry inventory: 1.0 s of CPU instead of 2.0 s, same size). Smaller ones keep version 1, byte for byte.
BLOCKED_FROM = DECODE_IN_MEMORY + 1


def decode(data: bytes) -> Inventory:
    """Rebuild the inventory from ``.inv`` bytes; a damaged or foreign file raises ``WalkError``.

    An inventory with more entries than ``DECODE_IN_MEMORY`` is read as a stream into an entry log
    (``portable_reader``), so its entries end up on disk rather than in memory.
    """
    header = _readable_header(data)
    if header is not None and header.get("format_version") == BLOCKED_VERSION:
        from inspector import portable_reader

        return portable_reader.decode_blocks(data, header, _COLUMNS, MAX_PAYLOAD)
    if _FAST_BUILD and header is not None and int(header.get("entries", 0)) > DECODE_IN_MEMORY:
        from inspector import portable_reader

        with contextlib.suppress(portable_reader.Unstreamable):
            return portable_reader.decode_stream(data, _COLUMNS, _FIELDS, MAX_PAYLOAD)
    payload = _payload(data)
    enabled = gc.isenabled()
    gc.disable()  # millions of new objects, none cyclic: collection passes would only cost time
    try:
        lines = payload.split(b"\n")
        if len(lines) < 3:
            raise WalkError("truncated portable inventory")
        header = json.loads(lines[0])
        _check_header(header)
        columns = json.loads(lines[1])
        meta_rows = json.loads(lines[2])
        return Inventory(
            source=str(header["source"]),
            entries=_build_entries(columns, meta_rows, int(header["entries"])),
            problems=tuple(
                Problem(path=str(p), reason=str(r), kind=ProblemKind(str(k))) for p, r, k in header["problems"]
            ),
        )
    except WalkError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise WalkError(f"corrupt portable inventory ({type(exc).__name__}: {exc})") from None
    finally:
        if enabled:
            gc.enable()


def _readable_header(data: bytes) -> dict[str, Any] | None:
    """The header (None when it cannot be read: the whole-document reader then says why)."""
    try:
        header = read_header(data)
        int(header.get("entries", 0))
    except (WalkError, ValueError, TypeError):
        return None  # the whole-document reader reports what is wrong, in its usual order
    return header


def _build_entries(columns: dict[str, list[Any]], meta_rows: list[Any], count: int) -> tuple[Entry, ...]:
    cols = [columns[name] for name in _COLUMNS]
    if any(len(c) != count for c in cols):
        raise WalkError("corrupt portable inventory (column lengths differ)")
    cols[1] = [_KINDS[k] for k in cols[1]]
    metas: list[Any] = [_EMPTY_META] * count
    for index, meta in meta_rows:
        if not isinstance(meta, dict):
            raise WalkError("corrupt portable inventory (meta is not an object)")
        metas[index] = MappingProxyType(meta)
    cols.append(metas)
    if not _FAST_BUILD:  # pragma: no cover - only if Entry changes shape
        names = (*_COLUMNS, "meta")
        return tuple(Entry(**dict(zip(names, row, strict=True))) for row in zip(*cols, strict=True))
    # By position, in Entry's field order (``_FAST_BUILD``): its ``__init__`` (``model.direct_init``) is
    # cheaper than filling a bare instance's dict from a zip.
    return tuple(starmap(Entry, zip(*cols, strict=True)))


def write(inv: Inventory, path: Path) -> None:
    """Write ``inv`` to ``path`` atomically (a temporary file renamed into place), entry by entry."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            encode_to(inv, fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a shared inventory gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read(path: Path) -> Inventory:
    """Read a ``.inv`` file; any failure is a ``WalkError`` naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WalkError(f"{path}: cannot open ({exc.strerror or exc})") from None
    try:
        return decode(data)
    except WalkError as exc:
        raise WalkError(f"{path}: {exc}") from None

