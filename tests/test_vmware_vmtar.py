"""vmtar: our streaming reader against the fixture definition, GNU tar / tarfile and dissect.hypervisor."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from fixtures import vmware as vm
from inspector.model import EntryKind, Inventory
from inspector.walker import walk
from tests.conftest import require_tool

FILES = vm.release("a").vib("esx-base").payloads[2].files


def _vmtar(built, name: str) -> Path:
    return next(p for p in built("esxi-vmtar") if p.name == name)


def _leaves(inv: Inventory) -> dict[str, tuple[int | None, str | None]]:
    """Leaf files below the innermost vmtar, by their path inside it."""
    return {e.path.rsplit("!/", 1)[1]: (e.size, e.sha256) for e in inv.entries
            if e.is_leaf_file and e.depth > 0}


def _expected() -> dict[str, tuple[int, str]]:
    return {p: (len(d), hashlib.sha256(d).hexdigest()) for p, d in FILES.items()}


def test_our_reader_returns_every_file_with_its_real_content(built):
    inv = walk(_vmtar(built, "s.vtar"))
    assert inv.complete and not inv.problems
    assert inv.root.container == "vmtar"
    assert _leaves(inv) == _expected()
    kinds = {e.name: e.kind for e in inv.entries[1:]}
    assert kinds["lib64/libc.so"] is EntryKind.SYMLINK
    assert kinds["usr/lib/vmware/hostd/docroot"] is EntryKind.DIR


def test_gnu_tar_exits_zero_but_lists_the_vmtar_wrongly(built):
    require_tool("tar")
    path = _vmtar(built, "ixgbe.vtar")
    res = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True, check=False)
    listed = {n.rstrip("/") for n in res.stdout.split()}
    assert res.returncode == 0
    assert "usr/share/hwdata/driver.pciids.d/ixgbe.ids" not in listed and "usr" not in listed
    ours = {e.name for e in walk(path).entries[1:]}
    assert "usr/share/hwdata/driver.pciids.d/ixgbe.ids" in ours and "usr" in ours


def test_python_tarfile_returns_header_bytes_as_content(built):
    path = _vmtar(built, "ixgbe.vtar")
    with tarfile.open(path) as tf:
        f = tf.extractfile("etc/vmware/driver.map.d/ixgbe.map")
        assert f is not None
        theirs = f.read()
        names = set(tf.getnames())
    real = vm.IXGBE_FILES["etc/vmware/driver.map.d/ixgbe.map"]
    assert theirs != real and theirs.startswith(b"usr/\x00")  # the next header, not the file
    assert not set(vm.IXGBE_FILES) <= names
    inv = walk(path)
    got = next(e for e in inv.entries if e.name == "etc/vmware/driver.map.d/ixgbe.map")
    assert got.sha256 == hashlib.sha256(real).hexdigest()


def test_listing_matches_dissect_hypervisor_as_independent_oracle(built):
    vmtar_mod = pytest.importorskip("dissect.hypervisor.util.vmtar")
    path = _vmtar(built, "s.vtar")
    with open(path, "rb") as fh, tarfile.TarFile(fileobj=fh, tarinfo=vmtar_mod.VisorTarInfo) as tf:
        theirs = {}
        for m in tf.getmembers():
            if m.isfile():
                f = tf.extractfile(m)
                assert f is not None
                theirs[m.name] = (m.size, hashlib.sha256(f.read()).hexdigest())
    assert theirs == _leaves(walk(path))


@pytest.mark.parametrize("name,chain", [
    ("s-5x.v00", ["gzip", "vmtar"]),  # 5.x: gzip(vmtar), FNAME stage.vtar
    ("s-60.v00", ["gzip", "vmtar"]),  # 6.0: gzip(vmtar), FNAME s.vtar
    ("s-65.v00", ["gzip", "xz", "vmtar"]),  # 6.5: gzip(xz(vmtar))
    ("s-67.v00", ["gzip", "xz", "vmtar"]),  # 6.7-8.x: gzip(xz(vmtar) + 256-byte signature)
    ("s-90.v00", ["zstd", "vmtar"]),  # 9.x: zstd + footer (footer modelled)
])
def test_each_compression_layer_reaches_the_same_files(built, name, chain):
    inv = walk(_vmtar(built, name))
    assert inv.complete
    containers = [e.container for e in inv.entries if e.container and e.opened]
    assert containers == chain
    assert _leaves(inv) == _expected()


def test_xz_signature_tail_is_metadata_not_a_problem(built):
    inv = walk(_vmtar(built, "s-67.v00"))
    xz = next(e for e in inv.entries if e.container == "xz")
    assert xz.meta["trailing_bytes"] == 256
    assert xz.meta["signature"].startswith("vmware_esx67")
    assert inv.problems == ()


def test_gzip_fname_names_the_payload(built):
    inv = walk(_vmtar(built, "s-5x.v00"))
    assert inv.entries[1].name == "stage.vtar"


def test_inline_layout_with_offset_zero_is_read(built):
    inv = walk(_vmtar(built, "s-inline.vtar"))
    assert inv.complete
    assert _leaves(inv) == _expected()


# -- bad input ------------------------------------------------------------------------------------------
def _entries():
    return vm.tree_entries({"a/one": b"1" * 700, "a/two": b"2" * 900, "a/three": b"3" * 300})


def _index(entries, path: str) -> int:
    return next(i for i, e in enumerate(entries) if e.path == path)


def _walk_bytes(tmp_path: Path, data: bytes) -> Inventory:
    p = tmp_path / "bad.vtar"
    p.write_bytes(data)
    return walk(p)


def _problem(inv: Inventory, member: str):
    found = [p for p in inv.problems if p.path.endswith(f"!/{member}")]
    assert found, inv.problems
    return found[0]


def _good_sizes(inv: Inventory) -> dict[str, int | None]:
    return {e.name: e.size for e in inv.entries if e.is_leaf_file and e.sha256}


def test_offset_pointing_backwards_is_reported_against_the_member(tmp_path):
    entries = _entries()  # order: a/, a/one, a/three, a/two
    blob = vm.vmtar_bytes(entries)
    one = int.from_bytes(blob[_index(entries, "a/one") * 512 + 496:][:4], "little")
    bad = vm.set_header_field(blob, _index(entries, "a/two"), offset=one)
    inv = _walk_bytes(tmp_path, bad)
    prob = _problem(inv, "a/two")
    assert "backwards" in prob.reason and "data offset" in prob.reason
    assert _good_sizes(inv) == {"a/one": 700, "a/three": 300}


def test_overlapping_offset_is_reported_against_the_member(tmp_path):
    entries = _entries()
    blob = vm.vmtar_bytes(entries)
    three = int.from_bytes(blob[_index(entries, "a/three") * 512 + 496:][:4], "little")
    bad = vm.set_header_field(blob, _index(entries, "a/two"), offset=three + 100)
    inv = _walk_bytes(tmp_path, bad)
    assert "overlaps" in _problem(inv, "a/two").reason
    assert _good_sizes(inv) == {"a/one": 700, "a/three": 300}


def test_offset_past_the_end_is_reported_against_the_member(tmp_path):
    entries = _entries()
    bad = vm.set_header_field(vm.vmtar_bytes(entries), _index(entries, "a/three"), offset=1 << 20)
    inv = _walk_bytes(tmp_path, bad)
    assert "past the end" in _problem(inv, "a/three").reason
    assert _good_sizes(inv) == {"a/one": 700}
    assert _problem(inv, "a/two")  # its data lay before the bogus offset, now skipped past


def test_header_checksum_mismatch_is_reported_and_the_rest_is_read(tmp_path):
    entries = _entries()
    bad = vm.set_header_field(vm.vmtar_bytes(entries), _index(entries, "a/three"), name=b"a/thrEE",
                              fix_checksum=False)
    inv = _walk_bytes(tmp_path, bad)
    assert "checksum mismatch" in _problem(inv, "a/thrEE").reason
    assert _good_sizes(inv) == {"a/one": 700, "a/two": 900}


def test_vmtar_is_never_handed_to_the_tar_reader():
    from inspector.unpack.base import SniffInfo
    from inspector.unpack.registry import find_handler

    head = vm.vmtar_bytes(_entries())[:65536]
    handler = find_handler(SniffInfo(head=head, name="x.tar", size=None))
    assert handler is not None and handler.name == "vmtar"


def test_truncated_header_area_is_a_clear_error(tmp_path):
    inv = _walk_bytes(tmp_path, vm.vmtar_bytes(_entries())[:512 * 2])
    assert not inv.complete
    assert any("no zero block" in p.reason for p in inv.problems)


def test_reader_never_seeks(tmp_path):
    """The reader works on a forward-only stream (a gzip/xz payload)."""
    from inspector.limits import Limits
    from inspector.streams import Budget
    from inspector.unpack.base import UnpackContext
    from inspector.unpack.vmtar import VmtarHandler

    class ForwardOnly(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b):  # type: ignore[override]
            return self._b.readinto(b)

    blob = vm.vmtar_bytes(_entries())
    ctx = UnpackContext(path="x", name="x", size=None, head=blob[:65536], budget=Budget(Limits()),
                        problem=lambda *a: None)
    got = {}
    for m in VmtarHandler().members(ForwardOnly(blob), ctx):  # type: ignore[arg-type]
        if m.kind is EntryKind.FILE:
            got[m.name] = m.open().read()  # type: ignore[misc]
    assert got == {"a/one": b"1" * 700, "a/three": b"3" * 300, "a/two": b"2" * 900}
