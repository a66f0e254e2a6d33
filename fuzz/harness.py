"""Mutated bytes through the whole walker: no exception may escape, every walk must end.

``mutants()`` is a hypothesis strategy that starts from a small valid sample and flips, truncates,
splices, duplicates or overwrites bytes; ``walk_bytes()`` writes the bytes to a private file and walks
them under tight limits. The CI test (``tests/test_fuzz_formats.py``) and the long-run driver
(``fuzz/run.py``) share both.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from inspector.limits import Limits, WalkError
from inspector.model import Inventory
from inspector.walker import Walker

MiB = 1024 * 1024

#: Limits for fuzzing: small enough that any input is walked in well under a second.
FUZZ_LIMITS = Limits(max_depth=8, max_total_bytes=64 * MiB, max_member_bytes=32 * MiB, ratio_floor_bytes=1 * MiB,
                     max_members=20_000, timeout=10.0, max_spool_bytes=32 * MiB)

_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", b"\x01\x00\x00\x00")


@st.composite
def mutants(draw: st.DrawFn, seed: bytes, others: tuple[bytes, ...] = ()) -> bytes:
    """One to four mutations of ``seed``: byte flips, truncation, splices, slice duplication, magic ints."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "truncate", "splice", "duplicate", "interesting", "insert")))
        n = len(data)
        if n == 0:
            data += draw(st.binary(min_size=1, max_size=64))
            continue
        pos = draw(st.integers(0, n - 1))
        if op == "flip":
            for _ in range(draw(st.integers(1, 8))):
                p = draw(st.integers(0, n - 1))
                data[p] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[pos:]
        elif op == "splice" and others:
            other = draw(st.sampled_from(others))
            cut = draw(st.integers(0, len(other)))
            data[pos:] = other[cut:]
        elif op == "duplicate":
            end = min(n, pos + draw(st.integers(1, 4096)))
            data[pos:pos] = data[pos:end]
        elif op == "interesting":
            value = draw(st.sampled_from(_INTERESTING))
            data[pos:pos + len(value)] = value
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
    return bytes(data)


def walk_bytes(data: bytes, name: str, limits: Limits = FUZZ_LIMITS) -> Inventory:
    """Walk ``data`` saved as ``name`` in a private temporary directory; raise only on a harness bug.

    A ``WalkError`` from the walker itself is fine only when the file could not be opened (never here);
    anything else escaping ``Walker.inventory`` is a bug: every failure inside must become a Problem.
    """
    with tempfile.TemporaryDirectory(prefix="inspector-fuzz-") as tmp:
        path = Path(tmp) / os.path.basename(name)
        path.write_bytes(data)
        inv = Walker(limits).inventory(path)
    for p in inv.problems:
        if len(p.line().splitlines()) != 1 or "Traceback" in p.reason:
            raise AssertionError(f"problem is not one line: {p.line()!r}")
    if not inv.entries or inv.entries[0].path != os.path.basename(name):
        raise AssertionError("inventory has no root entry")
    return inv


__all__ = ["FUZZ_LIMITS", "mutants", "walk_bytes", "WalkError"]
