"""Unsafe and duplicate member names are listed as stored (escaped), flagged as warnings, never used as
paths; the result stays complete because nothing is missing."""

from __future__ import annotations

import pytest

from fixtures.hostile import DUPLICATE, UNSAFE_NAMES
from inspector.model import NEST
from inspector.names import display_name, member_path, unsafe_reason
from inspector.walker import walk

ARCHIVES = ["names.tar", "names.zip", "names.cpio", "names.a", "names.tar.gz"]


def _names(built, name: str):
    return next(p for p in built("hostile-names") if p.name == name)


@pytest.mark.parametrize("archive", ARCHIVES)
@pytest.mark.parametrize("case", sorted(UNSAFE_NAMES))
def test_unsafe_name_is_listed_and_warned_about_as_stored(built, archive: str, case: str) -> None:
    raw = UNSAFE_NAMES[case]
    if archive == "names.zip" and case == "utf8":
        pytest.skip("a ZIP name without the UTF-8 flag is CP437 by the specification: every byte is valid")
    inv = walk(_names(built, archive))
    shown = f"'{display_name(raw)}'"
    [warning] = [p for p in inv.problems if shown in p.reason]
    assert warning.kind == "warning" and "never extracted" in warning.reason
    assert warning.path.endswith(NEST + member_path(raw))
    assert warning.path in inv.by_path()


@pytest.mark.parametrize("archive", ARCHIVES + ["names.iso"])
def test_duplicate_name_is_listed_twice_with_one_warning(built, archive: str) -> None:
    inv = walk(_names(built, archive))
    dups = [e for e in inv.entries if e.path.endswith(NEST + DUPLICATE.decode())]
    assert len(dups) == 2 and dups[0].sha256 != dups[1].sha256
    [warning] = [p for p in inv.problems if "duplicate member name" in p.reason]
    assert warning.kind == "warning"


@pytest.mark.parametrize("archive", ARCHIVES + ["names.iso"])
def test_name_warnings_leave_the_inventory_complete(built, archive: str) -> None:
    inv = walk(_names(built, archive))
    assert inv.complete and all(p.kind == "warning" for p in inv.problems)


def test_nul_in_a_zip_name_is_escaped_not_truncated(built) -> None:
    inv = walk(_names(built, "names.zip"))
    assert f"names.zip{NEST}nul\\x00hidden.txt" in inv.by_path()
    assert any("contains a NUL character" in p.reason for p in inv.problems)


def test_zip_name_flagged_utf8_but_not_utf8_is_listed_escaped_with_a_one_line_warning(built) -> None:
    # Was: the whole ZIP rejected as unreadable. Now the member is kept (issue 16: good members are never lost).
    inv = walk(_names(built, "names-utf8-flag.zip"))
    [member] = inv.entries[1:]
    assert member.name == "bad-\\xff.txt" and member.sha256 is not None
    [p] = inv.problems
    assert p.kind == "warning" and "UTF-8" in p.reason and "\n" not in p.line()


@pytest.mark.parametrize(("raw", "reason"), [
    (b"../x", "'..' component"), ("a/../../x", "'..' component"), ("/etc/passwd", "absolute path"),
    ("\\\\server\\share", "absolute path"), ("c:evil", "drive letter"), ("a\\b", "backslash"),
    ("a\x00b", "NUL"), ("a\x1bb", "control"), (b"\xff", "UTF-8"), ("a\udcffb", "UTF-8"),
])
def test_unsafe_reason_names_the_danger(raw: str | bytes, reason: str) -> None:
    assert reason in (unsafe_reason(raw) or "")


@pytest.mark.parametrize("raw", ["usr/bin/x", "./etc/motd", "a..b/c", "dir/", "é/ü.txt"])
def test_ordinary_names_are_not_flagged(raw: str) -> None:
    assert unsafe_reason(raw) is None
