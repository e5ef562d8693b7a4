"""Rules both storage backends apply identically, so they cannot drift apart."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from activitypub.storage.base import StoredObject

__all__ = ["Lifecycle", "domain_and_parents", "normalise_host", "tombstone"]


class Lifecycle:
    """What every storage and queue has: ``open`` and ``close`` (nothing to
    do for the memory ones) and ``async with`` over them."""

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no port: ``Evil.Example.:443`` is ``evil.example``."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal, maybe with a port
        return host[: host.find("]") + 1] if "]" in host else host
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        if port.isdigit():
            host = name
    return host.rstrip(".")


def domain_and_parents(host: str) -> list[str]:
    """``a.b.example`` -> itself, ``b.example``, ``example``: a domain block
    covers its subdomains, as it does on Mastodon and most servers."""
    host = normalise_host(host)
    if host.startswith("[") or not host:
        return [host]
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def tombstone(obj: StoredObject) -> StoredObject:
    """``obj`` deleted: only id and type stay in its data; ownership stays for later checks."""
    data: dict[str, Any] = {"id": obj.id, "type": obj.type}
    return StoredObject(
        id=obj.id,
        type=obj.type,
        data=data,
        local=obj.local,
        attributed_to=obj.attributed_to,
        visibility=obj.visibility,
        published=obj.published,
        deleted=True,
    )
