"""Remote actors and their keys, fetched once and remembered.

A key id leads to a document: usually the actor itself (``…#main-key``),
sometimes a standalone key whose ``owner`` is then fetched. Either way the
key counts only when the owner's actor document lists it (S-02) and the key
document's own id is the key id (S-03). Failures are cached too, so a flood of
requests naming a dead host costs one fetch (S-08), and concurrent requests
for the same document share one fetch.

Documents are cached in storage (shared by processes, survives restarts);
verified keys are also kept in memory, parsed, in a bounded LRU: the steady
state of an inbox costs no storage read, JSON parse or PEM parse per request.
A key in memory expires with the storage entries it was built from, or
``memory_ttl`` after it was read from storage, whichever comes first (that
bounds how long a change made by another process sharing the storage goes
unseen); :meth:`KeyCache.forget`, :meth:`KeyCache.evict` and a refresh drop
it at once. Only keys that passed every check are kept in memory; failures
stay in storage (negative entries).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from activitypub.errors import (
    ActivityPubError,
    KeyFormatError,
    KeyOwnerError,
    KeyUnavailableError,
)
from activitypub.keys import PublicKey
from activitypub.storage import CachedDocument
from activitypub.urls import same_origin

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["KeyCache", "RemoteKey"]

_ACTOR_TYPES = frozenset({"Person", "Group", "Service", "Application", "Organization"})


@dataclass(frozen=True, slots=True)
class RemoteKey:
    key_id: str
    owner: str
    key: PublicKey
    actor: dict[str, Any]
    fresh: bool
    """Fetched just now (a failed verification is then final, not a stale cache)."""


class KeyCache:
    def __init__(
        self,
        fed: Federation,
        *,
        ttl: float = 86400.0,
        negative_ttl: float = 300.0,
        memory_ttl: float = 600.0,
        memory_size: int = 10_000,
    ):
        self.fed = fed
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.memory_ttl = memory_ttl
        self.memory_size = memory_size
        self._inflight: dict[str, asyncio.Future[tuple[dict[str, Any], float]]] = {}
        # key id -> (verified key, expiry, the documents it was built from);
        # document URL -> key ids built from it
        self._memory: OrderedDict[str, tuple[RemoteKey, float, tuple[str, ...]]] = OrderedDict()
        self._built_from: dict[str, set[str]] = {}
        self._epoch = 0  # bumped by every eviction

    async def key(self, key_id: str, *, refresh: bool = False) -> RemoteKey:
        """The key ``key_id`` names, with its verified owner."""
        if not refresh:
            hit = self._memory.get(key_id)
            if hit is not None:
                if hit[1] > time.time():
                    self._memory.move_to_end(key_id)
                    return hit[0]
                self._drop_key(key_id)
        if not key_id.startswith(("https://", "http://")):
            raise KeyUnavailableError(f"key id is not an http(s) URL: {key_id[:200]!r}")
        doc_url = key_id.split("#", 1)[0]
        epoch = self._epoch
        fresh = refresh
        doc, expires, was_fresh = await self._document(doc_url, refresh=refresh)
        fresh = fresh or was_fresh
        sources = [doc_url]
        if _is_actor(doc):
            owner_doc = doc
        else:
            # A standalone key document: its id must be the key id, its owner
            # must be same-origin, and the owner must list it.
            if doc.get("id") != key_id and doc.get("id") != doc_url:
                # Not this key's document (S-03): remember the failure under the
                # requested URL instead of the other key's document.
                await self._remember_failure(doc_url, "key document id differs from the key id")
                raise KeyOwnerError("key document id differs from the key id")
            owner = doc.get("owner") or doc.get("controller")
            if not isinstance(owner, str) or not same_origin(owner, key_id):
                raise KeyOwnerError("key document names no same-origin owner")
            owner_doc, owner_expires, owner_fresh = await self._document(owner, refresh=refresh)
            fresh = fresh or owner_fresh
            expires = min(expires, owner_expires)
            sources.append(owner)
            if not _is_actor(owner_doc):
                raise KeyOwnerError("the key's owner is not an actor")
        key = _find_key(owner_doc, key_id)
        if key is None:
            raise KeyOwnerError(f"{owner_doc.get('id')} does not list key {key_id}")
        remote = RemoteKey(key_id, str(owner_doc["id"]), key, owner_doc, fresh)
        if epoch == self._epoch:  # else a document changed meanwhile: do not keep this copy
            self._remember_key(remote, sources, min(expires, time.time() + self.memory_ttl))
        return remote

    def evict(self, url: str) -> None:
        """Drop from memory every key built from the document at ``url`` (no I/O)."""
        self._epoch += 1
        for key_id in list(self._built_from.get(url.split("#", 1)[0], ())):
            self._drop_key(key_id)

    def _remember_key(self, remote: RemoteKey, sources: list[str], expires: float) -> None:
        if self.memory_size <= 0:
            return
        self._drop_key(remote.key_id)
        self._memory[remote.key_id] = (replace(remote, fresh=False), expires, tuple(sources))
        for url in sources:
            self._built_from.setdefault(url, set()).add(remote.key_id)
        while len(self._memory) > self.memory_size:
            self._drop_key(next(iter(self._memory)))

    def _drop_key(self, key_id: str) -> None:
        entry = self._memory.pop(key_id, None)
        if entry is None:
            return
        for url in entry[2]:
            ids = self._built_from.get(url)
            if ids is not None:
                ids.discard(key_id)
                if not ids:
                    del self._built_from[url]

    async def actor(self, actor_id: str, *, refresh: bool = False) -> dict[str, Any]:
        """A remote actor's document (cached), raising KeyUnavailableError when unreachable."""
        doc, _, _ = await self._document(actor_id, refresh=refresh)
        if not _is_actor(doc):
            raise KeyUnavailableError(f"{actor_id} is not an actor")
        return doc

    async def known_actor(self, actor_id: str) -> dict[str, Any] | None:
        """The cached actor document, without fetching."""
        cached = await self.fed.storage.get_cached(actor_id)
        return cached.data if cached is not None else None

    async def forget(self, url: str) -> None:
        await self.fed.storage.drop_cached(url.split("#", 1)[0])
        self.evict(url)  # after the storage change: a concurrent read of it is then not kept

    async def _remember_failure(self, url: str, error: str) -> None:
        now = time.time()
        await self.fed.storage.put_cached(
            CachedDocument(url, None, now, now + self.negative_ttl, error=error)
        )
        self.evict(url)

    async def _document(self, url: str, *, refresh: bool) -> tuple[dict[str, Any], float, bool]:
        """The document at ``url``, when its cache entry expires, and whether it
        was fetched just now."""
        now = time.time()
        if not refresh:
            cached = await self.fed.storage.get_cached(url)
            if cached is not None and cached.expires_at > now:
                if cached.data is None:
                    raise KeyUnavailableError(f"{url} failed recently: {cached.error}")
                return cached.data, cached.expires_at, False
        pending = self._inflight.get(url)
        if pending is not None:
            data, expires = await asyncio.shield(pending)
            return data, expires, True
        future: asyncio.Future[tuple[dict[str, Any], float]] = (
            asyncio.get_running_loop().create_future()
        )
        self._inflight[url] = future
        try:
            data = await self._fetch(url, now)
            expires = now + self.ttl
            future.set_result((data, expires))
            return data, expires, True
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._inflight[url]

    async def _fetch(self, url: str, now: float) -> dict[str, Any]:
        storage = self.fed.storage
        try:
            data = await self.fed.client.get_document(url, signer=await self.fed.signer())
        except ActivityPubError as exc:
            await storage.put_cached(
                CachedDocument(url, None, now, now + self.negative_ttl, error=str(exc)[:500])
            )
            self.evict(url)
            raise KeyUnavailableError(f"could not fetch {url}: {exc}") from exc
        await storage.put_cached(CachedDocument(url, data, now, now + self.ttl))
        self.evict(url)
        return data


def _is_actor(doc: dict[str, Any]) -> bool:
    kind = doc.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(k in _ACTOR_TYPES for k in kinds) and isinstance(doc.get("inbox"), str)


def _find_key(actor: dict[str, Any], key_id: str) -> PublicKey | None:
    """The key ``key_id`` among the actor's ``publicKey`` and ``assertionMethod`` entries."""
    for field, reader in (("publicKey", _pem_key), ("assertionMethod", _multikey)):
        entries = actor.get(field)
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict) and entry.get("id") == key_id:
                owner = entry.get("owner") or entry.get("controller")
                if owner is not None and owner != actor.get("id"):
                    return None
                try:
                    return reader(entry, key_id)
                except KeyFormatError:
                    return None
    return None


def _pem_key(entry: dict[str, Any], key_id: str) -> PublicKey:
    pem = entry.get("publicKeyPem")
    if not isinstance(pem, str):
        raise KeyFormatError("publicKey without publicKeyPem")
    return PublicKey.from_pem(pem, id=key_id)


def _multikey(entry: dict[str, Any], key_id: str) -> PublicKey:
    value = entry.get("publicKeyMultibase")
    if not isinstance(value, str):
        raise KeyFormatError("Multikey without publicKeyMultibase")
    return PublicKey.from_multibase(value, id=key_id)
