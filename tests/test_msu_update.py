"""MSU and update CABs: KB/properties/identity metadata, components, deltas, LZX, damaged cabinets."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

from fixtures.microsoft import pa30_delta
from inspector.model import EntryKind
from inspector.sniff import detect_type
from inspector.walker import walk
from tests.conftest import require_tool

MSU = "Windows6.0-KB958644-x64.msu"
INNER = "Windows6.0-KB958644-x64.cab"


def _file(built, fixture: str, name: str) -> Path:  # noqa: ANN001 - pytest fixture
    return next(p for p in built(fixture) if p.name == name)


def _members(inv, container: str) -> dict[str, object]:  # noqa: ANN001
    prefix = container + "!/"
    return {e.path[len(prefix):]: e for e in inv.entries
            if e.path.startswith(prefix) and "!/" not in e.path[len(prefix):]}


def _cabextract_list(path: Path) -> dict[str, int]:
    out = subprocess.run(["cabextract", "-l", str(path)], capture_output=True, text=True, check=True).stdout
    rows = [line.split(" | ") for line in out.splitlines() if line.count(" | ") == 2]
    return {name: int(size) for size, _date, name in rows[1:]}


def test_msu_is_read_as_msu_with_kb_properties_and_package_identity(built) -> None:  # noqa: ANN001
    inv = walk(_file(built, "msu", MSU))
    meta = inv.root.meta
    assert inv.root.container == "msu"
    assert meta["kb"] == "KB958644" and meta["label"] == "KB958644 (msu)"
    assert meta["properties"]["KB Article Number"] == "958644"
    assert meta["properties"]["Installer Engine"] == "Component Based Servicing"
    assert meta["applicability"] == {"Applies to": "Windows Server 2008", "Processor Architecture": "x64",
                                     "Package Type": "Update", "Installation Type": "Hotfix"}
    assert meta["unattend"]["identity"]["name"] == "Package_for_KB958644"
    assert meta["unattend"]["source"].endswith(INNER)
    assert meta["members"] == 4 and inv.complete


def test_msu_members_match_cabextract(built) -> None:  # noqa: ANN001
    require_tool("cabextract")
    path = _file(built, "msu", MSU)
    ours = {k: e.size for k, e in _members(walk(path), MSU).items()}
    assert ours == _cabextract_list(path)


def test_update_cab_parses_update_mum(built) -> None:  # noqa: ANN001
    inv = walk(_file(built, "msu", MSU))
    inner = inv.by_path()[f"{MSU}!/{INNER}"]
    assert inner.container == "cab"
    update = inner.meta["update"]
    assert update["kb"] == "KB958644" and update["release_type"] == "Security Update"
    assert update["identity"]["processorArchitecture"] == "amd64"
    assert update["components"] == ["microsoft-windows-netapi32", "microsoft-windows-browserservice"]


def test_update_cab_tags_each_file_with_its_component_identity(built) -> None:  # noqa: ANN001
    inv = walk(_file(built, "msu", INNER))
    members = _members(inv, INNER)
    netapi = next(k for k in members if k.endswith("/netapi32.dll"))
    ident = netapi.split("/")[0]
    assert members[netapi].meta["component"] == ident
    assert members[f"{ident}.manifest"].meta["component"] == ident
    assert "component" not in members["update.mum"].meta
    comps = {c["name"]: c for c in inv.root.meta["components"]}
    assert comps["microsoft-windows-netapi32"]["files"] == 1
    assert comps["microsoft-windows-netapi32"]["bytes"] == members[netapi].size
    assert comps["microsoft-windows-browserservice"]["version"] == "6.0.6001.22289"


def test_update_cab_listing_matches_cabextract_and_gcab(built) -> None:  # noqa: ANN001
    require_tool("cabextract", "gcab")
    path = _file(built, "msu", INNER)
    ours = {k: e.size for k, e in _members(walk(path), INNER).items()}
    assert ours == _cabextract_list(path)
    gcab = subprocess.run(["gcab", "-t", str(path)], capture_output=True, text=True, check=True).stdout
    assert sorted(line.replace("\\", "/") for line in gcab.splitlines()) == sorted(ours)


def test_delta_files_are_detected_sized_and_never_expanded(built) -> None:  # noqa: ANN001
    inv = walk(_file(built, "msu", INNER))
    deltas = {k: e for k, e in _members(inv, INNER).items() if k.endswith((".dll",)) and "browserservice" in k}
    assert {k.rsplit("/", 1)[1]: (e.detected, e.size, e.container) for k, e in deltas.items()} == {
        "browser.dll": ("msdelta-pa30", 3004, None),  # CRC32-prefixed
        "srvsvc.dll": ("msdelta-pa30", 2000, None),
    }
    assert all(e.kind is EntryKind.FILE and e.is_leaf_file for e in deltas.values())


def test_crc_prefixed_delta_counts_only_when_the_crc_matches() -> None:
    good = pa30_delta("x", 500, crc_prefix=True)
    bad = struct.pack("<I", zlib.crc32(good[4:]) ^ 1) + good[4:]
    assert detect_type(good) == "msdelta-pa30"
    assert detect_type(bad) != "msdelta-pa30"


def test_text_starting_with_pa30_is_not_a_delta() -> None:
    assert detect_type(b"PA30 is the name of a delta format\n") == "text"


def test_pa19_pa31_and_dcm_manifests_are_detected() -> None:
    ft = struct.pack("<Q", 128938752000000000)
    assert detect_type(b"PA31" + ft + b"\x01\x02") == "msdelta-pa31"
    assert detect_type(b"PA19\x00\x00\x01\x00\x12\x34\x00\x00rest") == "msdelta-pa19"
    assert detect_type(b"DCM\x01PA30" + ft) == "msdelta-dcm"


def test_hand_made_lzx_cab_is_read_and_matches_cabextract(built) -> None:  # noqa: ANN001
    require_tool("cabextract")
    path = _file(built, "msu", "Windows6.0-KB950050-x64-lzx.cab")
    tested = subprocess.run(["cabextract", "-t", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0 and "All done, no errors." in tested.stdout
    inv = walk(path)
    assert inv.complete and inv.root.meta["kb"] == "KB950050"
    assert {k: e.size for k, e in _members(inv, path.name).items()} == _cabextract_list(path)
    assert all(e.sha256 for e in _members(inv, path.name).values())


def test_cab_with_bad_checksum_names_the_block_and_still_lists_every_member(built) -> None:  # noqa: ANN001
    require_tool("cabextract")
    path = _file(built, "ms-bad", "bad-checksum.cab")
    checked = subprocess.run(["cabextract", "-t", str(path)], capture_output=True, text=True).stdout
    assert "checksum error" in checked
    inv = walk(path)
    assert not inv.complete and inv.root.meta["incomplete"] is True
    first = inv.problems[0]
    assert first.path.startswith("bad-checksum.cab!/") and "Checksum error CFDATA[0]" in first.reason
    members = _members(inv, path.name)
    assert set(members) == set(_cabextract_list(path))
    assert sum(1 for e in members.values() if e.meta.get("unread")) == len(members) - 1


def test_truncated_msu_reports_the_cut_and_lists_the_members_from_the_cab_directory(built) -> None:  # noqa: ANN001
    inv = walk(_file(built, "ms-bad", "truncated.msu"))
    assert not inv.complete
    assert any(p.path == "truncated.msu" and "Truncated CAB" in p.reason for p in inv.problems)
    assert set(_members(inv, "truncated.msu")) == {
        "WSUSSCAN.cab", INNER, "Windows6.0-KB958644-x64.xml", "Windows6.0-KB958644-x64-pkgProperties.txt"}
    assert inv.root.meta["kb"] == "KB958644"
