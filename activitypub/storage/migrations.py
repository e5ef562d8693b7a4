"""The SQLite schema, as an ordered history of migration steps.

``PRAGMA user_version`` records how many steps a database file has had.
Storage and queue share this one history so they can share one file; each
creates every table, which costs nothing. Never edit a released step: append
a new one. SQL stays close to what PostgreSQL also accepts (TEXT JSON, REAL
epoch seconds, ``ON CONFLICT``), so a later port is mostly copying.
"""

from __future__ import annotations

import sqlite3

from activitypub.errors import SchemaVersionError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: storage
    (
        """CREATE TABLE local_actors (
            identifier TEXT PRIMARY KEY,
            actor_type TEXT NOT NULL,
            profile TEXT NOT NULL,
            private_key_pem TEXT NOT NULL,
            ed25519_private_multibase TEXT,
            manually_approves_followers INTEGER NOT NULL,
            created_at REAL NOT NULL)""",
        """CREATE TABLE followers (
            seq INTEGER PRIMARY KEY,
            local TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            inbox TEXT NOT NULL,
            shared_inbox TEXT,
            follow_id TEXT,
            state TEXT NOT NULL,
            created_at REAL NOT NULL,
            UNIQUE (local, actor_id))""",
        "CREATE INDEX followers_by_local ON followers (local, state, created_at)",
        "CREATE INDEX followers_by_actor ON followers (actor_id)",
        "CREATE INDEX followers_by_inbox ON followers (inbox)",
        "CREATE INDEX followers_by_shared_inbox ON followers (shared_inbox)",
        """CREATE TABLE following (
            seq INTEGER PRIMARY KEY,
            local TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            follow_id TEXT NOT NULL,
            state TEXT NOT NULL,
            inbox TEXT,
            created_at REAL NOT NULL,
            UNIQUE (local, actor_id))""",
        "CREATE INDEX following_by_local ON following (local, state, created_at)",
        "CREATE INDEX following_by_actor ON following (actor_id)",
        "CREATE INDEX following_by_follow_id ON following (follow_id)",
        """CREATE TABLE objects (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            local TEXT,
            attributed_to TEXT,
            visibility TEXT NOT NULL,
            published REAL NOT NULL,
            deleted INTEGER NOT NULL)""",
        """CREATE TABLE collection_items (
            seq INTEGER PRIMARY KEY,
            local TEXT NOT NULL,
            name TEXT NOT NULL,
            item_id TEXT NOT NULL,
            added_at REAL NOT NULL,
            UNIQUE (local, name, item_id))""",
        "CREATE INDEX collection_items_by_time ON collection_items (local, name, added_at, seq)",
        """CREATE TABLE seen (
            scope TEXT NOT NULL,
            activity_id TEXT NOT NULL,
            seen_at REAL NOT NULL,
            PRIMARY KEY (scope, activity_id))""",
        "CREATE INDEX seen_by_time ON seen (seen_at)",
        """CREATE TABLE cache (
            url TEXT PRIMARY KEY,
            data TEXT,
            fetched_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            error TEXT)""",
        """CREATE TABLE blocks (
            local TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            PRIMARY KEY (local, actor_id))""",
        "CREATE TABLE domain_blocks (host TEXT PRIMARY KEY)",
    ),
    # 2: queue. ``run_at`` is when the task may next be claimed: ``not_before``
    # while queued, the lease's end while leased, NULL once dead. One index on
    # it serves claiming both fresh tasks and tasks whose worker died; ``state``
    # (queued, leased, dead) is for people reading the table.
    (
        """CREATE TABLE tasks (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            key TEXT UNIQUE,
            state TEXT NOT NULL,
            not_before REAL NOT NULL,
            run_at REAL,
            attempts INTEGER NOT NULL,
            worker TEXT,
            error TEXT)""",
        "CREATE INDEX tasks_by_run_at ON tasks (run_at, seq)",
        "CREATE INDEX tasks_by_kind ON tasks (kind, run_at, seq)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring ``conn``'s database up to :data:`SCHEMA_VERSION`, all steps in one transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first, so two processes opening a
    fresh file at once cannot both run step 1.
    """
    if _version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database schema version {version} is newer than this library's "
                f"{SCHEMA_VERSION}; upgrade activitypub to open it"
            )
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    assert isinstance(version, int)
    return version
