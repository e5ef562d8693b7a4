"""Operations per second of the SQLite storage and queue on this machine.

Run: ``python bench/bench_storage.py``. "x1" awaits one call at a time (one
request's view); "x64" keeps 64 calls in flight (a busy server's view).
"activity" is what the inbox does per accepted activity: ``mark_seen`` then
``enqueue`` of its handler task. The memory backends are printed for scale.

``--mode`` picks how the SQLite storage and queue use their file:
``default`` (one shared connection, group commit), ``unshared`` (a connection
each, group commit), ``unbatched`` (shared, a transaction per write) and
``legacy`` (a connection each, a transaction per write: as before group commit).
``--n`` is the operations per run, ``--repeat`` the runs per figure (the best is shown).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from activitypub.queue import MemoryQueue, Queue, SqliteQueue
from activitypub.storage import MemoryStorage, SqliteStorage, Storage, StoredObject

N = 5000
REPEAT = 3
counter = itertools.count()
NOTE = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "type": "Note",
    "content": "<p>A note of ordinary length, with a link and some ünïcode ✓</p>" * 3,
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://example.com/users/alice/followers"],
    "tag": [{"type": "Hashtag", "name": "#bench", "href": "https://example.com/tags/bench"}],
}
MODES = {
    "default": {},
    "unshared": {"share": False},
    "unbatched": {"group_commit": False},
    "legacy": {"share": False, "group_commit": False},
}


async def rate(op: Callable[[], Awaitable[object]], concurrency: int) -> float:
    """The best of ``REPEAT`` runs of ``N`` calls: other load on the machine only slows."""

    async def lane(n: int) -> None:
        for _ in range(n):
            await op()

    best = 0.0
    for _ in range(REPEAT):
        start = time.perf_counter()
        await asyncio.gather(*(lane(N // concurrency) for _ in range(concurrency)))
        best = max(best, N / (time.perf_counter() - start))
    return best


async def bench(storage: Storage, new_queue: Callable[[], Queue], label: str) -> None:
    """``new_queue()`` gives each figure an empty queue (the memory queue scans its tasks)."""
    await storage.open()
    queue = new_queue()

    async def mark_seen() -> None:
        await storage.mark_seen("inbox", f"https://r.example/activities/{next(counter)}", at=1.0)

    async def enqueue() -> None:
        i = next(counter)
        await queue.enqueue("inbox", {"activity": {**NOTE, "id": i}}, key=f"shared {i}")

    async def activity() -> None:
        i = next(counter)
        activity_id = f"https://r.example/activities/{i}"
        if await storage.mark_seen("shared", activity_id, at=1.0):
            await queue.enqueue("inbox", {"activity": {**NOTE, "id": i}}, key=f"shared {i}")

    async def put_object() -> None:
        i = next(counter)
        obj_id = f"https://example.com/notes/{i}"
        await storage.put_object(StoredObject(obj_id, "Note", {**NOTE, "id": obj_id}, "blog"))

    async def task_cycle() -> None:
        await queue.enqueue("deliver", {"inbox": "https://r.example/inbox", "id": next(counter)})
        task = await queue.claim(["deliver"], worker="bench", lease=60, now=time.time())
        assert task is not None
        await queue.ack(task.id)

    async def drain(many: bool) -> float:
        """The worker's side: claim and ack ``N`` queued tasks, one or 32 at a time."""
        best = 0.0
        for _ in range(REPEAT):
            for i in range(N):
                await queue.enqueue("drain", {"id": i})
            start = time.perf_counter()
            done = 0
            while done < N:
                if many:
                    tasks = await queue.claim_many(
                        ["drain"], worker="b", lease=60, now=time.time(), limit=32
                    )
                    await queue.ack_many([t.id for t in tasks])
                    done += len(tasks)
                else:
                    task = await queue.claim(["drain"], worker="b", lease=60, now=time.time())
                    assert task is not None
                    await queue.ack(task.id)
                    done += 1
            best = max(best, N / (time.perf_counter() - start))
        return best

    for name, op in (
        ("mark_seen", mark_seen),
        ("enqueue", enqueue),
        ("activity", activity),
        ("put_object", put_object),
        ("enqueue+claim+ack", task_cycle),
    ):
        await queue.open()
        serial, parallel = await rate(op, 1), await rate(op, 64)
        print(f"{label:9} {name:18} {serial:9,.0f}/s x1 {parallel:9,.0f}/s x64", flush=True)
        await queue.close()
        queue = new_queue()
    await queue.open()
    one = await drain(False)
    line = f"{label:9} {'drain claim+ack':18} {one:9,.0f}/s x1"
    if hasattr(queue, "claim_many"):
        line += f" {await drain(True):9,.0f}/s claim_many(32)+ack_many"
    print(line, flush=True)
    await queue.close()
    await storage.close()


async def main(modes: list[str]) -> None:
    options = inspect.signature(SqliteStorage).parameters
    for mode in modes:
        kw: dict[str, Any] = {k: v for k, v in MODES[mode].items() if k in options}
        if len(kw) != len(MODES[mode]):
            print(f"(mode {mode}: this version has no {set(MODES[mode]) - set(kw)})")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            await bench(SqliteStorage(path, **kw), partial(SqliteQueue, path, **kw), mode)
    await bench(MemoryStorage(), MemoryQueue, "memory")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    args = parser.parse_args()
    N, REPEAT = args.n, args.repeat
    asyncio.run(main(list(MODES) if args.mode == "all" else [args.mode]))
