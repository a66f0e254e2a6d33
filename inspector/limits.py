"""Resource limits for one walk, and the errors raised when one trips.

The defaults never stop a real vendor image (a 10 GB DVD, a 200k-file bundle) yet stop a
decompression bomb within a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Bounds applied while walking one image."""

    max_depth: int = 16
    max_total_bytes: int = 256 * GiB  # all decompressed bytes read, at every depth
    max_member_bytes: int = 64 * GiB  # one member's content
    max_ratio: float = 1000.0  # decompressed / compressed, for a member and for the whole image
    ratio_floor_bytes: int = 64 * MiB  # ratio is only enforced once this much has been produced
    max_members: int = 2_000_000
    max_path_length: int = 4096
    timeout: float | None = None  # seconds per image
    max_spool_bytes: int = 64 * GiB  # a non-seekable member copied to a temporary file for a seeking reader
    #: Working memory one decoder may be asked for by the data it reads: a zstd window, an xz/LZMA
    #: dictionary, an LZX/LZMS window or chunk. 256 MiB reads every real image (xz -9 uses 64 MiB,
    #: zstd --long=28 256 MiB, LZMS solid chunks 32 KiB-64 MiB) yet stops a frame that asks for 2 GiB.
    max_window_bytes: int = 256 * MiB
    #: An executable whose sections are read (ELF/PE/Mach-O) is kept while its section table is parsed (in
    #: memory up to 4 MiB, else in the walk's temp dir): larger ones are listed and hashed, not split.
    max_binary_bytes: int = 256 * MiB


class WalkError(Exception):
    """A member could not be read; the message is the reason shown to the user."""

    kind = "error"
    #: Which of several sources failed (its position in ``load_many``'s arguments), when known.
    source_index: int | None = None


class LimitExceeded(WalkError):
    """A configured limit tripped; the walk stops reading the offending member or image.

    ``limit`` names the ``Limits`` field that tripped, so reports and callers never parse the message.
    """

    kind = "limit"
    #: Name of the limit that tripped (``Problem.limit``), where code must tell limits apart.
    limit: str | None = None

    def __init__(self, reason: str, limit: str | None = None) -> None:
        super().__init__(reason)
        self.limit = limit


class BudgetExhausted(LimitExceeded):
    """An image-wide limit tripped (total bytes, member count, overall ratio, time): the walk stops."""


class Unsupported(WalkError):
    """The member is recognised but this variant cannot be read (e.g. encrypted)."""

    kind = "unsupported"


class TimeoutExceeded(BudgetExhausted):
    """The per-image time budget ran out."""

    limit = "timeout"
