"""Storage in one SQLite file: the default, zero set-up and durable.

Every call is one function run in the database thread (see ``_database``),
so a multi-statement change is one transaction; concurrent writes share a
transaction (group commit), each still all-or-nothing. Instances on one event
loop share the file's connection; other processes may share the file too:
WAL lets readers run beside the one writer and ``busy_timeout`` makes writers
queue rather than fail.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from activitypub.storage._database import SqliteBacked, dump_json, load_json
from activitypub.storage._shared import domain_and_parents, normalise_host, tombstone
from activitypub.storage.base import (
    CachedDocument,
    Follower,
    Following,
    FollowState,
    LocalActor,
    StoredObject,
)

__all__ = ["SqliteStorage"]

_FOLLOWER = "local, actor_id, inbox, shared_inbox, follow_id, state, created_at"
_FOLLOWING = "local, actor_id, follow_id, state, inbox, created_at"
_OBJECT = "id, type, data, local, attributed_to, visibility, published, deleted"
_ACTOR = (
    "identifier, actor_type, profile, private_key_pem, ed25519_private_multibase,"
    " manually_approves_followers, created_at"
)


def _upsert(table: str, columns: str, key: str) -> str:
    """Insert or update in place (not INSERT OR REPLACE, which would give the
    row a new ``seq`` and move a follower to the end of the list)."""
    names = [c.strip() for c in columns.split(",")]
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in keys)
    marks = ", ".join("?" * len(names))
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


_PUT_ACTOR = _upsert("local_actors", _ACTOR, "identifier")
_PUT_FOLLOWER = _upsert("followers", _FOLLOWER, "local, actor_id")
_PUT_FOLLOWING = _upsert("following", _FOLLOWING, "local, actor_id")
_PUT_OBJECT = _upsert("objects", _OBJECT, "id")
_PUT_CACHED = _upsert("cache", "url, data, fetched_at, expires_at, error", "url")
_MARK_SEEN = (
    "INSERT INTO seen (scope, activity_id, seen_at) VALUES (?, ?, ?)"
    " ON CONFLICT (scope, activity_id) DO NOTHING"
)
_DOMAIN_VIEW = "domain_blocks"


class SqliteStorage(SqliteBacked):
    """:class:`~activitypub.storage.Storage` in the SQLite file at ``path``.

    ``async with SqliteStorage("instance.db") as storage:`` opens (creating or
    migrating the schema) and closes it. ``timeout`` is how long a writer
    waits for another connection's lock before :class:`StorageError`.

    Storages and queues of the same file on one event loop share one
    connection (``share=False``: a connection of its own); ``":memory:"`` is
    private, :meth:`beside` joins a queue's or another storage's connection.
    ``group_commit=False`` gives every write its own transaction.
    """

    async def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write statement (group committed); how many rows it changed."""
        return await self._db.write(lambda c: c.execute(sql, params).rowcount)

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = await self._db.run(
            lambda c: c.execute(sql, params).fetchone()
        )
        return row

    async def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = await self._db.run(
            lambda c: c.execute(sql, params).fetchall()
        )
        return rows

    # -- local actors ---------------------------------------------------------------
    async def put_local_actor(self, actor: LocalActor) -> None:
        await self._exec(
            _PUT_ACTOR,
            (
                actor.identifier,
                actor.actor_type,
                dump_json(actor.profile),
                actor.private_key_pem,
                actor.ed25519_private_multibase,
                actor.manually_approves_followers,
                actor.created_at,
            ),
        )

    async def get_local_actor(self, identifier: str) -> LocalActor | None:
        row = await self._one(
            f"SELECT {_ACTOR} FROM local_actors WHERE identifier = ?", (identifier,)
        )
        return None if row is None else _actor(row)

    async def list_local_actors(self) -> list[LocalActor]:
        rows = await self._all(f"SELECT {_ACTOR} FROM local_actors ORDER BY identifier")
        return [_actor(r) for r in rows]

    async def delete_local_actor(self, identifier: str) -> bool:
        return await self._exec("DELETE FROM local_actors WHERE identifier = ?", (identifier,)) > 0

    # -- followers ------------------------------------------------------------------
    async def put_follower(self, follower: Follower) -> None:
        await self._exec(
            _PUT_FOLLOWER,
            (
                follower.local,
                follower.actor_id,
                follower.inbox,
                follower.shared_inbox,
                follower.follow_id,
                follower.state,
                follower.created_at,
            ),
        )

    async def get_follower(self, local: str, actor_id: str) -> Follower | None:
        row = await self._one(
            f"SELECT {_FOLLOWER} FROM followers WHERE local = ? AND actor_id = ?",
            (local, actor_id),
        )
        return None if row is None else Follower(*row)

    async def remove_follower(self, local: str, actor_id: str) -> bool:
        sql = "DELETE FROM followers WHERE local = ? AND actor_id = ?"
        return await self._exec(sql, (local, actor_id)) > 0

    async def list_followers(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Follower]:
        where, params = _where_local(local, state)
        rows = await self._all(
            f"SELECT {_FOLLOWER} FROM followers WHERE {where}"
            " ORDER BY created_at, seq LIMIT ? OFFSET ?",
            (*params, max(limit, 0), max(offset, 0)),
        )
        return [Follower(*r) for r in rows]

    async def count_followers(self, local: str, *, state: FollowState | None = "accepted") -> int:
        where, params = _where_local(local, state)
        row = await self._one(f"SELECT count(*) FROM followers WHERE {where}", params)
        return int(row[0]) if row else 0

    async def remove_followers_by_inbox(self, inbox: str) -> int:
        sql = "DELETE FROM followers WHERE inbox = ? OR shared_inbox = ?"
        return await self._exec(sql, (inbox, inbox))

    # -- following ------------------------------------------------------------------
    async def put_following(self, following: Following) -> None:
        await self._exec(
            _PUT_FOLLOWING,
            (
                following.local,
                following.actor_id,
                following.follow_id,
                following.state,
                following.inbox,
                following.created_at,
            ),
        )

    async def get_following(self, local: str, actor_id: str) -> Following | None:
        row = await self._one(
            f"SELECT {_FOLLOWING} FROM following WHERE local = ? AND actor_id = ?",
            (local, actor_id),
        )
        return None if row is None else Following(*row)

    async def get_following_by_follow_id(self, follow_id: str) -> Following | None:
        row = await self._one(
            f"SELECT {_FOLLOWING} FROM following WHERE follow_id = ? ORDER BY seq LIMIT 1",
            (follow_id,),
        )
        return None if row is None else Following(*row)

    async def remove_following(self, local: str, actor_id: str) -> bool:
        sql = "DELETE FROM following WHERE local = ? AND actor_id = ?"
        return await self._exec(sql, (local, actor_id)) > 0

    async def list_following(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Following]:
        where, params = _where_local(local, state)
        rows = await self._all(
            f"SELECT {_FOLLOWING} FROM following WHERE {where}"
            " ORDER BY created_at, seq LIMIT ? OFFSET ?",
            (*params, max(limit, 0), max(offset, 0)),
        )
        return [Following(*r) for r in rows]

    async def count_following(self, local: str, *, state: FollowState | None = "accepted") -> int:
        where, params = _where_local(local, state)
        row = await self._one(f"SELECT count(*) FROM following WHERE {where}", params)
        return int(row[0]) if row else 0

    async def remove_remote_actor(self, actor_id: str) -> int:
        def forget(conn: sqlite3.Connection) -> int:
            n = conn.execute("DELETE FROM followers WHERE actor_id = ?", (actor_id,)).rowcount
            n += conn.execute("DELETE FROM following WHERE actor_id = ?", (actor_id,)).rowcount
            # the document and its fragments (``#main-key``), as an index range
            n += conn.execute(
                "DELETE FROM cache WHERE url = ? OR (url >= ? AND url < ?)",
                (actor_id, actor_id + "#", actor_id + "$"),
            ).rowcount
            return n

        return await self._db.write(forget)

    # -- objects --------------------------------------------------------------------
    async def put_object(self, obj: StoredObject) -> None:
        await self._exec(
            _PUT_OBJECT,
            (
                obj.id,
                obj.type,
                dump_json(obj.data),
                obj.local,
                obj.attributed_to,
                obj.visibility,
                obj.published,
                obj.deleted,
            ),
        )

    async def get_object(self, id: str) -> StoredObject | None:
        row = await self._one(f"SELECT {_OBJECT} FROM objects WHERE id = ?", (id,))
        return None if row is None else _object(row)

    async def delete_object(self, id: str) -> bool:
        def bury(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                f"SELECT {_OBJECT} FROM objects WHERE id = ? AND deleted = 0", (id,)
            ).fetchone()
            if row is None:
                return False
            data = dump_json(tombstone(_object(row)).data)
            conn.execute("UPDATE objects SET data = ?, deleted = 1 WHERE id = ?", (data, id))
            return True

        return await self._db.write(bury)

    # -- collections ----------------------------------------------------------------
    async def add_to_collection(
        self, local: str, name: str, item_id: str, *, added_at: float = 0.0
    ) -> bool:
        sql = (
            "INSERT INTO collection_items (local, name, item_id, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (local, name, item_id) DO NOTHING"
        )
        return await self._exec(sql, (local, name, item_id, added_at)) > 0

    async def remove_from_collection(self, local: str, name: str, item_id: str) -> bool:
        sql = "DELETE FROM collection_items WHERE local = ? AND name = ? AND item_id = ?"
        return await self._exec(sql, (local, name, item_id)) > 0

    async def list_collection(
        self, local: str, name: str, *, offset: int = 0, limit: int = 20
    ) -> list[str]:
        rows = await self._all(
            "SELECT item_id FROM collection_items WHERE local = ? AND name = ?"
            " ORDER BY added_at DESC, seq DESC LIMIT ? OFFSET ?",
            (local, name, max(limit, 0), max(offset, 0)),
        )
        return [r[0] for r in rows]

    async def count_collection(self, local: str, name: str) -> int:
        row = await self._one(
            "SELECT count(*) FROM collection_items WHERE local = ? AND name = ?", (local, name)
        )
        return int(row[0]) if row else 0

    # -- inbox deduplication ----------------------------------------------------------
    async def mark_seen(
        self,
        scope: str,
        activity_id: str,
        *,
        at: float,
        then: Callable[[sqlite3.Connection], Any] | None = None,
    ) -> bool:
        """As the protocol says; ``then(connection)`` runs in the same transaction
        when the id is new (a queue's insertion on this connection, see
        :meth:`~activitypub.queue.SqliteQueue.insertion`): the id is remembered
        if and only if the task is stored, even across a crash."""

        def insert(conn: sqlite3.Connection) -> bool:
            # One INSERT: the primary key decides the race, across connections too.
            new = conn.execute(_MARK_SEEN, (scope, activity_id, at)).rowcount == 1
            if new and then is not None:
                then(conn)
            return new

        return bool(await self._db.write(insert))

    async def unmark_seen(self, scope: str, activity_id: str) -> bool:
        sql = "DELETE FROM seen WHERE scope = ? AND activity_id = ?"
        return await self._exec(sql, (scope, activity_id)) > 0

    async def forget_seen(self, *, before: float) -> int:
        return await self._exec("DELETE FROM seen WHERE seen_at < ?", (before,))

    # -- remote document cache ----------------------------------------------------------
    async def get_cached(self, url: str) -> CachedDocument | None:
        row = await self._one(
            "SELECT url, data, fetched_at, expires_at, error FROM cache WHERE url = ?", (url,)
        )
        if row is None:
            return None
        url, data, fetched_at, expires_at, error = row
        body = None if data is None else load_json(data)
        return CachedDocument(url, body, fetched_at, expires_at, error)

    async def put_cached(self, doc: CachedDocument) -> None:
        await self._exec(
            _PUT_CACHED,
            (
                doc.url,
                None if doc.data is None else dump_json(doc.data),
                doc.fetched_at,
                doc.expires_at,
                doc.error,
            ),
        )

    async def drop_cached(self, url: str) -> bool:
        return await self._exec("DELETE FROM cache WHERE url = ?", (url,)) > 0

    # -- blocks -----------------------------------------------------------------------
    async def put_block(self, local: str, actor_id: str) -> None:
        sql = "INSERT INTO blocks (local, actor_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
        await self._exec(sql, (local, actor_id))

    async def remove_block(self, local: str, actor_id: str) -> bool:
        sql = "DELETE FROM blocks WHERE local = ? AND actor_id = ?"
        return await self._exec(sql, (local, actor_id)) > 0

    async def is_blocked(self, local: str, actor_id: str) -> bool:
        sql = "SELECT 1 FROM blocks WHERE local = ? AND actor_id = ?"
        return await self._one(sql, (local, actor_id)) is not None

    # Domain blocks are asked about on every inbox POST and change rarely: they
    # are read from a set in memory, shared by everything on this connection
    # and updated by its writes. Another process's change shows within
    # ``domain_blocks_ttl`` seconds, when the set is read again.
    domain_blocks_ttl = 1.0

    async def block_domain(self, host: str) -> None:
        sql = "INSERT INTO domain_blocks (host) VALUES (?) ON CONFLICT DO NOTHING"
        await self._exec(sql, (normalise_host(host),))
        self._db.views().pop(_DOMAIN_VIEW, None)

    async def unblock_domain(self, host: str) -> bool:
        sql = "DELETE FROM domain_blocks WHERE host = ?"
        removed = await self._exec(sql, (normalise_host(host),)) > 0
        self._db.views().pop(_DOMAIN_VIEW, None)
        return removed

    async def is_domain_blocked(self, host: str) -> bool:
        view = self._db.views().get(_DOMAIN_VIEW)
        if isinstance(view, _View) and view.fresh(self.domain_blocks_ttl):
            blocked = view.load.result()  # the usual case: nothing to wait for
        else:
            blocked = await self._domain_blocks()
        return bool(blocked) and any(h in blocked for h in domain_and_parents(host))

    async def _domain_blocks(self) -> frozenset[str]:
        views = self._db.views()
        view = views.get(_DOMAIN_VIEW)
        if not isinstance(view, _View) or (
            view.load.done() and not view.fresh(self.domain_blocks_ttl)
        ):
            view = views[_DOMAIN_VIEW] = _View(self._load_domain_blocks())
        load = view.load
        try:
            return await asyncio.shield(load)
        except BaseException:
            if views.get(_DOMAIN_VIEW) is view and load.done():
                del views[_DOMAIN_VIEW]  # a failed read is not kept
            raise

    async def _load_domain_blocks(self) -> frozenset[str]:
        rows = await self._all("SELECT host FROM domain_blocks")
        return frozenset(r[0] for r in rows)


class _View:
    """One read of a table into memory, shared by the readers that wait for it.

    A write drops the view (so the next reader loads afresh); a reader that
    began before the write may still get the older set, as it would have
    from a read racing the write.
    """

    __slots__ = ("load", "loaded_at")

    def __init__(self, load: Any) -> None:
        self.load: asyncio.Future[frozenset[str]] = asyncio.ensure_future(load)
        self.loaded_at = float("inf")
        self.load.add_done_callback(self._loaded)

    def _loaded(self, _: Any) -> None:
        self.loaded_at = time.monotonic()

    def fresh(self, ttl: float) -> bool:
        """Loaded (successfully) less than ``ttl`` seconds ago."""
        return (
            self.load.done()
            and not self.load.cancelled()
            and self.load.exception() is None
            and time.monotonic() - self.loaded_at <= ttl
        )


def _where_local(local: str, state: FollowState | None) -> tuple[str, tuple[str, ...]]:
    if state is None:
        return "local = ?", (local,)
    return "local = ? AND state = ?", (local, state)


def _actor(row: tuple[Any, ...]) -> LocalActor:
    identifier, actor_type, profile, pem, multibase, manual, created_at = row
    return LocalActor(
        identifier, actor_type, load_json(profile), pem, multibase, bool(manual), created_at
    )


def _object(row: tuple[Any, ...]) -> StoredObject:
    id, type, data, local, attributed_to, visibility, published, deleted = row
    return StoredObject(
        id, type, load_json(data), local, attributed_to, visibility, published, bool(deleted)
    )
