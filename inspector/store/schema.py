"""The store's SQLite schema as an ordered list of migrations (``PRAGMA user_version`` = steps applied).

A store written by a newer inspector (more steps than this build knows) is refused rather than guessed
at. Add a migration by appending a step; never edit a released one.
"""

from __future__ import annotations

import sqlite3

#: Each step is run in one transaction; its index + 1 is the ``user_version`` it leaves behind.
MIGRATIONS: tuple[str, ...] = (
    # 1: inventories keyed by image content + walk fingerprint + inventory schema, and a cheap path index.
    """
    CREATE TABLE inventories (
        sha256          TEXT    NOT NULL,  -- SHA-256 of the image file
        engine          TEXT    NOT NULL,  -- fingerprint of what walked it: version, unpackers, limits
        schema_version  INTEGER NOT NULL,  -- inspector.model.SCHEMA_VERSION of the inventory
        image_size      INTEGER NOT NULL,
        source          TEXT    NOT NULL,  -- path the image was walked from (informational)
        entries         INTEGER NOT NULL,
        unpacked_size   INTEGER NOT NULL,
        complete        INTEGER NOT NULL,
        created         REAL    NOT NULL,
        used            REAL    NOT NULL,
        data            BLOB    NOT NULL,  -- the portable .inv bytes (inspector.portable)
        PRIMARY KEY (sha256, engine, schema_version)
    );
    CREATE INDEX inventories_size ON inventories (image_size);
    CREATE TABLE locations (
        path      TEXT    PRIMARY KEY,     -- resolved path of an image seen before
        size      INTEGER NOT NULL,
        mtime_ns  INTEGER NOT NULL,
        sha256    TEXT    NOT NULL,
        seen      REAL    NOT NULL
    );
    """,
    # 2: delta and compressed-size estimates, keyed by the contents they were made from, so a diff of
    #    two stored releases needs no second walk of either image.
    """
    CREATE TABLE estimates (
        key      TEXT    PRIMARY KEY,  -- method:level:old_sha256:new_sha256 (old empty: compressed size)
        size     INTEGER NOT NULL,
        created  REAL    NOT NULL
    );
    """,
)

LATEST = len(MIGRATIONS)


class StoreVersionError(Exception):
    """The store file was written by a newer inspector (or is not a store at all)."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema of ``conn`` (autocommit mode) up to ``LATEST``; return the version found first.

    Runs under ``BEGIN IMMEDIATE`` so two processes opening a new store at once do not both migrate.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > LATEST:
            raise StoreVersionError(f"store schema version {found} is newer than this build's {LATEST}")
        for step in range(found, LATEST):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
        return found
    except BaseException:
        conn.execute("ROLLBACK")
        raise
