"""The inbox worker: runs handlers for accepted activities from the durable queue.

Tasks are claimed and acknowledged in batches (one queue step each) and run
concurrently, at most :data:`CONCURRENCY` at once, so the queue drains
under load and the storage writes of concurrent tasks share a commit. Order
is kept where it means something: tasks about the same object (Create,
Update, Delete of one id) or, for every other activity, from the same actor
run one after another, in the order they were accepted. At-least-once as
before: a task is acknowledged only after it ran; if the process dies, its
lease runs out and it runs again (dedup happened when it was accepted).

A handler that raises is retried with backoff a few times and then kept as
dead; either way the remote server got its 202 long ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from activitypub import vocab
from activitypub.errors import ParseError
from activitypub.federation.inbox import INBOX_TASK, process, task_document
from activitypub.queue import Task

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["drain", "run_batch", "run_inbox_worker", "run_once"]

log = logging.getLogger("activitypub.inbox")

MAX_ATTEMPTS = 5
LEASE = 60.0
BATCH = 64
"""Tasks claimed (and then acknowledged) in one queue step."""
CONCURRENCY = 16
"""Tasks running at once."""

_ABOUT_AN_OBJECT = frozenset({"Create", "Update", "Delete"})


async def run_batch(fed: Federation, worker: str | None = None, *, limit: int = BATCH) -> int:
    """Claim up to ``limit`` due inbox tasks and run them; how many were claimed."""
    tasks = await fed.queue.claim_many(
        [INBOX_TASK],
        worker=worker or f"pid{os.getpid()}",
        lease=LEASE,
        now=time.time(),
        limit=limit,
    )
    if not tasks:
        return 0
    gate = asyncio.Semaphore(CONCURRENCY)
    done: list[str] = []

    async def chain(queue: list[Task]) -> None:
        for task in queue:
            async with gate:
                if await _run(fed, task):
                    done.append(task.id)

    try:
        await asyncio.gather(*(chain(q) for q in _chains(tasks)))
    finally:
        # even when cancelled: what ran is not run again
        if done:
            await asyncio.shield(fed.queue.ack_many(done))
    return len(tasks)


async def run_once(fed: Federation, worker: str | None = None) -> bool:
    """Process one due inbox task; False when there was none."""
    return await run_batch(fed, worker, limit=1) > 0


def _chains(tasks: Sequence[Task]) -> list[list[Task]]:
    """The tasks in chains that must run in order; the chains may run side by side."""
    chains: dict[str, list[Task]] = {}
    for task in tasks:
        chains.setdefault(_order_key(task.payload), []).append(task)
    return list(chains.values())


def _order_key(payload: dict[str, Any]) -> str:
    signer = str(payload.get("signer"))
    try:
        # decoded once, here: process() reads the same dict
        doc = payload["activity"] = task_document(payload)
    except (ValueError, KeyError, ParseError):
        return signer  # process() fails it, and says why
    if doc.get("type") in _ABOUT_AN_OBJECT:
        target = vocab.id_of(doc.get("object"))
        if target is not None and target != signer:
            return "object " + target
    return signer


async def _run(fed: Federation, task: Task) -> bool:
    """Run one task; True when it is done (to acknowledge), False when it was
    released for a retry or kept as dead."""
    try:
        await process(fed, task.payload)
    except Exception as exc:  # a handler's bug must not stop the worker
        log.exception("inbox task %s failed", task.id)
        try:
            if task.attempts + 1 >= MAX_ATTEMPTS:
                await fed.queue.fail(task.id, error=repr(exc)[:1000])
            else:
                delay = 2 ** (task.attempts + 1)
                await fed.queue.retry(
                    task.id, not_before=time.time() + delay, error=repr(exc)[:1000]
                )
        except Exception:  # the lease runs out and it comes back
            log.exception("inbox task %s: could not record the failure", task.id)
        return False
    return True


async def run_inbox_worker(fed: Federation, stopping: asyncio.Event, *, idle: float = 0.05) -> None:
    """Run tasks until ``stopping`` is set; a batch in progress is finished first,
    so a clean shutdown never leaves a half-done task to run again."""
    worker = f"pid{os.getpid()}-{id(fed):x}"
    while not stopping.is_set():
        try:
            if not await run_batch(fed, worker):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), idle)
        except Exception:
            log.exception("inbox worker error")
            await asyncio.sleep(1.0)


async def drain(fed: Federation, *, timeout: float = 10.0) -> None:
    """Process every due task now (tests and shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and await run_batch(fed):
        pass
