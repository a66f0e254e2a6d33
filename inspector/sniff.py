"""Content type of a leaf file from its first bytes: what it is when it is not a container we open.

Container formats are recognised by the handlers in ``inspector.unpack.registry``; this module names
everything else (executables, kernel modules, deltas, text) so reports can group and profiles can match.
"""

from __future__ import annotations

import struct
import zlib

from inspector import native
from inspector.streams import HEAD_SIZE

# Formats we recognise but do not (yet) open: (name, offset, magic).
_KNOWN: tuple[tuple[str, int, bytes], ...] = (
    ("vmtar", 257, b"visor  \x00"),
    ("wim", 0, b"MSWIM\x00\x00\x00"),
    ("squashfs", 0, b"hsqs"),
    ("pdf", 0, b"%PDF-"),
    ("png", 0, b"\x89PNG\r\n\x1a\n"),
    ("jpeg", 0, b"\xff\xd8\xff"),
    ("gif", 0, b"GIF8"),
    ("lz4", 0, b"\x04\x22\x4d\x18"),
    ("lzip", 0, b"LZIP"),
    ("pkcs7-pem", 0, b"-----BEGIN PKCS7-----"),
    ("pem", 0, b"-----BEGIN "),
    ("java-class", 0, b"\xca\xfe\xba\xbe"),
    ("xml", 0, b"<?xml"),
    ("qcow", 0, b"QFI\xfb"),
    ("vhdx", 0, b"vhdxfile"),
    ("vmdk", 0, b"KDMV"),
    ("ext-fs", 1080, b"\x53\xef"),
)


#: The offset-0 magics of ``_KNOWN`` by their first byte, in ``_KNOWN`` order (one dict lookup per member).
_BY_FIRST_BYTE: dict[int, tuple[tuple[str, bytes], ...]] = {}
for _name, _offset, _magic in _KNOWN:
    if _offset == 0:
        _BY_FIRST_BYTE[_magic[0]] = (*_BY_FIRST_BYTE.get(_magic[0], ()), (_name, _magic))
_DEEP_FIRST = tuple((n, o, m) for n, o, m in _KNOWN[:1] if o)  # vmtar: checked before the offset-0 magics
_DEEP_LAST = tuple((n, o, m) for n, o, m in _KNOWN[1:] if o)  # ext-fs: after them
assert all(o == 0 for _n, o, _m in _KNOWN[1:-1]), "keep _KNOWN's deep magics first and last"
_MACH_O = (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
#: Bytes looked at to tell text from data.
_TEXT_SAMPLE = 8192
#: Every prefix ``detect_type`` tests before it tells text from data, as (offset, bytes): a head that starts
#: with none of them is text or data, which ``native.text_or_data`` tells in C the way ``_looks_text`` does.
#: A new test in ``detect_type`` puts its prefix here.
_PREFIXES: tuple[tuple[int, bytes], ...] = ((0, b"\x7fELF"), (0, b"MZ"), (0, b"PA"), (4, b"PA"),
                                             *((o, m) for _n, o, m in _KNOWN), *((0, m) for m in _MACH_O),
                                             (0, b"DC"), (0, b"#!"))


def detect_type(head: bytes) -> str:
    """Name the type of content starting with ``head`` (``elf``, ``pe``, ``text``, ``data``, ...)."""
    fast = native.text_or_data
    if fast is not None:  # once per member: most are plain text or data, told in C
        kind = fast(head, _PREFIXES)
        if kind is not None:
            return kind
    if not head:
        return "empty"
    if head.startswith(b"\x7fELF"):
        return _elf(head)
    if head.startswith(b"MZ"):
        return _pe(head)
    if head.startswith(b"PA") or head.startswith(b"PA", 4):
        delta = msdelta_type(head)
        if delta is not None:
            return delta
    for name, offset, magic in _DEEP_FIRST:
        if head.startswith(magic, offset):
            return name
    for name, magic in _BY_FIRST_BYTE.get(head[0], ()):
        if head.startswith(magic):
            return name
    for name, offset, magic in _DEEP_LAST:
        if head.startswith(magic, offset):
            return name
    if head.startswith(_MACH_O):
        return "mach-o"
    if head.startswith(b"DC") and len(head) > 3 and head[2:3].isupper() and head[3] == 1:
        return "msdelta-dcm"
    if head.startswith(b"#!"):
        return "script"
    return "text" if _looks_text(head if len(head) <= _TEXT_SAMPLE else head[:_TEXT_SAMPLE]) else "data"


def msdelta_type(head: bytes, size: int | None = None) -> str | None:
    """``msdelta-pa30``/``-pa31``/``-pa19`` for a Microsoft delta (optionally CRC32-prefixed), else None.

    Update packages store deltas either bare (``PA30`` + FILETIME + bitstream) or with a little-endian
    CRC32 of the rest in front. A prefixed delta counts only when the CRC matches, which can be checked
    when ``head`` holds the whole content (``size`` known, or ``head`` shorter than the sniff window);
    a longer one is accepted on the signature alone. PA30/PA31 carry a FILETIME after the signature
    whose high byte is below 3 (years before 2200), so text that happens to start with "PA30" is not
    taken for a delta; PA19 (mspatcha) carries binary option flags instead, so it must not look like text.
    """
    whole = len(head) < HEAD_SIZE or (size is not None and len(head) >= size)
    for start in (0, 4):
        sig = head[start : start + 4]
        if sig not in (b"PA30", b"PA31", b"PA19"):
            continue
        if start == 4:
            if head[:4] in (b"PA30", b"PA31", b"PA19"):
                continue
            if whole and zlib.crc32(head[4:]) != int.from_bytes(head[:4], "little"):
                continue
        if sig == b"PA19":
            if len(head) < start + 8 or _looks_text(head[start : start + 16]):
                continue
        elif len(head) < start + 12 or head[start + 11] >= 3:
            continue
        return "msdelta-" + sig.decode().lower()
    return None


def _elf(head: bytes) -> str:
    if len(head) < 18:
        return "elf"
    etype = struct.unpack_from("<H" if head[5] == 1 else ">H", head, 16)[0]
    return {1: "elf-relocatable", 2: "elf-executable", 3: "elf-shared", 4: "elf-core"}.get(etype, "elf")


def _pe(head: bytes) -> str:
    if len(head) >= 0x40:
        (off,) = struct.unpack_from("<I", head, 0x3C)
        if off + 4 <= len(head) and head[off : off + 4] == b"PE\x00\x00":
            return "pe"
    return "dos-mz"


#: Control bytes that never occur in text (everything below 0x20 but tab, newline, form feed, return).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
#: Bytes that count as printable in a single-byte text: ASCII graphics, space, tab, newline, return.
_PRINTABLE_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def _looks_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multi-byte character cut at the end of the sample is fine
            # A single-byte (latin-1) text: no control bytes, and mostly printable ASCII. Counted by
            # deleting byte classes in C (``translate``), not byte by byte in Python.
            return len(sample.translate(None, _CONTROL_BYTES)) == len(sample) and _printable(sample)
    return True


def _printable(sample: bytes) -> bool:
    return len(sample) - len(sample.translate(None, _PRINTABLE_BYTES)) >= 0.9 * len(sample)
