"""What the federation layer stores, behind one small protocol.

Two implementations ship: :class:`MemoryStorage` (tests) and
:class:`SqliteStorage` (the default: one file, zero set-up, schema versioned
with migrations). Records are frozen dataclasses holding JSON-ready data, so
a backend only moves rows; every federation rule lives above this layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

__all__ = [
    "CachedDocument",
    "Follower",
    "FollowState",
    "Following",
    "LocalActor",
    "Storage",
    "StoredObject",
    "Visibility",
]

FollowState: TypeAlias = Literal["pending", "accepted", "rejected"]
Visibility: TypeAlias = Literal["public", "unlisted", "followers", "direct"]


@dataclass(frozen=True, slots=True)
class LocalActor:
    """An actor this server hosts, with its keys (PEM / multibase, private)."""

    identifier: str
    actor_type: str = "Person"
    profile: dict[str, Any] = field(default_factory=dict)
    """Extra actor fields in compact JSON (name, summary, icon, ...)."""
    private_key_pem: str = ""
    """RSA-2048, PKCS#8 PEM: the ``#main-key`` every peer understands."""
    ed25519_private_multibase: str | None = None
    """Ed25519 secret Multikey, for FEP-8b32 proofs and RFC 9421."""
    manually_approves_followers: bool = False
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Follower:
    """A remote actor following a local one."""

    local: str
    actor_id: str
    inbox: str
    shared_inbox: str | None = None
    follow_id: str | None = None
    state: FollowState = "accepted"
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Following:
    """A local actor following a remote one; ``accepted`` once its Accept arrived."""

    local: str
    actor_id: str
    follow_id: str
    state: FollowState = "pending"
    inbox: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object or activity, ours or received, as compact JSON."""

    id: str
    type: str
    data: dict[str, Any]
    local: str | None = None
    """The local actor that owns it, or None for remote objects."""
    attributed_to: str | None = None
    visibility: Visibility = "public"
    published: float = 0.0
    deleted: bool = False
    """A tombstone: kept so a late Create cannot bring it back."""


@dataclass(frozen=True, slots=True)
class CachedDocument:
    """A fetched remote document (actor, key); ``data`` None is a cached failure."""

    url: str
    data: dict[str, Any] | None
    fetched_at: float
    expires_at: float
    error: str | None = None


@runtime_checkable
class Storage(Protocol):
    """Every method is a coroutine; implementations must be safe under concurrency."""

    async def open(self) -> None:
        """Create or migrate the schema. Idempotent."""

    async def close(self) -> None: ...

    # -- local actors -----------------------------------------------------------
    async def put_local_actor(self, actor: LocalActor) -> None: ...
    async def get_local_actor(self, identifier: str) -> LocalActor | None: ...
    async def list_local_actors(self) -> list[LocalActor]: ...
    async def delete_local_actor(self, identifier: str) -> bool: ...

    # -- followers (remote actors following a local one) -------------------------
    async def put_follower(self, follower: Follower) -> None:
        """Insert or replace by (local, actor_id)."""

    async def get_follower(self, local: str, actor_id: str) -> Follower | None: ...
    async def remove_follower(self, local: str, actor_id: str) -> bool: ...
    async def list_followers(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Follower]:
        """Oldest first, so pages are stable while new followers arrive."""

    async def count_followers(
        self, local: str, *, state: FollowState | None = "accepted"
    ) -> int: ...

    async def remove_followers_by_inbox(self, inbox: str) -> int:
        """Drop every follower delivered through ``inbox`` (as inbox or shared inbox); 410 Gone."""

    # -- following (local actors following remote ones) ---------------------------
    async def put_following(self, following: Following) -> None:
        """Insert or replace by (local, actor_id)."""

    async def get_following(self, local: str, actor_id: str) -> Following | None: ...
    async def get_following_by_follow_id(self, follow_id: str) -> Following | None: ...
    async def remove_following(self, local: str, actor_id: str) -> bool: ...
    async def list_following(
        self,
        local: str,
        *,
        state: FollowState | None = "accepted",
        offset: int = 0,
        limit: int = 100,
    ) -> list[Following]: ...

    async def count_following(
        self, local: str, *, state: FollowState | None = "accepted"
    ) -> int: ...

    async def remove_remote_actor(self, actor_id: str) -> int:
        """Forget a remote actor everywhere (Delete of the actor): follows both ways, cache."""

    # -- objects and activities -----------------------------------------------------
    async def put_object(self, obj: StoredObject) -> None:
        """Insert or replace by id."""

    async def get_object(self, id: str) -> StoredObject | None: ...
    async def delete_object(self, id: str) -> bool:
        """Keep a tombstone (``deleted=True``, data cleared but for id/type)."""

    # -- collections: outbox, liked, featured, and application-defined ones -------
    async def add_to_collection(
        self, local: str, name: str, item_id: str, *, added_at: float = 0.0
    ) -> bool:
        """Append; False when already present. Items reference stored objects by id."""

    async def remove_from_collection(self, local: str, name: str, item_id: str) -> bool: ...
    async def list_collection(
        self, local: str, name: str, *, offset: int = 0, limit: int = 20
    ) -> list[str]:
        """Newest first (the order ActivityPub clients expect of an outbox)."""

    async def count_collection(self, local: str, name: str) -> int: ...

    # -- inbox deduplication ---------------------------------------------------------
    async def mark_seen(self, scope: str, activity_id: str, *, at: float) -> bool:
        """Atomically record ``activity_id`` under ``scope`` (an inbox).

        True the first time, False for a duplicate, also when two callers race.
        """

    async def unmark_seen(self, scope: str, activity_id: str) -> bool:
        """Forget one id (the inbox, when it could not queue what it marked seen)."""

    async def forget_seen(self, *, before: float) -> int: ...

    # -- remote document cache (actors, keys), negative entries included -----------------
    async def get_cached(self, url: str) -> CachedDocument | None: ...
    async def put_cached(self, doc: CachedDocument) -> None: ...
    async def drop_cached(self, url: str) -> bool: ...

    # -- blocks -------------------------------------------------------------------------------
    async def put_block(self, local: str, actor_id: str) -> None: ...
    async def remove_block(self, local: str, actor_id: str) -> bool: ...
    async def is_blocked(self, local: str, actor_id: str) -> bool: ...
    async def block_domain(self, host: str) -> None: ...
    async def unblock_domain(self, host: str) -> bool: ...
    async def is_domain_blocked(self, host: str) -> bool: ...
