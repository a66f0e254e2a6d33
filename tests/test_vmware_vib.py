"""VIBs: descriptor metadata, payload checks against the descriptor, bad descriptors."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from fixtures import vmware as vm
from inspector.model import Inventory
from inspector.walker import walk
from tests.conftest import require_tool


def _vib(built, name: str) -> Path:
    return next(p for p in built("esxi-vib") if name in p.name)


def _write(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "bad.vib"
    p.write_bytes(data)
    return p


def _problems(inv: Inventory, member: str) -> list[str]:
    return [f"{p.kind}: {p.reason}" for p in inv.problems if p.path.endswith(f"!/{member}")]


def test_descriptor_becomes_container_metadata(built):
    inv = walk(_vib(built, "net-ixgbe"))
    meta = inv.root.meta["vib"]
    assert inv.root.container == "vib"
    assert meta["vib_id"] == "Intel_bootbank_net-ixgbe_3.7.13-1OEM.500.0.0.472560"
    assert (meta["vendor"], meta["type"], meta["acceptance_level"]) == ("Intel", "bootbank", "partner")
    assert meta["live_install_allowed"] is False and meta["reboot_required"] is True
    assert meta["maintenance_mode"] is True and meta["files"] == 2
    assert [(p["name"], p["type"]) for p in meta["payloads"]] == [("net-ixgb", "vgz")]
    assert inv.root.meta["label"] == "net-ixgbe 3.7.13-1OEM.500.0.0.472560 (VIB)"


def test_member_list_matches_ar_tool(built):
    require_tool("ar")
    path = _vib(built, "esx-base")
    theirs = subprocess.run(["ar", "t", str(path)], capture_output=True, text=True, check=True).stdout.split()
    ours = [e.name for e in walk(path).entries if e.depth == 1]
    assert ours == theirs == ["descriptor.xml", "sig.pkcs7", "b", "k", "s"]


def test_payloads_match_descriptor_checksums(built):
    inv = walk(_vib(built, "esx-base"))
    assert inv.complete and inv.problems == ()
    declared = {p["name"]: p for p in inv.root.meta["vib"]["payloads"]}
    for e in inv.entries:
        if e.depth == 1 and e.name in declared:
            sha = next(c["value"] for c in declared[e.name]["checksums"] if c["type"] == "sha-256")
            assert (e.size, e.sha256) == (declared[e.name]["size"], sha)
            assert e.meta["payload_type"] == declared[e.name]["type"]


def test_gunzip_sha1_in_descriptor_is_that_of_the_unpacked_payload(built):
    inv = walk(_vib(built, "net-ixgbe"))
    vtar = next(e for e in inv.entries if e.container == "vmtar")
    p = vm.release("a").vib("net-ixgbe").payloads[0]
    sha1 = next(c["value"] for c in inv.root.meta["vib"]["payloads"][0]["checksums"] if c["type"] == "sha-1")
    assert hashlib.sha1(vm.payload_unpacked(p)).hexdigest() == sha1
    assert vtar.size == len(vm.payload_unpacked(p))


def test_lying_descriptor_is_reported_as_mismatch(tmp_path):
    v = vm.release("a").vib("net-ixgbe")
    data = vm.vib_bytes(v, descriptor=vm.descriptor_xml(v, lie_size=7, lie_sha=True))
    inv = walk(_write(tmp_path, data))
    probs = _problems(inv, "net-ixgb")
    assert any(p.startswith("mismatch: size") for p in probs)
    assert any(p.startswith("mismatch: sha-256") for p in probs)
    assert inv.complete  # the content was read in full; only the metadata lies
    assert sum(e.is_leaf_file for e in inv.entries) == 2 + 2  # descriptor, sig, two payload files


def test_descriptor_that_is_not_xml_is_an_error_and_payloads_are_still_read(tmp_path):
    v = vm.release("a").vib("net-ixgbe")
    inv = walk(_write(tmp_path, vm.vib_bytes(v, descriptor=b"<vib><name>broken")))
    assert any("not well-formed XML" in p for p in _problems(inv, "descriptor.xml"))
    assert "vib" not in inv.root.meta
    names = {e.name for e in inv.entries if e.is_leaf_file}
    assert {"usr/lib/vmware/vmkmod/ixgbe", "etc/vmware/driver.map.d/ixgbe.map"} <= names


def test_descriptor_with_entity_expansion_is_refused(tmp_path):
    bomb = b'<!DOCTYPE vib [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><vib><name>&b;</name></vib>'
    v = vm.release("a").vib("net-ixgbe")
    inv = walk(_write(tmp_path, vm.vib_bytes(v, descriptor=bomb)))
    assert any("forbidden XML" in p for p in _problems(inv, "descriptor.xml"))


def test_payload_missing_from_the_vib_is_reported(tmp_path):
    v = vm.release("a").vib("esx-base")
    inv = walk(_write(tmp_path, vm.vib_bytes(v, drop_payload="k")))
    assert any("missing from the VIB" in p for p in _problems(inv, "k"))


def test_plain_ar_is_not_taken_for_a_vib(tmp_path):
    p = tmp_path / "x.a"
    p.write_bytes(vm.ar_bytes([("hello.o", b"abc"), ("descriptor.xml", b"<vib/>")]))
    assert walk(p).root.container != "vib"
