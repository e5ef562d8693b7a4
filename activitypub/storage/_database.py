"""SQLite connections owned by one thread each, for the SQLite storage and queue.

The stdlib ``sqlite3`` module runs in a private single-thread executor rather
than through aiosqlite: each call ships one synchronous function to the
thread, which runs its whole transaction there. So a transaction never
interleaves with another coroutine's statements and cannot be left open by a
cancelled ``await`` (the thread finishes it regardless), there is one thread
hop per call instead of one per statement, and no dependency is added.

Two things cut the hops and transactions further:

* **One connection per file per event loop.** Every :class:`Database` of the
  same file opened on the same loop shares one connection and its thread
  (refcounted: the first ``open()`` connects, the last ``close()``
  disconnects), so a :class:`~activitypub.storage.SqliteStorage` and a
  :class:`~activitypub.queue.SqliteQueue` on one file run on one thread and
  never wait on each other's locks through ``busy_timeout``. ``:memory:`` (and
  ``""``) are private to their :class:`Database` unless joined explicitly with
  :meth:`Database.beside`: two ``sqlite://`` URLs stay two databases.
* **Group commit.** :meth:`Database.write` collects the write functions of
  concurrent callers until the next loop tick (or, while a batch is in the
  thread, until it returns) and runs them in one hop and one
  ``BEGIN IMMEDIATE … COMMIT``; if one raises, the batch runs again with each
  in its own ``SAVEPOINT``, so a function that raises rolls back only itself
  and raises only in its caller. Every caller's
  ``await`` returns after the commit, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, cast

from activitypub import jsonfast
from activitypub.errors import StorageError
from activitypub.storage._shared import Lifecycle
from activitypub.storage.migrations import migrate

__all__ = ["Database", "HasDatabase", "SqliteBacked", "dump_json", "load_json", "transaction"]

T = TypeVar("T")

_PRIVATE = ("", ":memory:")

# loop -> key -> open connection; an entry goes with the connection's last user.
_OPEN: dict[asyncio.AbstractEventLoop, dict[object, _Connection]] = {}


class Database:
    """A migrated connection to ``path`` (WAL, ``busy_timeout``), used from asyncio.

    ``share=False`` gives this :class:`Database` a connection of its own even
    when others have the same file open; ``group_commit=False`` runs every
    :meth:`write` in a transaction and thread hop of its own. A shared
    connection keeps the ``timeout`` of the :class:`Database` that opened it.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        share: bool = True,
        group_commit: bool = True,
    ) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.share = share
        self.group_commit = group_commit
        self._token = object()  # the key of a private connection
        self._link: _Connection | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def beside(cls, other: Database) -> Database:
        """A :class:`Database` on ``other``'s connection, even a private or
        in-memory one (same path and settings): whichever opens first connects."""
        db = cls(
            other.path, timeout=other.timeout, share=other.share, group_commit=other.group_commit
        )
        db._token = other._token
        return db

    def _key(self) -> object:
        if self.share and self.path not in _PRIVATE:
            return os.path.realpath(self.path)
        return self._token

    @property
    def _conn(self) -> sqlite3.Connection | None:
        """The open connection (tests look at its pragmas), else None."""
        return None if self._link is None else self._link.conn

    async def open(self) -> None:
        async with self._lock:
            if self._link is None:
                self._link = await _Connection.acquire(self._key(), self.path, self.timeout)

    async def close(self) -> None:
        """Let go of the connection; the last user's close waits for the
        writes in progress, then closes it."""
        async with self._lock:
            link, self._link = self._link, None
            if link is not None:
                await link.release()

    def same_connection(self, other: Database) -> bool:
        """Whether ``other`` is open on this connection: one transaction can write to both."""
        return self._link is not None and self._link is other._link

    def views(self) -> dict[str, Any]:
        """In-memory views of this connection's data (see ``_Connection.views``)."""
        return self._open_link().views

    def _open_link(self) -> _Connection:
        link = self._link
        if link is None:
            raise StorageError(f"SQLite database {self.path!r} is not open: call open() first")
        return link

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the database thread, as it is (reads, or a
        write that manages its own transaction with :func:`transaction`)."""
        link = self._open_link()
        with _errors():
            return await link.run_soon(fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in a write transaction, committed when this returns.

        ``fn`` must not begin, commit or roll back itself. With group commit it
        shares the transaction with concurrent callers' functions, inside a
        savepoint of its own: if it raises, its changes are undone and the
        exception is raised here, and the others commit.
        """
        link = self._open_link()
        if not self.group_commit:
            return await self.run(partial(_alone, fn))
        with _errors():
            return await link.submit(fn)


class HasDatabase(Protocol):
    """A SQLite storage or queue: what ``beside()`` joins."""

    _db: Database


@dataclass(eq=False)
class _Connection:
    """One connection and its thread, shared by every :class:`Database` of a key."""

    loop: asyncio.AbstractEventLoop
    key: object
    executor: ThreadPoolExecutor
    ready: Future[sqlite3.Connection]
    conn: sqlite3.Connection | None = None
    refs: int = 0
    pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = field(
        default_factory=list
    )
    scheduled: bool = False
    in_flight: Future[list[tuple[bool, Any]]] | None = None
    on_landing: asyncio.Future[None] | None = None  # for release() to wait on
    # run() calls of one loop tick, shipped to the thread together
    reads: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = field(
        default_factory=list
    )
    reads_scheduled: bool = False
    # Views of rarely changed tables kept in memory (the domain blocks), shared
    # by every user of this connection, so a write through any of them is seen.
    views: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def acquire(cls, key: object, path: str, timeout: float) -> _Connection:
        loop = asyncio.get_running_loop()
        table = _OPEN.setdefault(loop, {})
        link = table.get(key)
        if link is None:
            executor = ThreadPoolExecutor(1, thread_name_prefix="activitypub-sqlite")
            ready = executor.submit(_connect, path, timeout)
            link = table[key] = cls(loop, key, executor, ready)
        link.refs += 1
        try:
            with _errors():
                # shielded: one opener cancelled must not fail the others' open
                link.conn = await asyncio.shield(asyncio.wrap_future(link.ready))
        except BaseException:
            link.refs -= 1
            if link.ready.done() and link.ready.exception() is not None:
                link.forget()  # failed to connect: the next open tries afresh
            if link.refs == 0:
                link.forget()
                link.executor.submit(_close_when_made, link.ready)
                link.executor.shutdown(wait=False)
            raise
        return link

    def connection(self) -> sqlite3.Connection:
        if self.conn is None:
            raise StorageError("SQLite database is closed")
        return self.conn

    def forget(self) -> None:
        table = _OPEN.get(self.loop, {})
        if table.get(self.key) is self:
            del table[self.key]
            if not table:
                del _OPEN[self.loop]

    async def release(self) -> None:
        self.refs -= 1
        if self.refs > 0:
            return
        self.forget()
        try:
            while self.in_flight is not None or self.pending:  # writes already accepted
                if self.in_flight is None:
                    self.ship()
                else:
                    self.on_landing = self.loop.create_future()
                    await self.on_landing
        finally:
            conn, self.conn = self.conn, None
            if conn is not None:
                closing = self.loop.run_in_executor(self.executor, conn.close)
                self.executor.shutdown(wait=False)
                with _errors():
                    await closing

    # -- reads, one hop per loop tick ------------------------------------------------
    def run_soon(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``fn(connection)`` in the thread, with the other run() calls of this
        loop tick: concurrent readers (an inbox worker's tasks) share one hop."""
        self.connection()
        done: asyncio.Future[T] = self.loop.create_future()
        self.reads.append((fn, done))
        if not self.reads_scheduled:
            self.reads_scheduled = True
            self.loop.call_soon(self.ship_reads)
        return done

    def ship_reads(self) -> None:
        self.reads_scheduled = False
        batch = [(fn, done) for fn, done in self.reads if not done.done()]
        self.reads = []
        if not batch:
            return
        waiters = [done for _, done in batch]
        if self.conn is None:
            for done in waiters:
                done.set_exception(StorageError("SQLite database is closed"))
            return
        flight = self.executor.submit(_each, self.conn, [fn for fn, _ in batch])
        flight.add_done_callback(partial(self.signal_reads, waiters))

    def signal_reads(self, waiters: list[asyncio.Future[Any]], flight: Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(_settle, waiters, flight)

    # -- group commit ------------------------------------------------------------
    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        self.connection()
        done: asyncio.Future[T] = self.loop.create_future()
        self.pending.append((fn, done))
        if not self.scheduled and self.in_flight is None:
            self.scheduled = True
            self.loop.call_soon(self.tick)
        return done

    def tick(self) -> None:
        self.scheduled = False
        if self.in_flight is None:
            self.ship()

    def ship(self) -> None:
        # a caller cancelled before its batch left is dropped: it never ran
        batch = [(fn, done) for fn, done in self.pending if not done.done()]
        self.pending = []
        if not batch:
            return
        if self.conn is None:  # cannot happen: release() waits for every write
            for _, done in batch:
                done.set_exception(StorageError("SQLite database is closed"))
            return
        waiters = [done for _, done in batch]
        self.in_flight = self.executor.submit(_batch, self.conn, [fn for fn, _ in batch])
        # called in the thread: straight to the loop, no asyncio future between
        self.in_flight.add_done_callback(partial(self.signal, waiters))

    def signal(self, waiters: list[asyncio.Future[Any]], flight: Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(self.landed, waiters, flight)

    def landed(self, waiters: list[asyncio.Future[Any]], flight: Future[Any]) -> None:
        self.in_flight = None
        exc = StorageError("write cancelled") if flight.cancelled() else flight.exception()
        outcomes: list[tuple[bool, Any]] = (
            [(False, exc)] * len(waiters) if exc is not None else flight.result()
        )
        for done, (ok, value) in zip(waiters, outcomes, strict=True):
            if done.done():  # cancelled while in the thread: its write stands
                continue
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)
        if self.pending:  # what came in meanwhile goes at once, as one batch
            self.ship()
        if self.on_landing is not None and not self.on_landing.done():
            self.on_landing.set_result(None)


# -- in the database thread -----------------------------------------------------------


def _connect(path: str, timeout: float) -> sqlite3.Connection:
    # isolation_level=None: autocommit, transactions are explicit (see transaction()).
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        # The first real read: a file that is not a database fails here, on open.
        _wal(conn, timeout)
        # In WAL mode NORMAL survives a killed process; only power loss can
        # drop the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        migrate(conn)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL. The switch needs an exclusive lock and, unlike other
    statements, fails at once with SQLITE_BUSY instead of waiting out
    ``busy_timeout`` while another connection opens the same fresh file."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _close_when_made(ready: Future[sqlite3.Connection]) -> None:
    """Close the connection of an open that every opener gave up on. Runs
    after ``_connect`` in the same thread, so ``ready`` is done."""
    if not ready.cancelled() and ready.exception() is None:
        ready.result().close()


def _each(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """Run ``fns`` one after another, as they are; (ok, result or exception) each."""
    outcomes: list[tuple[bool, Any]] = []
    for fn in fns:
        try:
            outcomes.append((True, fn(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
    return outcomes


def _settle(waiters: list[asyncio.Future[Any]], flight: Future[list[tuple[bool, Any]]]) -> None:
    """Hand each waiter its outcome from a finished batch (in the loop)."""
    exc = StorageError("read cancelled") if flight.cancelled() else flight.exception()
    outcomes: list[tuple[bool, Any]] = (
        [(False, exc)] * len(waiters) if exc is not None else flight.result()
    )
    for done, (ok, value) in zip(waiters, outcomes, strict=True):
        if done.done():  # its caller was cancelled meanwhile
            continue
        if ok:
            done.set_result(value)
        else:
            done.set_exception(value)


def _rollback(conn: sqlite3.Connection) -> None:
    # Some errors (disk full, I/O) already rolled the transaction back.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that holds the database lock from its first statement.

    ``BEGIN IMMEDIATE`` rather than a deferred ``BEGIN``: a read that later
    upgrades to a write can fail at once with SQLITE_BUSY in WAL mode, while an
    immediate transaction waits out ``busy_timeout`` like any other writer.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        _rollback(conn)
        raise
    conn.execute("COMMIT")


def _alone(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    with transaction(conn):
        return fn(conn)


def _batch(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """Run ``fns`` in one transaction; (ok, result or exception) each.

    Optimistic: all in one go, which is what almost always happens. If one
    raises, the transaction is rolled back and they run again, each in a
    savepoint of its own, so only the failing ones fail. (They are functions
    of the database alone, so running them again, in the same order, from
    the same state, does the same.)
    """
    if len(fns) == 1:  # no savepoint needed
        try:
            return [(True, _alone(fns[0], conn))]
        except Exception as exc:
            return [(False, exc)]
    try:
        conn.execute("BEGIN IMMEDIATE")
    except Exception as exc:  # busy past the timeout: none of them ran
        return [(False, exc)] * len(fns)
    try:
        results = [fn(conn) for fn in fns]
        conn.execute("COMMIT")
    except Exception:
        _rollback(conn)
        return _each_in_a_savepoint(conn, fns)
    except BaseException:
        _rollback(conn)
        raise
    return [(True, result) for result in results]


def _each_in_a_savepoint(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except Exception as exc:
        return [(False, exc)] * len(fns)
    outcomes: list[tuple[bool, Any]] = []
    try:
        for fn in fns:
            conn.execute("SAVEPOINT item")
            try:
                outcomes.append((True, fn(conn)))
            except Exception as exc:
                if not conn.in_transaction:
                    raise  # the error ended the whole transaction
                conn.execute("ROLLBACK TO item")
                outcomes.append((False, exc))
            conn.execute("RELEASE item")
        conn.execute("COMMIT")
    except Exception as exc:
        _rollback(conn)
        # nothing committed: the functions that had succeeded (or not run) fail with it
        failed = (False, exc)
        outcomes = [o if not o[0] else failed for o in outcomes]
        outcomes += [failed] * (len(fns) - len(outcomes))
    except BaseException:
        _rollback(conn)
        raise
    return outcomes


# -- shared ---------------------------------------------------------------------------


@contextmanager
def _errors() -> Iterator[None]:
    """sqlite3's errors as :class:`StorageError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite: {exc}") from exc
    except UnicodeEncodeError as exc:  # a lone surrogate in a key column
        raise StorageError(f"text SQLite cannot store (not valid Unicode): {exc}") from exc


def dump_json(data: dict[str, Any]) -> str:
    """Compact JSON text; ``\\u`` escapes only if the text holds lone surrogates,
    which a remote document may carry but UTF-8 (so SQLite) cannot."""
    fast = jsonfast.dumps_compact(data)
    if fast is not None:  # else json's way: lone surrogates, NaN, big integers ...
        return fast
    text = _COMPACT.encode(data)
    try:
        text.encode()
    except UnicodeEncodeError:
        text = _ESCAPED.encode(data)
    return text


# One encoder each, made once: json.dumps with options builds a new one per call.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ESCAPED = json.JSONEncoder(separators=(",", ":"))


def load_json(text: str) -> dict[str, Any]:
    data = jsonfast.loads(text)
    if not isinstance(data, dict):
        raise StorageError("stored JSON is not an object: the database was edited by hand?")
    return cast(dict[str, Any], data)


class SqliteBacked(Lifecycle):
    """What :class:`SqliteStorage` and :class:`SqliteQueue` share: a (possibly
    shared) :class:`Database`, its lifecycle and ``async with``."""

    _db: Database

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        share: bool = True,
        group_commit: bool = True,
    ) -> None:
        self._db = Database(path, timeout=timeout, share=share, group_commit=group_commit)

    @classmethod
    def beside(cls, other: HasDatabase) -> Self:
        """One on ``other``'s connection (a storage or a queue), even an
        in-memory one; open and close it as usual."""
        made = cls.__new__(cls)
        made._db = Database.beside(other._db)
        return made

    @property
    def path(self) -> str:
        return self._db.path

    async def open(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()
