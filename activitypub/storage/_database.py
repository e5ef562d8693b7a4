"""One SQLite connection owned by one thread, for the SQLite storage and queue.

The stdlib ``sqlite3`` module runs in a private single-thread executor rather
than through aiosqlite: each storage call ships one synchronous function to
the thread, which runs its whole transaction there. So a transaction never
interleaves with another coroutine's statements and cannot be left open by a
cancelled ``await`` (the thread finishes it regardless), there is one thread
hop per call instead of one per statement, and no dependency is added.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from activitypub.errors import StorageError
from activitypub.storage.migrations import migrate

__all__ = ["Database", "dump_json", "load_json", "write"]

T = TypeVar("T")


class Database:
    """A migrated connection to ``path`` (WAL, ``busy_timeout``), used from asyncio."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        async with self._lock:
            if self._conn is not None:
                return
            executor = ThreadPoolExecutor(1, thread_name_prefix="activitypub-sqlite")
            try:
                self._conn = await _in(executor, _connect, self.path, self.timeout)
            except BaseException:
                executor.shutdown(wait=False)
                raise
            self._executor = executor

    async def close(self) -> None:
        async with self._lock:
            conn, executor = self._conn, self._executor
            self._conn = self._executor = None
            if conn is not None and executor is not None:
                await _in(executor, conn.close)
                executor.shutdown(wait=False)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the database thread."""
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:
            raise StorageError(f"SQLite database {self.path!r} is not open: call open() first")
        return await _in(executor, fn, conn)


async def _in(executor: ThreadPoolExecutor, fn: Callable[..., T], *args: object) -> T:
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite: {exc}") from exc
    except UnicodeEncodeError as exc:  # a lone surrogate in a key column
        raise StorageError(f"text SQLite cannot store (not valid Unicode): {exc}") from exc


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    # isolation_level=None: autocommit, transactions are explicit (see write()).
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        # The first real read: a file that is not a database fails here, on open.
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        # In WAL mode NORMAL survives a killed process; only power loss can
        # drop the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that holds the database lock from its first statement.

    ``BEGIN IMMEDIATE`` rather than a deferred ``BEGIN``: a read that later
    upgrades to a write can fail at once with SQLITE_BUSY in WAL mode, while an
    immediate transaction waits out ``busy_timeout`` like any other writer.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def dump_json(data: dict[str, Any]) -> str:
    """Compact JSON text; ``\\u`` escapes only if the text holds lone surrogates,
    which a remote document may carry but UTF-8 (so SQLite) cannot."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:
        text = json.dumps(data, separators=(",", ":"))
    return text


def load_json(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise StorageError("stored JSON is not an object: the database was edited by hand?")
    return data
