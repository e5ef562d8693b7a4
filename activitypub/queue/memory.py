"""A queue in a dictionary, for tests: same rules as SQLite, nothing survives exit.

No method awaits, so each runs whole on the event loop: a claim is atomic
under asyncio concurrency without a lock.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from activitypub.queue.base import Task
from activitypub.storage._database import dump_json, load_json
from activitypub.storage._shared import Lifecycle

__all__ = ["MemoryQueue"]


@dataclass(slots=True)
class _Entry:
    seq: int
    id: str
    kind: str
    payload: str  # JSON text, so claims never share a dict with the producer
    key: str | None
    not_before: float
    run_at: float | None  # next claimable: not_before, or the lease's end; None when dead
    attempts: int = 0
    worker: str | None = None
    error: str | None = None


class MemoryQueue(Lifecycle):
    """:class:`~activitypub.queue.Queue` in process memory."""

    def __init__(self) -> None:
        self._seq = itertools.count()
        self._tasks: dict[str, _Entry] = {}
        self._keys: dict[str, str] = {}

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        not_before: float = 0.0,
        key: str | None = None,
    ) -> str:
        if key is not None and key in self._keys:
            return self._keys[key]
        task_id = uuid.uuid4().hex
        body = dump_json(payload)
        self._tasks[task_id] = _Entry(
            next(self._seq), task_id, kind, body, key, not_before, not_before
        )
        if key is not None:
            self._keys[key] = task_id
        return task_id

    async def claim(
        self, kinds: Sequence[str] | None = None, *, worker: str, lease: float, now: float
    ) -> Task | None:
        due = [
            e
            for e in self._tasks.values()
            if e.run_at is not None and e.run_at <= now and (kinds is None or e.kind in kinds)
        ]
        if not due:
            return None
        entry = min(due, key=lambda e: (e.run_at or 0.0, e.seq))
        task = Task(
            entry.id, entry.kind, load_json(entry.payload), entry.attempts, entry.not_before
        )
        entry.attempts += 1
        entry.worker = worker
        entry.run_at = now + lease
        return task

    async def claim_many(
        self,
        kinds: Sequence[str] | None = None,
        *,
        worker: str,
        lease: float,
        now: float,
        limit: int,
    ) -> list[Task]:
        tasks: list[Task] = []
        while len(tasks) < limit:
            task = await self.claim(kinds, worker=worker, lease=lease, now=now)
            if task is None:
                break
            tasks.append(task)
        return tasks

    async def ack_many(self, task_ids: Sequence[str]) -> None:
        for task_id in task_ids:
            await self.ack(task_id)

    async def ack(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id, None)
        if entry is not None and entry.key is not None:
            del self._keys[entry.key]

    async def retry(self, task_id: str, *, not_before: float, error: str) -> None:
        entry = self._tasks.get(task_id)
        if entry is not None:
            entry.not_before = entry.run_at = not_before
            entry.worker = None
            entry.error = error

    async def fail(self, task_id: str, *, error: str) -> None:
        entry = self._tasks.get(task_id)
        if entry is not None:
            entry.run_at = entry.worker = None
            entry.error = error

    async def pending(self, kind: str | None = None) -> int:
        return sum(
            1
            for e in self._tasks.values()
            if e.run_at is not None and (kind is None or e.kind == kind)
        )
