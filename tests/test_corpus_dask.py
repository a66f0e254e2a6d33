"""``inspector corpus --executor dask://…`` on a real dask.distributed cluster started here, on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from inspector import portable
from inspector.store import InventoryStore
from inspector.walker import walk

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes and a scheduler on 127.0.0.1, no dashboard."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=40) as c:
        yield c.scheduler_address


def test_cluster_workers_inventory_the_corpus_into_the_store(built, tmp_path, cluster):
    d = tmp_path / "corpus"
    d.mkdir()
    for p in built("corpus-small"):
        shutil.copy(p, d / p.name)
    store = tmp_path / "merged.sqlite"
    address = cluster.replace("tcp://", "dask://")
    proc = subprocess.run([sys.executable, "-m", "inspector", "corpus", str(d), "--store", str(store),
                           "--executor", address, "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["status"] for line in proc.stdout.splitlines()] == ["walked"] * len(list(d.iterdir()))
    with InventoryStore(store) as st:
        merged = {i.sha256: portable.decode(st.data(i)) for i in st.inventories()}
        assert st.check() == "ok"
    expected = {inv.root.sha256: inv for inv in (walk(p) for p in sorted(d.iterdir()))}
    assert merged.keys() == expected.keys()
    for sha, inv in expected.items():
        assert merged[sha].entries[1:] == inv.entries[1:]


def test_unreachable_scheduler_is_a_one_line_error(built, tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(built("corpus-small")[3], d / "fw.bin")
    proc = subprocess.run([sys.executable, "-m", "inspector", "corpus", str(d), "--store", str(tmp_path / "s"),
                           "--executor", "dask://127.0.0.1:9"], capture_output=True, text=True, timeout=120,
                          check=False, env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Dask scheduler" in proc.stderr
