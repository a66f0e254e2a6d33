"""The SQLite inventory store: keys, the cheap pre-check, migrations, atomicity and concurrent writers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from inspector import portable
from inspector.store import ImageStat, InventoryStore, StoreError
from inspector.store import db as store_db
from inspector.store.schema import LATEST
from inspector.walker import walk


def _put(st: InventoryStore, image: Path, engine: str = "e1") -> str:
    inv = walk(image)
    data = portable.encode(inv)
    st.put(data, sha256=inv.root.sha256, engine=engine, image_size=inv.root.size, source=str(image),
           entries=len(inv.entries), unpacked_size=0, complete=inv.complete, image=ImageStat.of(image))
    return inv.root.sha256


def test_stored_inventory_reads_back_identical(built, tmp_path):
    image = built("corpus-small")[0]
    with InventoryStore(tmp_path / "s.sqlite") as st:
        sha = _put(st, image)
        assert portable.decode(st.get(sha, "e1")) == walk(image)


def test_known_file_is_found_without_hashing(built, tmp_path, monkeypatch):
    image = built("corpus-small")[1]
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, image)
        monkeypatch.setattr(store_db, "hash_file", lambda p: pytest.fail("hashed a known file"))
        assert st.lookup(image, "e1") is not None


def test_copy_under_another_name_is_found_by_content(built, tmp_path):
    image = built("corpus-small")[1]
    copy = tmp_path / "renamed.tgz"
    copy.write_bytes(image.read_bytes())
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, image)
        assert st.lookup(copy, "e1") is not None


def test_same_size_different_content_is_a_miss(built, tmp_path):
    image = built("corpus-small")[3]
    changed = tmp_path / "firmware.bin"
    data = bytearray(image.read_bytes())
    data[100] ^= 0xFF
    changed.write_bytes(bytes(data))
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, image)
        assert st.lookup(changed, "e1") is None


def test_image_of_unknown_size_is_not_hashed(built, tmp_path, monkeypatch):
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, built("corpus-small")[3])
        monkeypatch.setattr(store_db, "hash_file", lambda p: pytest.fail("hashed an image of unknown size"))
        assert st.lookup(built("corpus-small")[0], "e1") is None


def test_other_engine_fingerprint_is_a_miss(built, tmp_path):
    image = built("corpus-small")[1]
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, image, engine="old")
        assert st.lookup(image, "new") is None


def test_new_store_is_migrated_to_latest_schema_in_wal_mode(tmp_path):
    InventoryStore(tmp_path / "s.sqlite").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_from_a_newer_version_is_refused(tmp_path):
    InventoryStore(tmp_path / "s.sqlite").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        InventoryStore(tmp_path / "s.sqlite")


def test_file_that_is_not_a_store_is_a_one_line_error(tmp_path):
    (tmp_path / "s.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usable store"):
        InventoryStore(tmp_path / "s.sqlite")


def test_killed_writer_leaves_no_inventory_visible(built, tmp_path):
    image = built("corpus-small")[0]
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from inspector import portable
        from inspector.store import InventoryStore, ImageStat
        from inspector.walker import walk
        inv = walk({str(image)!r})
        st = InventoryStore(Path({str(tmp_path / "s.sqlite")!r}))
        st._commit = lambda: os.kill(os.getpid(), signal.SIGKILL)   # die inside the transaction
        st.put(portable.encode(inv), sha256=inv.root.sha256, engine="e1", image_size=1, source="x",
               entries=len(inv.entries), unpacked_size=0, complete=True, image=ImageStat.of(Path({str(image)!r})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert proc.returncode == -9
    with InventoryStore(tmp_path / "s.sqlite") as st:
        assert st.inventories() == []
        assert st.lookup(image, "e1") is None
        assert st.check() == "ok"


def test_concurrent_writers_all_land_and_store_stays_sound(built, tmp_path):
    images = built("corpus-small")
    script = textwrap.dedent("""
        import sys
        from pathlib import Path
        from inspector import portable
        from inspector.store import InventoryStore, ImageStat
        from inspector.walker import walk
        store, engine, images = sys.argv[1], sys.argv[2], sys.argv[3:]
        invs = [(Path(p), walk(p)) for p in images]
        for _ in range(5):
            for p, inv in invs:
                with InventoryStore(Path(store)) as st:
                    st.put(portable.encode(inv), sha256=inv.root.sha256, engine=engine, image_size=inv.root.size,
                           source=str(p), entries=len(inv.entries), unpacked_size=0, complete=True,
                           image=ImageStat.of(p))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "s.sqlite"), f"e{n}",
                               *map(str, images)], stderr=subprocess.PIPE) for n in range(3)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()  # type: ignore[union-attr]
    with InventoryStore(tmp_path / "s.sqlite") as st:
        assert st.check() == "ok"
        assert len(st.inventories()) == 3 * len(images)


def test_prune_drops_stale_inventories_and_forgotten_files(built, tmp_path):
    images = built("corpus-small")
    gone = tmp_path / "gone.bin"
    gone.write_bytes(b"x" * 1000)
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, images[0], engine="old")
        _put(st, images[1], engine="current")
        _put(st, gone, engine="current")
        os.unlink(gone)
        res = st.prune(keep_engine="current")
        assert res.inventories == 1
        assert res.locations >= 1
        assert sorted(i.source for i in st.inventories()) == sorted([str(gone), str(images[1])])
        assert st.lookup(images[1], "current") is not None


def test_prune_all_empties_the_store(built, tmp_path):
    with InventoryStore(tmp_path / "s.sqlite") as st:
        _put(st, built("corpus-small")[1])
        assert st.prune(everything=True).inventories == 1
        assert st.inventories() == []


def test_sha_prefix_finds_the_inventory(built, tmp_path):
    with InventoryStore(tmp_path / "s.sqlite") as st:
        sha = _put(st, built("corpus-small")[1])
        assert [i.sha256 for i in st.find(sha[:8].upper())] == [sha]
        assert st.find("zz") == []
