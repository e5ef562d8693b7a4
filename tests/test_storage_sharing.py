"""One connection per file per event loop, and group commit of concurrent writes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from activitypub.errors import StorageError
from activitypub.queue import SqliteQueue, queue_from_url
from activitypub.storage import SqliteStorage, StoredObject, storage_from_url
from activitypub.storage._database import _OPEN, Database


def conn_of(thing: SqliteStorage | SqliteQueue) -> sqlite3.Connection:
    conn = thing._db._conn
    assert conn is not None
    return conn


@contextmanager
def statements(conn: sqlite3.Connection) -> Iterator[list[str]]:
    """The SQL run on ``conn`` meanwhile (the trace callback runs in its thread)."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def begins(sql: list[str]) -> int:
    return sum(1 for s in sql if s.startswith("BEGIN"))


# -- sharing ---------------------------------------------------------------------------


async def test_storage_and_queue_of_one_file_share_a_connection(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    storage, queue = SqliteStorage(path), SqliteQueue(path)
    again = SqliteStorage(f"{tmp_path}/./sub/../app.db")  # another spelling, same file
    (tmp_path / "sub").mkdir()
    await asyncio.gather(storage.open(), queue.open(), again.open())
    conn = conn_of(storage)
    assert conn_of(queue) is conn and conn_of(again) is conn
    alone = SqliteQueue(path, share=False)
    await alone.open()
    assert conn_of(alone) is not conn

    await storage.close()  # refcounted: the others keep it open
    await storage.close()
    with pytest.raises(StorageError, match="not open"):
        await storage.mark_seen("s", "a", at=1.0)
    assert await again.mark_seen("s", "a", at=1.0)
    await queue.enqueue("deliver", {})
    await again.close()
    assert await queue.pending() == 1
    await queue.close()  # the last user: the connection closes
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")
    assert await alone.pending() == 1  # its own connection was never shared
    await alone.close()

    await storage.open()  # a fresh connection, the data still there
    assert conn_of(storage) is not conn
    assert not await storage.mark_seen("s", "a", at=1.0)
    await storage.close()
    assert not _OPEN  # nothing left behind


async def test_storage_and_queue_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    async with SqliteStorage(path) as storage, SqliteQueue(path) as queue:
        with statements(conn_of(storage)) as sql:
            seen, task_id = await asyncio.gather(
                storage.mark_seen("shared", "https://r/1", at=1.0),
                queue.enqueue("inbox", {"id": "https://r/1"}, key="shared https://r/1"),
            )
        assert seen and begins(sql) == 1  # one transaction for both
        # committed: another connection sees both at once
        other = sqlite3.connect(path)
        assert other.execute("SELECT count(*) FROM seen").fetchone() == (1,)
        assert other.execute("SELECT id FROM tasks").fetchall() == [(task_id,)]
        # and a write through the other connection is seen by both
        other.execute("INSERT INTO blocks (local, actor_id) VALUES ('b', 'https://r/x')")
        other.execute(
            "INSERT INTO tasks (id, kind, payload, state, not_before, run_at,"
            " attempts) VALUES ('t2', 'k', '{}', 'queued', 0, 0, 0)"
        )
        other.commit()
        assert await storage.is_blocked("b", "https://r/x")
        assert await queue.pending("k") == 1


async def test_in_memory_databases_stay_private_unless_joined() -> None:
    first, second = storage_from_url("sqlite://"), storage_from_url("sqlite://:memory:")
    queue = queue_from_url("sqlite://")
    await asyncio.gather(first.open(), second.open(), queue.open())
    assert isinstance(first, SqliteStorage) and isinstance(second, SqliteStorage)
    assert isinstance(queue, SqliteQueue)
    assert len({id(conn_of(first)), id(conn_of(second)), id(conn_of(queue))}) == 3
    assert await first.mark_seen("s", "a", at=1.0)
    assert await second.mark_seen("s", "a", at=1.0)  # a database of its own
    await queue.enqueue("k", {})

    joined, twin = SqliteQueue.beside(first), SqliteStorage.beside(first)
    async with joined, twin:
        assert conn_of(joined) is conn_of(first) is conn_of(twin)
        assert await joined.pending() == 0  # first's database, not queue's
        await joined.enqueue("k", {})
        assert not await twin.mark_seen("s", "a", at=1.0)
    assert conn_of(first).execute("SELECT count(*) FROM tasks").fetchone() == (1,)
    await asyncio.gather(first.close(), second.close(), queue.close())


async def test_beside_a_private_file_connection(tmp_path: Path) -> None:
    storage = SqliteStorage(tmp_path / "a.db", share=False)
    queue = SqliteQueue.beside(storage)
    async with queue:  # whichever opens first connects
        async with storage:
            assert conn_of(storage) is conn_of(queue)
            await storage.put_object(StoredObject("https://me/1", "Note", {}))
        assert await queue.pending() == 0
        assert _count(conn_of(queue), "objects") == 1


async def test_each_event_loop_has_its_own_connection(tmp_path: Path) -> None:
    path = tmp_path / "a.db"

    def other_loop() -> int:
        async def use() -> int:
            async with SqliteStorage(path) as storage:
                assert await storage.mark_seen("s", "other", at=1.0)
                return id(conn_of(storage))

        return asyncio.run(use())

    async with SqliteStorage(path) as storage:
        theirs = await asyncio.to_thread(other_loop)
        assert theirs != id(conn_of(storage))
        assert not await storage.mark_seen("s", "other", at=1.0)


async def test_failed_open_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"not a database" * 500)
    results = await asyncio.gather(
        SqliteStorage(path).open(), SqliteQueue(path).open(), return_exceptions=True
    )
    assert all(isinstance(r, StorageError) for r in results)
    assert not _OPEN
    path.unlink()
    async with SqliteStorage(path) as storage:  # the next open tries afresh
        assert await storage.mark_seen("s", "a", at=1.0)


async def test_cancelled_open_does_not_break_the_others(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    doomed, storage = SqliteStorage(path), SqliteStorage(path)
    opening = asyncio.ensure_future(doomed.open())
    await asyncio.sleep(0)
    both = asyncio.ensure_future(storage.open())
    await asyncio.sleep(0)
    opening.cancel()
    await asyncio.gather(opening, both, return_exceptions=True)
    assert await storage.mark_seen("s", "a", at=1.0)
    await storage.close()
    await doomed.close()
    assert not _OPEN


async def test_close_waits_for_accepted_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    storage, queue = SqliteStorage(path), SqliteQueue(path)
    await storage.open()
    await queue.open()
    writes: list[asyncio.Future[object]] = [
        asyncio.ensure_future(storage.mark_seen("s", str(i), at=1.0)) for i in range(200)
    ]
    writes += [asyncio.ensure_future(queue.enqueue("k", {"i": i})) for i in range(200)]
    await asyncio.sleep(0)  # every write submitted, most still waiting for a batch
    await storage.close()
    await queue.close()  # the last: drains the batches, then closes
    assert all(w.done() and w.exception() is None for w in writes)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM seen").fetchone() == (200,)
    assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (200,)


# -- group commit ----------------------------------------------------------------------


async def test_concurrent_writes_share_one_transaction(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        with statements(conn_of(storage)) as sql:
            results = await asyncio.gather(
                *(storage.mark_seen("s", f"https://r/{i % 50}", at=1.0) for i in range(100))
            )
        assert results == [True] * 50 + [False] * 50
        assert begins(sql) == 1 and sql.count("COMMIT") == 1
        with statements(conn_of(storage)) as sql:
            assert await storage.mark_seen("s", "alone", at=1.0)
        assert sql[0] == "BEGIN IMMEDIATE" and sql[-1] == "COMMIT"
        assert not any("SAVEPOINT" in s for s in sql)  # a lone write needs none


async def test_without_group_commit_each_write_is_a_transaction(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db", group_commit=False) as storage:
        with statements(conn_of(storage)) as sql:
            await asyncio.gather(*(storage.mark_seen("s", str(i), at=1.0) for i in range(10)))
        assert begins(sql) == 10


@pytest.mark.parametrize(
    "settings",
    [
        [{}] * 4,
        [{"group_commit": False}] * 4,
        [{"share": False}] * 4,
        [{}, {"group_commit": False}, {"share": False}, {"share": False, "group_commit": False}],
    ],
    ids=["batched", "unbatched", "batched-own-connections", "mixed"],
)
async def test_100_concurrent_duplicates_one_winner(
    tmp_path: Path, settings: list[dict[str, bool]]
) -> None:
    instances = [SqliteStorage(tmp_path / "a.db", **kw) for kw in settings]
    await asyncio.gather(*(s.open() for s in instances))
    try:
        for n in range(5):
            calls = [instances[i % 4].mark_seen("inbox", f"act{n}", at=1.0) for i in range(100)]
            assert (await asyncio.gather(*calls)).count(True) == 1
    finally:
        await asyncio.gather(*(s.close() for s in instances))


async def test_a_failing_write_does_not_poison_its_batch(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        db = storage._db

        def half_then_raise(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO seen VALUES ('s', 'half', 1.0)")
            raise ValueError("a bug in the middle")

        def bad_sql(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO seen VALUES ('s', 'bad', 1.0)")
            conn.execute("INSERT INTO no_such_table VALUES (1)")

        def insert(name: str) -> Callable[[sqlite3.Connection], int]:
            return lambda c: c.execute("INSERT INTO seen VALUES ('s', ?, 1.0)", (name,)).rowcount

        with statements(conn_of(storage)) as sql:
            results = await asyncio.gather(
                db.write(insert("before")),
                db.write(half_then_raise),
                storage.mark_seen("s", "lone \ud800 surrogate", at=1.0),
                db.write(bad_sql),
                storage.mark_seen("s", "after", at=1.0),
                db.write(insert("before")),  # a constraint error: the key is taken
                return_exceptions=True,
            )
        # tried as one, then again with a savepoint each (a failure is rare)
        assert begins(sql) == 2
        assert results[0] == 1 and results[4] is True
        assert isinstance(results[1], ValueError) and "middle" in str(results[1])
        assert isinstance(results[2], StorageError) and "Unicode" in str(results[2])
        assert isinstance(results[3], StorageError) and "no_such_table" in str(results[3])
        assert isinstance(results[5], StorageError) and "UNIQUE" in str(results[5])
        rows = conn_of(storage).execute("SELECT activity_id FROM seen ORDER BY 1").fetchall()
        assert rows == [("after",), ("before",)]  # half and bad were rolled back


async def test_a_batch_that_succeeds_needs_no_savepoints(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        with statements(conn_of(storage)) as sql:
            results = await asyncio.gather(
                *(storage.mark_seen("s", f"id{n}", at=1.0) for n in range(20))
            )
        assert results == [True] * 20
        assert begins(sql) == 1 and not any("SAVEPOINT" in s for s in sql)


async def test_a_batch_that_cannot_begin_fails_whole_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    async with SqliteStorage(path, timeout=0.2) as storage:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        results = await asyncio.gather(
            *(storage.mark_seen("s", str(i), at=1.0) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, StorageError) and "locked" in str(r) for r in results)
        blocker.execute("ROLLBACK")
        results = await asyncio.gather(*(storage.mark_seen("s", str(i), at=1.0) for i in range(5)))
        assert results == [True] * 5


async def test_a_write_cancelled_before_its_batch_left_never_runs(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        call = asyncio.ensure_future(storage.mark_seen("s", "x", at=1.0))
        await asyncio.sleep(0)  # submitted; its batch leaves on the next tick
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await storage.mark_seen("s", "x", at=1.0)


async def test_writes_that_arrive_during_a_batch_form_the_next(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        db = storage._db

        def slow(conn: sqlite3.Connection) -> None:
            time.sleep(0.2)

        first = asyncio.ensure_future(db.write(slow))
        await asyncio.sleep(0.05)  # the slow batch is in the thread
        with statements(conn_of(storage)) as sql:
            results = await asyncio.gather(
                *(storage.mark_seen("s", str(i), at=1.0) for i in range(30))
            )
            await first
        assert results == [True] * 30
        assert begins(sql) == 1  # the 30 waited, then went together


# -- across processes --------------------------------------------------------------------

CHILD = """
import asyncio, sys, time
from activitypub.queue import SqliteQueue
from activitypub.storage import SqliteStorage
"""


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD + textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_mark_seen_duplicates_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    async with SqliteStorage(path):
        pass  # migrated once, before the race
    start = time.time() + 1.5
    children = [
        spawn(
            """
            async def main():
                async with SqliteStorage(sys.argv[1]) as s:
                    await asyncio.sleep(float(sys.argv[2]) - time.time())  # start together
                    for n in range(20):
                        results = await asyncio.gather(
                            *(s.mark_seen("inbox", f"act{n}", at=1.0) for _ in range(100))
                        )
                        print(n, results.count(True), flush=True)
            asyncio.run(main())
            """,
            path,
            str(start),
        )
        for _ in range(2)
    ]
    outputs = [child.communicate(timeout=60)[0] for child in children]
    assert all(child.returncode == 0 for child in children)
    wins: dict[int, int] = {}
    for out in outputs:
        for line in out.split("\n"):
            if line:
                n, count = map(int, line.split())
                wins[n] = wins.get(n, 0) + count
    assert wins == {n: 1 for n in range(20)}


async def test_kill_during_group_commits_loses_nothing_reported(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    child = spawn(
        """
        async def lane(s, q, lane_no):
            i = 0
            while True:
                name = f"{lane_no}-{i}"
                if await s.mark_seen("inbox", name, at=1.0):
                    await q.enqueue("inbox", {"name": name}, key=name)
                    print(name, flush=True)
                i += 1

        async def main():
            async with SqliteStorage(sys.argv[1]) as s, SqliteQueue(sys.argv[1]) as q:
                await asyncio.gather(*(lane(s, q, n) for n in range(32)))
        asyncio.run(main())
        """,
        path,
    )
    assert child.stdout is not None
    reported = [child.stdout.readline().strip() for _ in range(2000)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    reported += child.stdout.read().split()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    seen = {r[0] for r in conn.execute("SELECT activity_id FROM seen")}
    queued = {r[0] for r in conn.execute("SELECT key FROM tasks")}
    assert set(reported) <= queued <= seen  # every reported write was committed
    # at most one batch of marks whose enqueues had not committed yet: one per lane
    assert len(seen - queued) <= 32


def _count(conn: sqlite3.Connection, table: str) -> Any:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def test_database_beside_keeps_settings(tmp_path: Path) -> None:
    db = Database(tmp_path / "a.db", timeout=1.5, share=False, group_commit=False)
    twin = Database.beside(db)
    assert (twin.path, twin.timeout, twin.share, twin.group_commit) == (
        db.path,
        1.5,
        False,
        False,
    )
    await db.open()
    await twin.open()
    assert twin._conn is db._conn
    assert await twin.write(lambda c: c.execute("INSERT INTO seen VALUES ('s','a',1)").rowcount)
    assert db._conn is not None and _count(db._conn, "seen") == 1
    await db.close()
    await twin.close()


async def test_put_object_batch_round_trips(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        objs = [StoredObject(f"https://me/{i}", "Note", {"n": i}, "blog") for i in range(50)]
        await asyncio.gather(*(storage.put_object(o) for o in objs))
        assert [await storage.get_object(o.id) for o in objs] == objs


async def test_concurrent_reads_share_one_hop(tmp_path: Path) -> None:
    async with SqliteStorage(tmp_path / "a.db") as storage:
        await storage.mark_seen("s", "x", at=1.0)
        link = storage._db._link
        assert link is not None
        real, hops = link.executor.submit, []

        def counted(fn: Any, *args: Any) -> Any:
            hops.append(fn)
            return real(fn, *args)

        link.executor.submit = counted  # type: ignore[method-assign]
        try:
            results = await asyncio.gather(
                *(storage.get_object(f"https://a.example/{n}") for n in range(20)),
                storage._db.run(lambda c: 1 / 0),  # one failing read fails alone
                return_exceptions=True,
            )
        finally:
            link.executor.submit = real  # type: ignore[method-assign]
        assert results[:20] == [None] * 20 and isinstance(results[20], ZeroDivisionError)
        assert len(hops) == 1
