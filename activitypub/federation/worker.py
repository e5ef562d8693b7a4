"""The inbox worker: runs handlers for accepted activities from the durable queue.

A handler that raises is retried with backoff a few times and then kept as
dead; either way the remote server got its 202 long ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING

from activitypub.federation.inbox import INBOX_TASK, process

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["run_inbox_worker", "run_once"]

log = logging.getLogger("activitypub.inbox")

MAX_ATTEMPTS = 5
LEASE = 60.0


async def run_once(fed: Federation, worker: str | None = None) -> bool:
    """Process one due inbox task; False when there was none."""
    task = await fed.queue.claim(
        [INBOX_TASK], worker=worker or f"pid{os.getpid()}", lease=LEASE, now=time.time()
    )
    if task is None:
        return False
    try:
        await process(fed, task.payload)
    except Exception as exc:  # a handler's bug must not stop the worker
        log.exception("inbox task %s failed", task.id)
        if task.attempts + 1 >= MAX_ATTEMPTS:
            await fed.queue.fail(task.id, error=repr(exc)[:1000])
        else:
            delay = 2 ** (task.attempts + 1)
            await fed.queue.retry(task.id, not_before=time.time() + delay, error=repr(exc)[:1000])
        return True
    await fed.queue.ack(task.id)
    return True


async def run_inbox_worker(fed: Federation, stopping: asyncio.Event, *, idle: float = 0.05) -> None:
    """Run tasks until ``stopping`` is set; a task in progress is finished first,
    so a clean shutdown never leaves a half-done task to run again."""
    worker = f"pid{os.getpid()}-{id(fed):x}"
    while not stopping.is_set():
        try:
            if not await run_once(fed, worker):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), idle)
        except Exception:
            log.exception("inbox worker error")
            await asyncio.sleep(1.0)


async def drain(fed: Federation, *, timeout: float = 10.0) -> None:
    """Process every due task now (tests and shutdown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and await run_once(fed):
        pass
