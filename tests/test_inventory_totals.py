"""Footprint figures over an inventory, and the JSON round trip."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

from inspector.inventory import container_summaries, totals
from inspector.serialize import inventory_from_dict, inventory_to_dict
from inspector.walker import walk


def _tgz(tmp_path: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in {"a": b"A" * 1000, "b/c": b"C" * 234}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    p = tmp_path / "r.tgz"
    p.write_bytes(gzip.compress(buf.getvalue(), mtime=0))
    return p


def test_unpacked_footprint_is_the_sum_of_leaf_files_only(tmp_path: Path) -> None:
    t = totals(walk(_tgz(tmp_path)))
    assert t.unpacked_size == 1234
    assert t.files == 2
    assert t.containers == 2


def test_download_size_is_the_image_file_size(tmp_path: Path) -> None:
    p = _tgz(tmp_path)
    assert totals(walk(p)).download_size == p.stat().st_size


def test_container_summary_reports_stored_and_unpacked_bytes(tmp_path: Path) -> None:
    p = _tgz(tmp_path)
    rows = {c.path: c for c in container_summaries(walk(p))}
    assert rows["r.tgz"].stored_size == p.stat().st_size  # the payload's compressed bytes
    assert rows["r.tgz!/r.tar"].unpacked_size == 1234
    assert rows["r.tgz!/r.tar"].files == 2


def test_json_round_trip_keeps_every_entry(tmp_path: Path) -> None:
    inv = walk(_tgz(tmp_path))
    data = json.loads(json.dumps(inventory_to_dict(inv)))
    assert data["schema"] == "inspector.inventory" and data["schema_version"] == 1
    back = inventory_from_dict(data)
    assert back.entries == inv.entries


def test_code_and_data_bytes_of_executables_are_summed_in_the_totals(tmp_path: Path) -> None:
    from fixtures.common import pseudo_random, tar_bytes
    from fixtures.executables import elf_image, pe_image

    files = {"bin/tool": elf_image(pseudo_random("tool", 9000), 10_000),
             "efi/boot.efi": pe_image(pseudo_random("boot", 9000), 12_000), "README": b"plain text\n" * 50}
    p = tmp_path / "bins.tar"
    p.write_bytes(tar_bytes(files, compress=None))
    inv = walk(p)
    binaries = [e.meta["binary"] for e in inv.entries if "binary" in e.meta]
    t = totals(inv)
    assert t.executables == 2 == len(binaries)
    assert t.code_bytes == sum(b["code_bytes"] for b in binaries) > 0
    assert t.data_bytes == sum(b["data_bytes"] for b in binaries) > 0


def test_summary_summed_during_the_walk_equals_one_pass_over_the_entries(tmp_path: Path) -> None:
    from inspector.inventory import Summariser

    inner = _tgz(tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i, name in enumerate(("x/r.tgz", "y/r2.tgz")):
            data = inner.read_bytes() + bytes(i)
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    outer = tmp_path / "outer.tar"
    outer.write_bytes(buf.getvalue())
    inv = walk(outer)
    again = Summariser()
    for e in inv.entries:
        again.add(e)
    assert totals(inv) == again.totals(inv.problems, inv.complete)
    assert container_summaries(inv) == again.container_summaries()
    assert [c.path for c in container_summaries(inv)][:2] == ["outer.tar", "outer.tar!/x/r.tgz"]
