"""Member names as they are displayed and compared: never used to build a path on disk.

Archives carry names with ``..``, absolute paths, backslashes, control characters or invalid UTF-8.
inspector shows them as they are, escaped so that one name is one printable line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

#: C0 and C1 controls and the Unicode line/paragraph separators: each would break a name's single line
#: (``str.splitlines`` splits at \x85 too) or drive a terminal (\x9b is CSI).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def display_name(raw: str | bytes) -> str:
    """A printable, single-line form of a stored member name (invalid bytes and controls as ``\\xNN``)."""
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "backslashreplace")
    else:
        text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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


_DRIVE = re.compile(r"^[A-Za-z]:")
_SURROGATE = re.compile("[\udc80-\udcff]")


def unsafe_reason(raw: str | bytes) -> str | None:
    """Why a stored member name must never become a path on disk, or None when it is harmless.

    Looks at the name as stored (before ``member_path`` drops a leading ``/``), so an absolute name is
    still seen as one. The name is only ever reported, never used to build a path.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "not valid UTF-8"
    else:
        text = raw
        if _SURROGATE.search(text):
            return "not valid UTF-8"
    if "\x00" in text:
        return "contains a NUL character"
    if _CONTROL.search(text):
        return "contains control characters"
    if text.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(text):
        return "Windows drive letter"
    if ".." in text.replace("\\", "/").split("/"):
        return "'..' component escapes the extraction directory"
    if "\\" in text:
        return "backslash, a directory separator on Windows"
    return None


class UnsafeNameSink(Protocol):
    """Where an unpacker reports an unsafe stored name (``UnpackContext`` is one): recorded, not parsed."""

    def unsafe_name(self, name: str, stored: str, why: str) -> None:
        """Record that member ``name`` was stored as ``stored`` (escaped), unsafe because ``why``."""
        ...


Report = Callable[[str | None, str, str], None]


def unsafe_name_message(stored: str, why: str) -> str:
    """The one-line warning for an unsafe stored name."""
    return f"unsafe member name '{stored}' ({why}): listed, never extracted"


#: A name that is its own canonical path and safe as it is: plain ASCII path segments, no ``//``, no
#: leading ``/`` or ``./``, no trailing ``/`` (and, checked apart, no ``..``). Almost every real name.
_PLAIN = re.compile(r"[A-Za-z0-9_+@=,~%#-][A-Za-z0-9._+@=,~%# -]*(?:/[A-Za-z0-9._+@=,~%# -]+)*")


def checked_member_path(raw: str | bytes, sink: UnsafeNameSink | Report) -> str:
    """``member_path(raw)``, reporting an unsafe stored name as a warning to ``sink``.

    Unpackers call this where they make member names, passing their ``UnpackContext`` (which records
    the name so the walker does not warn twice) or a plain ``problem`` callback. The warning shows the
    name exactly as stored (escaped), not the canonical path it is listed under.
    """
    if type(raw) is str and ".." not in raw and _PLAIN.fullmatch(raw):
        return raw  # the common case, decided by one regular expression
    name = member_path(raw)
    why = unsafe_reason(raw)
    if why is not None:
        record = getattr(sink, "unsafe_name", None)
        if record is not None:
            record(name, display_name(raw), why)
        else:
            sink(name, unsafe_name_message(display_name(raw), why), "warning")  # type: ignore[operator]
    return name
