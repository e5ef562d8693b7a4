"""Storage in dictionaries, for tests and throwaway instances.

No method awaits anything, so each one runs whole on the event loop and is
atomic under asyncio concurrency without a lock. JSON data is copied through
``json`` on the way in and out, so a test sees exactly what SQLite would
return (lists for tuples, no aliasing with the caller's dict).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, TypeVar

from activitypub.storage._database import dump_json, load_json
from activitypub.storage._shared import Lifecycle, domain_and_parents, normalise_host, tombstone
from activitypub.storage.base import (
    CachedDocument,
    Follower,
    Following,
    FollowState,
    LocalActor,
    StoredObject,
)

__all__ = ["MemoryStorage"]

_R = TypeVar("_R", LocalActor, StoredObject, CachedDocument)


def _copy(record: _R) -> _R:
    if isinstance(record, LocalActor):
        return dataclasses.replace(record, profile=_clone(record.profile))
    if record.data is None:
        return record
    return dataclasses.replace(record, data=_clone(record.data))


def _clone(data: dict[str, Any]) -> dict[str, Any]:
    return load_json(dump_json(data))


class MemoryStorage(Lifecycle):
    """:class:`~activitypub.storage.Storage` in process memory; gone on exit."""

    def __init__(self) -> None:
        self._seq = itertools.count()
        self._actors: dict[str, LocalActor] = {}
        # (local, actor_id) -> (insertion order, record); order survives upserts
        self._followers: dict[tuple[str, str], tuple[int, Follower]] = {}
        self._following: dict[tuple[str, str], tuple[int, Following]] = {}
        self._objects: dict[str, StoredObject] = {}
        self._collections: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._cache: dict[str, CachedDocument] = {}
        self._blocks: set[tuple[str, str]] = set()
        self._domain_blocks: set[str] = set()

    # -- local actors ---------------------------------------------------------------
    async def put_local_actor(self, actor: LocalActor) -> None:
        self._actors[actor.identifier] = _copy(actor)

    async def get_local_actor(self, identifier: str) -> LocalActor | None:
        actor = self._actors.get(identifier)
        return None if actor is None else _copy(actor)

    async def list_local_actors(self) -> list[LocalActor]:
        return [_copy(a) for a in sorted(self._actors.values(), key=lambda a: a.identifier)]

    async def delete_local_actor(self, identifier: str) -> bool:
        return self._actors.pop(identifier, None) is not None

    # -- followers ------------------------------------------------------------------
    async def put_follower(self, follower: Follower) -> None:
        key = (follower.local, follower.actor_id)
        old = self._followers.get(key)
        self._followers[key] = (next(self._seq) if old is None else old[0], follower)

    async def get_follower(self, local: str, actor_id: str) -> Follower | None:
        entry = self._followers.get((local, actor_id))
        return None if entry is None else entry[1]

    async def remove_follower(self, local: str, actor_id: str) -> bool:
        return self._followers.pop((local, actor_id), None) is not None

    async def list_followers(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Follower]:
        return _page(_select(self._followers, local, state), offset, limit)

    async def count_followers(self, local: str, *, state: FollowState | None = "accepted") -> int:
        return len(_select(self._followers, local, state))

    async def remove_followers_by_inbox(self, inbox: str) -> int:
        gone = [k for k, (_, f) in self._followers.items() if inbox in (f.inbox, f.shared_inbox)]
        for key in gone:
            del self._followers[key]
        return len(gone)

    # -- following ------------------------------------------------------------------
    async def put_following(self, following: Following) -> None:
        key = (following.local, following.actor_id)
        old = self._following.get(key)
        self._following[key] = (next(self._seq) if old is None else old[0], following)

    async def get_following(self, local: str, actor_id: str) -> Following | None:
        entry = self._following.get((local, actor_id))
        return None if entry is None else entry[1]

    async def get_following_by_follow_id(self, follow_id: str) -> Following | None:
        matches = [(s, f) for s, f in self._following.values() if f.follow_id == follow_id]
        return min(matches, key=lambda m: m[0])[1] if matches else None

    async def remove_following(self, local: str, actor_id: str) -> bool:
        return self._following.pop((local, actor_id), None) is not None

    async def list_following(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Following]:
        return _page(_select(self._following, local, state), offset, limit)

    async def count_following(self, local: str, *, state: FollowState | None = "accepted") -> int:
        return len(_select(self._following, local, state))

    async def remove_remote_actor(self, actor_id: str) -> int:
        removed = 0
        for table in (self._followers, self._following):
            gone = [k for k in table if k[1] == actor_id]
            for key in gone:
                del table[key]
            removed += len(gone)
        fragment = actor_id + "#"
        urls = [u for u in self._cache if u == actor_id or u.startswith(fragment)]
        for url in urls:
            del self._cache[url]
        return removed + len(urls)

    # -- objects --------------------------------------------------------------------
    async def put_object(self, obj: StoredObject) -> None:
        self._objects[obj.id] = _copy(obj)

    async def get_object(self, id: str) -> StoredObject | None:
        obj = self._objects.get(id)
        return None if obj is None else _copy(obj)

    async def delete_object(self, id: str) -> bool:
        obj = self._objects.get(id)
        if obj is None or obj.deleted:
            return False
        self._objects[id] = tombstone(obj)
        return True

    # -- collections ----------------------------------------------------------------
    async def add_to_collection(
        self, local: str, name: str, item_id: str, *, added_at: float = 0.0
    ) -> bool:
        items = self._collections.setdefault((local, name), {})
        if item_id in items:
            return False
        items[item_id] = (added_at, next(self._seq))
        return True

    async def remove_from_collection(self, local: str, name: str, item_id: str) -> bool:
        return self._collections.get((local, name), {}).pop(item_id, None) is not None

    async def list_collection(
        self, local: str, name: str, *, offset: int = 0, limit: int = 20
    ) -> list[str]:
        items = self._collections.get((local, name), {})
        newest_first = sorted(items, key=items.__getitem__, reverse=True)
        return _page(newest_first, offset, limit)

    async def count_collection(self, local: str, name: str) -> int:
        return len(self._collections.get((local, name), {}))

    # -- inbox deduplication ----------------------------------------------------------
    async def mark_seen(self, scope: str, activity_id: str, *, at: float) -> bool:
        if (scope, activity_id) in self._seen:
            return False
        self._seen[scope, activity_id] = at
        return True

    async def unmark_seen(self, scope: str, activity_id: str) -> bool:
        return self._seen.pop((scope, activity_id), None) is not None

    async def forget_seen(self, *, before: float) -> int:
        old = [k for k, at in self._seen.items() if at < before]
        for key in old:
            del self._seen[key]
        return len(old)

    # -- remote document cache ----------------------------------------------------------
    async def get_cached(self, url: str) -> CachedDocument | None:
        doc = self._cache.get(url)
        return None if doc is None else _copy(doc)

    async def put_cached(self, doc: CachedDocument) -> None:
        self._cache[doc.url] = _copy(doc)

    async def drop_cached(self, url: str) -> bool:
        return self._cache.pop(url, None) is not None

    # -- blocks -----------------------------------------------------------------------
    async def put_block(self, local: str, actor_id: str) -> None:
        self._blocks.add((local, actor_id))

    async def remove_block(self, local: str, actor_id: str) -> bool:
        if (local, actor_id) not in self._blocks:
            return False
        self._blocks.discard((local, actor_id))
        return True

    async def is_blocked(self, local: str, actor_id: str) -> bool:
        return (local, actor_id) in self._blocks

    async def block_domain(self, host: str) -> None:
        self._domain_blocks.add(normalise_host(host))

    async def unblock_domain(self, host: str) -> bool:
        host = normalise_host(host)
        if host not in self._domain_blocks:
            return False
        self._domain_blocks.discard(host)
        return True

    async def is_domain_blocked(self, host: str) -> bool:
        blocked = self._domain_blocks
        return bool(blocked) and any(h in blocked for h in domain_and_parents(host))


_F = TypeVar("_F", Follower, Following)
_T = TypeVar("_T")


def _select(
    table: dict[tuple[str, str], tuple[int, _F]], local: str, state: FollowState | None
) -> list[_F]:
    """Oldest first: by ``created_at``, then by first insertion."""
    rows = [
        (r.created_at, seq, r)
        for seq, r in table.values()
        if r.local == local and (state is None or r.state == state)
    ]
    rows.sort(key=lambda row: row[:2])
    return [r for _, _, r in rows]


def _page(items: list[_T], offset: int, limit: int) -> list[_T]:
    offset = max(offset, 0)
    return items[offset : offset + max(limit, 0)]
