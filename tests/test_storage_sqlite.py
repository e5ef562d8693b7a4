"""SQLite specifics: pragmas, migrations, corruption, indexes, sharing one file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from activitypub.errors import SchemaVersionError, StorageError
from activitypub.queue import SqliteQueue
from activitypub.storage import Follower, SqliteStorage, StoredObject
from activitypub.storage._database import _connect
from activitypub.storage.migrations import MIGRATIONS, SCHEMA_VERSION


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_fresh_file_is_wal_with_current_schema(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db", timeout=2.5) as storage:
        assert await storage.mark_seen("s", "x", at=1.0)
        conn = storage._db._conn
        assert conn is not None
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (2500,)
    conn = raw(tmp_path / "a.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_data_survives_reopen(tmp_path: Path) -> None:
    obj = StoredObject("https://me/1", "Note", {"content": "ü"}, "blog")
    async with SqliteStorage(tmp_path / "a.db") as storage:
        await storage.put_object(obj)
    async with SqliteStorage(tmp_path / "a.db") as storage:
        assert await storage.get_object("https://me/1") == obj


async def test_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    conn = raw(tmp_path / "old.db")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO followers (local, actor_id, inbox, state, created_at)"
        " VALUES ('blog', 'https://r/a', 'https://r/a/inbox', 'accepted', 3.0)"
    )
    conn.close()
    async with SqliteStorage(tmp_path / "old.db") as storage:
        assert await storage.get_follower("blog", "https://r/a") == Follower(
            "blog", "https://r/a", "https://r/a/inbox", created_at=3.0
        )
    async with SqliteQueue(tmp_path / "old.db") as queue:  # step 2 added the queue
        assert await queue.pending() == 0
    assert raw(tmp_path / "old.db").execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "new.db"):
        pass
    raw(tmp_path / "new.db").execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    storage = SqliteStorage(tmp_path / "new.db")
    with pytest.raises(SchemaVersionError, match="newer"):
        await storage.open()
    with pytest.raises(StorageError, match="not open"):
        await storage.get_object("x")


async def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    conn = raw(tmp_path / "clash.db")
    conn.execute("CREATE TABLE tasks (x)")  # someone else's table where step 2 wants one
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(StorageError, match="already exists"):
        await SqliteStorage(tmp_path / "clash.db").open()
    assert raw(tmp_path / "clash.db").execute("PRAGMA user_version").fetchone() == (1,)


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database at all, just text" * 100,
        b"SQLite format 3\x00" + b"\xff" * 8000,  # right magic, garbage header and pages
        b"\x00" * 4096,
    ],
    ids=["text", "garbage-after-magic", "zeros"],
)
async def test_corrupt_file_fails_on_open(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(StorageError):
        await SqliteStorage(path).open()
    with pytest.raises(StorageError):
        await SqliteQueue(path).open()


async def test_corrupt_pages_fail_on_open(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    async with SqliteStorage(path) as storage:
        await storage.put_object(StoredObject("https://me/1", "Note", {}))
    blob = bytearray(path.read_bytes())
    page_size = int.from_bytes(blob[16:18], "big")
    blob[100:page_size] = b"\xa5" * (page_size - 100)  # the schema's page
    path.write_bytes(bytes(blob))
    with pytest.raises(StorageError):
        await SqliteStorage(path).open()


async def test_unopenable_path(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        await SqliteStorage(tmp_path / "no" / "such" / "dir.db").open()


async def test_use_before_open_and_after_close(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "a.db")
    with pytest.raises(StorageError, match="not open"):
        await storage.mark_seen("s", "x", at=1.0)
    await storage.open()
    await storage.close()
    await storage.close()  # idempotent
    with pytest.raises(StorageError, match="not open"):
        await storage.mark_seen("s", "x", at=1.0)


async def test_lone_surrogate_in_key_is_a_storage_error(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        with pytest.raises(StorageError, match="Unicode"):
            await storage.mark_seen("s", "https://r/\ud800", at=1.0)
        assert await storage.mark_seen("s", "https://r/ok", at=1.0)  # still usable


@pytest.mark.parametrize("share", [True, False], ids=["shared", "own-connections"])
async def test_mark_seen_race_across_instances(tmp_path: Path, share: bool) -> None:
    path = tmp_path / "shared.db"
    instances = [SqliteStorage(path, share=share) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in instances))  # concurrent first migration
    try:
        for n in range(10):
            calls = [s.mark_seen("inbox", f"https://r/act/{n}", at=1.0) for s in instances * 10]
            results = await asyncio.gather(*calls)
            assert results.count(True) == 1
    finally:
        await asyncio.gather(*(s.close() for s in instances))


async def test_storage_and_queue_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    async with SqliteStorage(path) as storage, SqliteQueue(path) as queue:
        await storage.put_object(StoredObject("https://me/1", "Note", {}))
        await queue.enqueue("deliver", {"to": "https://r/inbox"})
        assert await queue.pending() == 1
        assert await storage.get_object("https://me/1") is not None


async def test_cancelled_call_leaves_storage_usable(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        calls = [
            asyncio.ensure_future(storage.remove_remote_actor(f"https://r/{i}")) for i in range(20)
        ]
        await asyncio.sleep(0)
        for call in calls[::2]:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        assert await storage.mark_seen("s", "after", at=1.0)
        await storage.put_follower(Follower("blog", "https://r/a", "https://r/a/inbox"))
        assert await storage.remove_remote_actor("https://r/a") == 1


LOOKUPS = {
    "followers by local": (
        "SELECT * FROM followers WHERE local = ? AND state = ? ORDER BY created_at, seq",
        ("b", "accepted"),
    ),
    "followers by actor": ("SELECT * FROM followers WHERE local = ? AND actor_id = ?", ("b", "a")),
    "followers by inbox": (
        "DELETE FROM followers WHERE inbox = ? OR shared_inbox = ?",
        ("i", "i"),
    ),
    "followers of a remote actor": ("DELETE FROM followers WHERE actor_id = ?", ("a",)),
    "following by follow id": (
        "SELECT * FROM following WHERE follow_id = ? ORDER BY seq LIMIT 1",
        ("f",),
    ),
    "following of a remote actor": ("DELETE FROM following WHERE actor_id = ?", ("a",)),
    "collection page": (
        "SELECT item_id FROM collection_items WHERE local = ? AND name = ?"
        " ORDER BY added_at DESC, seq DESC LIMIT 20",
        ("b", "outbox"),
    ),
    "seen": ("SELECT 1 FROM seen WHERE scope = ? AND activity_id = ?", ("s", "a")),
    "old seen": ("DELETE FROM seen WHERE seen_at < ?", (1.0,)),
    "cache": ("SELECT * FROM cache WHERE url = ? OR (url >= ? AND url < ?)", ("u", "u#", "u$")),
    "object": ("SELECT * FROM objects WHERE id = ?", ("o",)),
    "domain block": ("SELECT 1 FROM domain_blocks WHERE host IN (?, ?)", ("a.b", "b")),
    "claim": ("SELECT seq FROM tasks WHERE run_at <= ? ORDER BY run_at, seq LIMIT 1", (1.0,)),
    "task key": ("SELECT id FROM tasks WHERE key = ?", ("k",)),
    "task id": ("DELETE FROM tasks WHERE id = ?", ("t",)),
    "claim one kind": (
        "SELECT seq FROM tasks WHERE run_at <= ? AND kind IN (?) ORDER BY run_at, seq LIMIT 1",
        (1.0, "k"),
    ),
    "pending of a kind": (
        "SELECT count(*) FROM tasks WHERE kind = ? AND run_at IS NOT NULL",
        ("k",),
    ),
}


@pytest.mark.parametrize("name", LOOKUPS)
async def test_every_lookup_uses_an_index(tmp_path: Path, name: str) -> None:
    async with SqliteStorage(tmp_path / "a.db"):
        pass
    sql, params = LOOKUPS[name]
    plan = raw(tmp_path / "a.db").execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    details = [row[-1] for row in plan]
    assert any("INDEX" in d or "PRIMARY KEY" in d for d in details), details
    assert not any(d.startswith("SCAN") and "INDEX" not in d for d in details), details
    assert not any("TEMP B-TREE" in d for d in details), details


def test_concurrent_first_opens_of_a_fresh_file(tmp_path: Path) -> None:
    # Switching a fresh file to WAL fails at once with SQLITE_BUSY, not after
    # busy_timeout, while another connection does the same: the open retries.
    errors: list[BaseException] = []

    def open_at_once(path: Path, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            _connect(str(path), 5.0).close()
        except BaseException as exc:
            errors.append(exc)

    for n in range(60):
        barrier = threading.Barrier(4)
        threads = [
            threading.Thread(target=open_at_once, args=(tmp_path / f"{n}.db", barrier))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
