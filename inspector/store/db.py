"""The inventory store: one SQLite file of portable inventories keyed by image content.

An image is known by its SHA-256; a table of paths with their size and mtime lets a second look at the
same file skip even the hashing. Each inventory is written in one transaction (WAL mode, so readers never
block and a killed writer leaves nothing half-written visible), and several processes may use one store at
once: writers queue on SQLite's lock with a generous busy timeout.
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from inspector.model import SCHEMA_VERSION
from inspector.store.schema import StoreVersionError, migrate
from inspector.streams import hash_file

#: Bytes copied at once into a stored inventory's blob.
_BLOCK = 1 << 20
#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT = 60.0

_INFO_COLUMNS = ("sha256, engine, schema_version, image_size, source, entries, unpacked_size, complete, "
                 "created, used, length(data)")


class StoreError(Exception):
    """The store cannot be opened or used; the message is one line for a person."""


@dataclass(frozen=True)
class StoredInfo:
    """What the store says about one inventory, without its data."""

    sha256: str
    engine: str
    schema_version: int
    image_size: int
    source: str
    entries: int
    unpacked_size: int
    complete: bool
    created: float
    used: float
    data_bytes: int


@dataclass(frozen=True)
class ImageStat:
    """Identity of an image file for the cheap pre-check: resolved path, size and mtime (ns)."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> ImageStat:
        """Stat ``path`` (raises OSError when it is missing)."""
        st = os.stat(path)
        return cls(path=str(Path(path).resolve()), size=st.st_size, mtime_ns=st.st_mtime_ns)


@dataclass(frozen=True)
class PruneResult:
    """How much ``prune`` removed."""

    inventories: int
    locations: int
    bytes_freed: int


class InventoryStore:
    """An open store file. Use as a context manager, or call ``close``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open store ({exc})") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            migrate(self._conn)
        except StoreVersionError as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: {exc}") from None
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"{self.path}: not a usable store ({exc})") from None

    def close(self) -> None:
        """Close the connection (a pending transaction is rolled back by SQLite)."""
        self._conn.close()

    def __enter__(self) -> InventoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything in it becomes visible at once, or not at all."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._commit()

    def _commit(self) -> None:
        self._conn.execute("COMMIT")

    # -- lookups ------------------------------------------------------------------------------------
    def sha_for(self, image: ImageStat) -> str | None:
        """The image's SHA-256 if this exact file (path, size, mtime) was seen before."""
        row = self._conn.execute(
            "SELECT sha256 FROM locations WHERE path = ? AND size = ? AND mtime_ns = ?",
            (image.path, image.size, image.mtime_ns),
        ).fetchone()
        return row[0] if row else None

    def has_size(self, size: int, engine: str) -> bool:
        """Whether any inventory of an image of exactly ``size`` bytes is stored (else hashing is pointless)."""
        row = self._conn.execute(
            "SELECT 1 FROM inventories WHERE image_size = ? AND engine = ? AND schema_version = ? LIMIT 1",
            (size, engine, SCHEMA_VERSION),
        ).fetchone()
        return row is not None

    def get(self, sha256: str, engine: str) -> bytes | None:
        """The portable inventory bytes for an image's content under a walk fingerprint, if stored."""
        row = self._conn.execute(
            "SELECT data FROM inventories WHERE sha256 = ? AND engine = ? AND schema_version = ?",
            (sha256, engine, SCHEMA_VERSION),
        ).fetchone()
        return bytes(row[0]) if row else None

    def lookup(self, image: Path, engine: str) -> bytes | None:
        """The stored inventory of the file at ``image`` (path/size/mtime pre-check, then content hash).

        The file is hashed only when some stored image has exactly its size, so a miss on a new image
        costs one indexed query, not a read of the whole file.
        """
        st = ImageStat.of(image)
        sha = self.sha_for(st)
        if sha is None:
            if not self.has_size(st.size, engine):
                return None
            sha = hash_file(str(image))
        data = self.get(sha, engine)
        if data is not None:
            self._touch(sha, engine, st)
        return data

    def _touch(self, sha256: str, engine: str, image: ImageStat) -> None:
        """Remember where the image is and when it was last used (best effort: never fails a read)."""
        try:
            with self._transaction() as db:
                db.execute("UPDATE inventories SET used = ? WHERE sha256 = ? AND engine = ?",
                           (time.time(), sha256, engine))
                self._remember(db, image, sha256)
        except sqlite3.Error:
            pass

    @staticmethod
    def _remember(db: sqlite3.Connection, image: ImageStat, sha256: str) -> None:
        db.execute(
            "INSERT OR REPLACE INTO locations (path, size, mtime_ns, sha256, seen) VALUES (?, ?, ?, ?, ?)",
            (image.path, image.size, image.mtime_ns, sha256, time.time()),
        )

    # -- writing ------------------------------------------------------------------------------------
    def put(
        self,
        data: bytes,
        *,
        sha256: str,
        engine: str,
        image_size: int,
        source: str,
        entries: int,
        unpacked_size: int,
        complete: bool,
        image: ImageStat | None = None,
    ) -> None:
        """Store one inventory (replacing an older one with the same key) in a single transaction."""
        self.put_file(io.BytesIO(data), len(data), sha256=sha256, engine=engine, image_size=image_size,
                      source=source, entries=entries, unpacked_size=unpacked_size, complete=complete, image=image)

    def put_file(
        self,
        data: BinaryIO,
        length: int,
        *,
        sha256: str,
        engine: str,
        image_size: int,
        source: str,
        entries: int,
        unpacked_size: int,
        complete: bool,
        image: ImageStat | None = None,
    ) -> None:
        """Store ``length`` bytes read from ``data`` as one inventory, copied in blocks (never whole in memory).

        The row is inserted with a zero-filled blob that is then overwritten in place, all in one
        transaction, so readers see either the old inventory or the complete new one.
        """
        now = time.time()
        with self._transaction() as db:
            cur = db.execute(
                "INSERT OR REPLACE INTO inventories (sha256, engine, schema_version, image_size, source, entries,"
                " unpacked_size, complete, created, used, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, zeroblob(?))",
                (sha256, engine, SCHEMA_VERSION, image_size, source, entries, unpacked_size, int(complete), now,
                 now, length),
            )
            rowid = cur.lastrowid
            assert rowid is not None
            with db.blobopen("inventories", "data", rowid) as blob:
                copied = 0
                while copied < length:
                    block = data.read(min(_BLOCK, length - copied))
                    if not block:
                        raise StoreError(f"inventory data ended after {copied} of {length} bytes")
                    blob.write(block)
                    copied += len(block)
            if image is not None:
                self._remember(db, image, sha256)

    # -- management ---------------------------------------------------------------------------------
    def inventories(self) -> list[StoredInfo]:
        """Every stored inventory, most recently used first."""
        rows = self._conn.execute(f"SELECT {_INFO_COLUMNS} FROM inventories ORDER BY used DESC, sha256").fetchall()
        return [_info(r) for r in rows]

    def find(self, key: str) -> list[StoredInfo]:
        """Inventories whose SHA-256 starts with ``key`` (hex, case-insensitive)."""
        prefix = key.lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            return []
        rows = self._conn.execute(
            f"SELECT {_INFO_COLUMNS} FROM inventories WHERE sha256 >= ? AND sha256 < ? ORDER BY used DESC",
            (prefix, prefix + "g"),
        ).fetchall()
        return [_info(r) for r in rows]

    def data(self, info: StoredInfo) -> bytes:
        """The portable inventory bytes of a listed inventory."""
        row = self._conn.execute(
            "SELECT data FROM inventories WHERE sha256 = ? AND engine = ? AND schema_version = ?",
            (info.sha256, info.engine, info.schema_version),
        ).fetchone()
        if row is None:
            raise StoreError(f"inventory {info.sha256[:12]} was removed meanwhile")
        return bytes(row[0])

    def prune(self, *, keep_engine: str | None = None, older_than: float | None = None,
              everything: bool = False) -> PruneResult:
        """Remove inventories nobody can use any more, and paths whose files are gone.

        Always removed: inventories of another inventory schema; with ``keep_engine``, those walked by
        another engine fingerprint (other version, unpackers or limits); with ``older_than`` (seconds),
        those unused for that long; with ``everything``, all of them.
        """
        where = ["schema_version != ?"]
        args: list[object] = [SCHEMA_VERSION]
        if everything:
            where.append("1")
        if keep_engine is not None:
            where.append("engine != ?")
            args.append(keep_engine)
        if older_than is not None:
            where.append("used < ?")
            args.append(time.time() - older_than)
        cond = " OR ".join(where)
        gone = [p for (p,) in self._conn.execute("SELECT path FROM locations") if not os.path.exists(p)]
        with self._transaction() as db:
            freed = db.execute(f"SELECT COALESCE(SUM(length(data)), 0) FROM inventories WHERE {cond}",
                               args).fetchone()[0]
            removed = db.execute(f"DELETE FROM inventories WHERE {cond}", args).rowcount
            db.executemany("DELETE FROM locations WHERE path = ?", [(p,) for p in gone])
            dangling = db.execute(
                "DELETE FROM locations WHERE sha256 NOT IN (SELECT sha256 FROM inventories)").rowcount
        if removed:
            self._conn.execute("VACUUM")
        return PruneResult(inventories=removed, locations=len(gone) + dangling, bytes_freed=int(freed))

    # -- delta estimates ----------------------------------------------------------------------------
    def estimates(self, keys: Iterable[str]) -> dict[str, int]:
        """Stored estimates for those of ``keys`` that are known (see ``inspector.diff.delta``)."""
        out: dict[str, int] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            out.update(self._conn.execute(f"SELECT key, size FROM estimates WHERE key IN ({marks})", batch))
        return out

    def put_estimates(self, values: Mapping[str, int]) -> None:
        """Remember estimates (content-keyed, so they never go stale)."""
        if not values:
            return
        now = time.time()
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO estimates (key, size, created) VALUES (?, ?, ?)",
                           [(k, v, now) for k, v in values.items()])

    def check(self) -> str:
        """SQLite's own integrity check of the file: ``"ok"`` when sound."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _info(row: tuple[Any, ...]) -> StoredInfo:
    sha, engine, schema, size, source, entries, unpacked, complete, created, used, nbytes = row
    return StoredInfo(sha256=str(sha), engine=str(engine), schema_version=int(schema), image_size=int(size),
                      source=str(source), entries=int(entries), unpacked_size=int(unpacked), complete=bool(complete),
                      created=float(created), used=float(used), data_bytes=int(nbytes))
