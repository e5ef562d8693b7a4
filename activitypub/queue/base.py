"""A durable task queue, at-least-once, behind one small protocol.

The inbox runs handlers from it (so a slow handler never holds a remote
server's connection) and delivery fans out through it. A claimed task is
leased: if its worker dies, the lease runs out and another worker reclaims
it. Implementations: memory (tests) and SQLite (default, survives kill -9);
Redis for many workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Queue", "Task"]


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int = 0
    """How many times it was claimed before this claim."""
    not_before: float = 0.0


@runtime_checkable
class Queue(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        not_before: float = 0.0,
        key: str | None = None,
    ) -> str:
        """Add a task; with ``key``, a second enqueue of the same key is a no-op
        returning the first task's id (idempotent producers)."""

    async def claim(
        self, kinds: Sequence[str] | None = None, *, worker: str, lease: float, now: float
    ) -> Task | None:
        """Take the oldest due task (``not_before <= now``) not leased by a live worker."""

    async def claim_many(
        self,
        kinds: Sequence[str] | None = None,
        *,
        worker: str,
        lease: float,
        now: float,
        limit: int,
    ) -> list[Task]:
        """Up to ``limit`` tasks as ``limit`` calls of :meth:`claim` would take
        them, oldest due first, in one step."""

    async def ack(self, task_id: str) -> None:
        """Done: remove it."""

    async def ack_many(self, task_ids: Sequence[str]) -> None:
        """:meth:`ack` each of them, in one step."""

    async def retry(self, task_id: str, *, not_before: float, error: str) -> None:
        """Release it to run again at ``not_before``."""

    async def fail(self, task_id: str, *, error: str) -> None:
        """Give up: keep it as dead, out of the runnable set."""

    async def pending(self, kind: str | None = None) -> int:
        """Tasks not yet done or dead (queued, leased or waiting to retry)."""
