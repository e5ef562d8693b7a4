"""Operations per second of the SQLite storage and queue on this machine.

Run: ``python bench/bench_storage.py``. "serial" awaits one call at a time
(one request's view); "x64" keeps 64 calls in flight (a busy server's view).
The memory backends are printed for scale.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from activitypub.queue import MemoryQueue, Queue, SqliteQueue
from activitypub.storage import MemoryStorage, SqliteStorage, Storage, StoredObject

N = 5000
counter = itertools.count()
NOTE = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "type": "Note",
    "content": "<p>A note of ordinary length, with a link and some ünïcode ✓</p>" * 3,
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://example.com/users/alice/followers"],
    "tag": [{"type": "Hashtag", "name": "#bench", "href": "https://example.com/tags/bench"}],
}


async def rate(op: Callable[[], Awaitable[object]], concurrency: int) -> float:
    async def lane(n: int) -> None:
        for _ in range(n):
            await op()

    start = time.perf_counter()
    await asyncio.gather(*(lane(N // concurrency) for _ in range(concurrency)))
    return N / (time.perf_counter() - start)


async def bench(storage: Storage, queue: Queue, label: str) -> None:
    await storage.open()
    await queue.open()

    async def mark_seen() -> None:
        await storage.mark_seen("inbox", f"https://r.example/activities/{next(counter)}", at=1.0)

    async def put_object() -> None:
        i = next(counter)
        obj_id = f"https://example.com/notes/{i}"
        await storage.put_object(StoredObject(obj_id, "Note", {**NOTE, "id": obj_id}, "blog"))

    async def task_cycle() -> None:
        await queue.enqueue("deliver", {"inbox": "https://r.example/inbox", "id": next(counter)})
        task = await queue.claim(worker="bench", lease=60, now=time.time())
        assert task is not None
        await queue.ack(task.id)

    for name, op in (
        ("mark_seen", mark_seen),
        ("put_object", put_object),
        ("enqueue+claim+ack", task_cycle),
    ):
        serial, parallel = await rate(op, 1), await rate(op, 64)
        print(f"{label:7} {name:18} {serial:9,.0f}/s serial {parallel:9,.0f}/s x64")
    await storage.close()
    await queue.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        await bench(SqliteStorage(path), SqliteQueue(path), "sqlite")
    await bench(MemoryStorage(), MemoryQueue(), "memory")


if __name__ == "__main__":
    asyncio.run(main())
