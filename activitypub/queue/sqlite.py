"""A durable queue in SQLite: survives ``kill -9``, shared by processes.

A claim is one ``UPDATE ... WHERE seq = (SELECT ...) RETURNING`` inside
``BEGIN IMMEDIATE``: the write lock is held from before the choice until
the lease is recorded, so two connections never take the same live task.
Every write is group committed (see ``activitypub.storage._database``): the
claims, acks and enqueues of concurrent callers share one transaction, each
in its own savepoint, which keeps that guarantee.
A leased row's ``run_at`` is its lease's end; once that passes, the same
claim query picks it up again, which is how a dead worker's task comes back.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from activitypub.queue.base import Task
from activitypub.storage._database import SqliteBacked, dump_json, load_json

__all__ = ["SqliteQueue"]


class SqliteQueue(SqliteBacked):
    """:class:`~activitypub.queue.Queue` in the SQLite file at ``path``.

    May share its file with :class:`~activitypub.storage.SqliteStorage`; on
    one event loop they then share one connection (``share=False``: a
    connection of its own). ``":memory:"`` is private: :meth:`beside` puts a
    queue on a storage's connection, in-memory ones too. ``group_commit=False``
    gives every write its own transaction.
    """

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        not_before: float = 0.0,
        key: str | None = None,
    ) -> str:
        return await self._db.write(self.insertion(kind, payload, not_before=not_before, key=key))

    def insertion(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        not_before: float = 0.0,
        key: str | None = None,
    ) -> Callable[[sqlite3.Connection], str]:
        """:meth:`enqueue` as a function of the connection, for a caller that
        writes it in a transaction of its own on the same connection (the
        inbox: the dedup record and the task commit together); returns the task id."""
        # Time first, then 64 random bits: new ids land at the end of the id
        # index, not on a random page of it (each one another page to write).
        # The bits need to be unique, not secret (ids never leave the
        # database): ``random`` costs no system call, unlike ``secrets``, and
        # reseeds itself in a forked child. A collision would fail the insert.
        new_id = f"{time.time_ns():016x}{random.getrandbits(64):016x}"
        body = dump_json(payload)

        def insert(conn: sqlite3.Connection) -> str:
            inserted = conn.execute(
                "INSERT INTO tasks (id, kind, payload, key, state, not_before, run_at,"
                " attempts) VALUES (?, ?, ?, ?, 'queued', ?, ?, 0)"
                " ON CONFLICT (key) DO NOTHING",
                (new_id, kind, body, key, not_before, not_before),
            ).rowcount
            if inserted:
                return new_id
            row = conn.execute("SELECT id FROM tasks WHERE key = ?", (key,)).fetchone()
            return str(row[0])

        return insert

    def shares_transaction_with(self, other: SqliteBacked) -> bool:
        """Whether ``other`` (a storage) is open on this queue's connection."""
        return self._db.same_connection(other._db)

    async def claim(
        self, kinds: Sequence[str] | None = None, *, worker: str, lease: float, now: float
    ) -> Task | None:
        if kinds is not None and not kinds:
            return None
        where, params = _due(kinds, now)
        sql = (
            "UPDATE tasks SET state = 'leased', worker = ?, run_at = ?, attempts = attempts + 1"
            f" WHERE seq = (SELECT seq FROM tasks WHERE {where} ORDER BY run_at, seq LIMIT 1)"
            " RETURNING id, kind, payload, attempts, not_before"
        )
        args = (worker, now + lease, *params)

        def take(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = conn.execute(sql, args).fetchone()
            return row

        row = await self._db.write(take)
        return None if row is None else _task(row)

    async def claim_many(
        self,
        kinds: Sequence[str] | None = None,
        *,
        worker: str,
        lease: float,
        now: float,
        limit: int,
    ) -> list[Task]:
        if (kinds is not None and not kinds) or limit <= 0:
            return []
        where, params = _due(kinds, now)
        pick = f"SELECT seq FROM tasks WHERE {where} ORDER BY run_at, seq LIMIT ?"
        sql = (
            "UPDATE tasks SET state = 'leased', worker = ?, run_at = ?, attempts = attempts + 1"
            f" WHERE seq IN ({pick}) RETURNING seq, id, kind, payload, attempts, not_before"
        )

        def take(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            # The same choice twice under one write lock: once for the order
            # (RETURNING has none, and shows run_at already changed), once to lease.
            order = {seq: n for n, (seq,) in enumerate(conn.execute(pick, (*params, limit)))}
            rows = conn.execute(sql, (worker, now + lease, *params, limit)).fetchall()
            return sorted(rows, key=lambda r: order[r[0]])

        return [_task(row[1:]) for row in await self._db.write(take)]

    async def ack(self, task_id: str) -> None:
        await self._db.write(lambda c: c.execute("DELETE FROM tasks WHERE id = ?", (task_id,)))

    async def ack_many(self, task_ids: Sequence[str]) -> None:
        ids = [(task_id,) for task_id in task_ids]
        if ids:
            await self._db.write(lambda c: c.executemany("DELETE FROM tasks WHERE id = ?", ids))

    async def retry(self, task_id: str, *, not_before: float, error: str) -> None:
        sql = (
            "UPDATE tasks SET state = 'queued', not_before = ?, run_at = ?, worker = NULL,"
            " error = ? WHERE id = ?"
        )
        await self._db.write(lambda c: c.execute(sql, (not_before, not_before, error, task_id)))

    async def fail(self, task_id: str, *, error: str) -> None:
        sql = (
            "UPDATE tasks SET state = 'dead', run_at = NULL, worker = NULL, error = ? WHERE id = ?"
        )
        await self._db.write(lambda c: c.execute(sql, (error, task_id)))

    async def pending(self, kind: str | None = None) -> int:
        params: tuple[str, ...] = ()
        sql = "SELECT count(*) FROM tasks WHERE run_at IS NOT NULL"
        if kind is not None:
            sql, params = (
                "SELECT count(*) FROM tasks WHERE kind = ? AND run_at IS NOT NULL",
                (kind,),
            )
        row = await self._db.run(lambda c: c.execute(sql, params).fetchone())
        return int(row[0])


def _due(kinds: Sequence[str] | None, now: float) -> tuple[str, list[object]]:
    """The WHERE clause of tasks claimable at ``now``, and its parameters."""
    where, params = "run_at <= ?", [cast(object, now)]
    if kinds is not None:
        where += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params.extend(kinds)
    return where, params


def _task(row: tuple[Any, ...]) -> Task:
    task_id, kind, payload, attempts, not_before = row
    # RETURNING shows the row after the update; Task.attempts counts earlier claims.
    return Task(task_id, kind, load_json(payload), attempts - 1, not_before)
