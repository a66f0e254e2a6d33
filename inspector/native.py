"""The one place that decides whether inspector's compiled fast paths (``inspector._native``) are used.

The C module is optional: it is built by ``pip install`` when a compiler and Python's headers are there
(``setup.py``), and each fast path here is ``None`` (``sha256_hex``: hashlib's) when it is not built or when
``INSPECTOR_PURE_PYTHON=1`` is set (so tests and benchmarks can run both ways). Callers keep their pure-Python
code, which stays the reference: a fast path recognises only a common form of its input and gives exactly
what that code gives (``tests/test_native.py`` compares them).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

#: ``tar_plain_run(buf, pos, most, small, fmt, kinds, make) -> (items, fmt, end)``: the run of plain tar
#: members at ``buf[pos:]`` as ``inspector.unpack.tar`` reads them (see ``inspector/_native.c``).
tar_plain_run: Callable[..., tuple[list[Any], int, int]] | None = None
#: ``text_or_data(head, magics) -> "text" | "data" | None``: ``sniff.detect_type`` of a non-empty head that
#: starts with none of ``magics``; None when ``detect_type`` must decide.
text_or_data: Callable[[bytes, tuple[tuple[int, bytes], ...]], str | None] | None = None

#: ``elf_meta(data, kind, machines, size) -> dict | None``: ``binaries.elf.read_elf(...).to_meta()`` for the common
#: shapes of an ELF file, None for the rest (see ``inspector/_native.c``; used through ``binaries.elf.elf_meta``).
elf_meta: Callable[[Any, Callable[[str, int, int], tuple[int, str, str, bool]], dict[int, str], int],
                   dict[str, Any] | None] | None = None

#: ``rock_ridge(system_use, skip) -> (name, mode, nlink, uid, gid, ino, stamp, long) | None``: the plain Rock
#: Ridge entries of a record as ``unpack.iso9660_rr.parse`` reads them (None: ``parse`` reads them itself).
rock_ridge: Callable[[bytes, int], tuple[Any, ...] | None] | None = None
#: ``twins_take(entries, n, prefix, old_side, blocked, interior, mine, theirs, rest, other_rest, found,
#: same_file, entry_of, doubt, file_kind, dir_kind, binary_key) -> int``: ``diff.twins._Side._take`` in C.
twins_take: Callable[..., int] | None = None


def _hashlib_sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


#: ``sha256_hex(data) -> str``: ``hashlib.sha256(data).hexdigest()``; compiled, libcrypto's SHA-256 without
#: hashlib's per-call object and EVP context (0.41 -> 0.25 us for a 260-byte member). Always callable.
sha256_hex: Callable[[bytes | bytearray | memoryview], str] = _hashlib_sha256_hex

if os.environ.get("INSPECTOR_PURE_PYTHON", "") in ("", "0"):
    try:
        import inspector._native as _native
    except ImportError:  # not built: the pure-Python code runs
        pass
    else:
        tar_plain_run = _native.tar_plain_run
        text_or_data = _native.text_or_data
        twins_take = _native.twins_take
        rock_ridge = _native.rock_ridge
        if _native.has_sha256():  # libcrypto's SHA256_* found when the module was imported
            sha256_hex = _native.sha256_hex
            elf_meta = _native.elf_meta


def compiled() -> bool:
    """Whether the compiled fast paths are in use (for ``inspector --version`` style reports and tests)."""
    return tar_plain_run is not None


__all__ = ["tar_plain_run", "text_or_data", "twins_take", "rock_ridge", "sha256_hex", "elf_meta", "compiled"]
