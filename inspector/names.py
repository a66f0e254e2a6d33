"""Member names as they are displayed and compared: never used to build a path on disk.

Archives carry names with ``..``, absolute paths, backslashes, control characters or invalid UTF-8.
inspector shows them as they are, escaped so that one name is one printable line.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(raw: str | bytes) -> str:
    """A printable, single-line form of a stored member name (invalid bytes and controls as ``\\xNN``)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "backslashreplace")
    else:
        text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def member_path(raw: str | bytes) -> str:
    """Canonical in-container path: ``./`` and leading ``/`` dropped, trailing ``/`` dropped."""
    name = display_name(raw)
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if name.endswith("/") and len(name) > 1:
        name = name.rstrip("/")
    return name or "."


def is_unsafe(name: str) -> bool:
    """True for names that would escape an extraction directory (reported, never followed)."""
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", name))
