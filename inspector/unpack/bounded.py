"""Reading a small member (a descriptor, a control file, a manifest) in full, bounded, and replaying it.

Wrapping handlers (.deb, MSU, update CAB) read a few small members themselves to parse metadata, then
yield them again with their content served from memory so the walker still hashes and sniffs them.
"""

from __future__ import annotations

import io

from inspector.streams import Stream
from inspector.unpack.base import Member


def read_upto(fh: Stream, n: int) -> bytes:
    """Read until ``n`` bytes or the end of ``fh`` (raw streams may return short reads)."""
    parts = []
    left = n
    while left > 0:
        chunk = fh.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_bounded(member: Member, cap: int) -> bytes | None:
    """A member's whole content when it is no larger than ``cap`` bytes, else ``None`` (nothing read)."""
    if member.open is None or (member.size is not None and member.size > cap):
        return None
    data = read_upto(member.open(), cap + 1)
    return None if len(data) > cap else data


def replay(member: Member, data: bytes, **meta: object) -> Member:
    """The same member, its content served from ``data`` (already read), with ``meta`` merged in."""
    return Member(
        name=member.name, kind=member.kind, size=len(data), stored_size=member.stored_size, mode=member.mode,
        mtime=member.mtime, link_target=member.link_target, meta={**member.meta, **meta},
        open=lambda: io.BytesIO(data),
    )
