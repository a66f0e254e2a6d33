"""Display names of hostile member names, and content sniffing of leaves."""

from __future__ import annotations

from inspector.names import display_name, is_unsafe, member_path
from inspector.sniff import detect_type


def test_control_characters_are_escaped_for_display() -> None:
    assert display_name("a\nb\x00c") == "a\\x0ab\\x00c"


def test_invalid_utf8_bytes_are_shown_escaped() -> None:
    assert display_name(b"caf\xe9") == "caf\\xe9"


def test_member_paths_drop_dot_slash_and_leading_slash() -> None:
    assert member_path("./usr/bin/") == "usr/bin"
    assert member_path("/etc/passwd") == "etc/passwd"


def test_traversal_and_absolute_names_are_flagged_unsafe() -> None:
    assert is_unsafe("../../etc/passwd")
    assert is_unsafe("/abs")
    assert is_unsafe("C:\\Windows")
    assert not is_unsafe("usr/bin/x")


def test_pe_and_elf_and_text_are_told_apart() -> None:
    pe = bytearray(b"MZ" + b"\x00" * 0x3A + (0x40).to_bytes(4, "little") + b"PE\x00\x00" + b"\x00" * 64)
    assert detect_type(bytes(pe)) == "pe"
    assert detect_type(b"\x7fELF\x01\x01\x01" + b"\x00" * 9 + b"\x01\x00" + b"\x00" * 50) == "elf-relocatable"
    assert detect_type(b"plain text\n") == "text"
    assert detect_type(b"") == "empty"
