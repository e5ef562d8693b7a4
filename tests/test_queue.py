"""Conformance: every Queue method, same answers from memory and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activitypub.queue import MemoryQueue, Queue, SqliteQueue, Task, queue_from_url

W = "worker-1"


@pytest.fixture(params=["memory", "sqlite", "sqlite-unbatched"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Queue]:
    q: Queue = (
        MemoryQueue()
        if request.param == "memory"
        else SqliteQueue(tmp_path / "q.db", group_commit=request.param == "sqlite")
    )
    await q.open()
    await q.open()
    yield q
    await q.close()


def test_backends_satisfy_protocol() -> None:
    assert isinstance(MemoryQueue(), Queue)
    assert isinstance(SqliteQueue(":memory:"), Queue)


async def test_enqueue_claim_ack(queue: Queue) -> None:
    payload = {"activity": {"id": "https://r/1", "content": "ünï 🎉 '; --"}, "n": [1, 2.5, None]}
    task_id = await queue.enqueue("inbox", payload, not_before=5.0)
    assert await queue.pending() == 1
    assert await queue.claim(worker=W, lease=30, now=4.9) is None  # not yet due
    task = await queue.claim(worker=W, lease=30, now=5.0)
    assert task == Task(task_id, "inbox", payload, attempts=0, not_before=5.0)
    assert await queue.pending() == 1  # leased still counts
    assert await queue.claim(worker="w2", lease=30, now=6.0) is None
    await queue.ack(task_id)
    assert await queue.pending() == 0
    assert await queue.claim(worker=W, lease=30, now=1e12) is None
    await queue.ack(task_id)  # acking twice (a reclaimed task finished twice) is harmless


async def test_oldest_due_first_and_kinds(queue: Queue) -> None:
    late = await queue.enqueue("deliver", {"n": 0}, not_before=10.0)
    first = await queue.enqueue("deliver", {"n": 1})
    second = await queue.enqueue("inbox", {"n": 2})
    third = await queue.enqueue("deliver", {"n": 3})
    assert await queue.pending("deliver") == 3
    assert await queue.pending("inbox") == 1
    assert await queue.pending("other") == 0
    assert await queue.claim([], worker=W, lease=5, now=100.0) is None
    got = await queue.claim(["inbox", "nothing"], worker=W, lease=5, now=1.0)
    assert got is not None and got.id == second
    await queue.ack(second)
    ids = [await queue.claim(worker=W, lease=5, now=100.0) for _ in range(4)]
    assert [t.id if t else None for t in ids] == [first, third, late, None]


async def test_dead_workers_lease_runs_out(queue: Queue) -> None:
    task_id = await queue.enqueue("deliver", {"to": "x"})
    first = await queue.claim(worker="dies", lease=10, now=100.0)
    assert first is not None and first.attempts == 0
    assert await queue.claim(worker="w2", lease=10, now=109.9) is None
    again = await queue.claim(worker="w2", lease=10, now=110.0)
    assert again is not None and again.id == task_id and again.attempts == 1
    assert again.payload == first.payload
    assert await queue.claim(worker="w3", lease=10, now=115.0) is None  # w2's lease is live


async def test_retry_and_fail(queue: Queue) -> None:
    task_id = await queue.enqueue("deliver", {"to": "x"}, key="k")
    assert await queue.claim(worker=W, lease=60, now=1.0)
    await queue.retry(task_id, not_before=50.0, error="HTTP 503")
    assert await queue.pending() == 1
    assert await queue.claim(worker=W, lease=60, now=49.0) is None
    task = await queue.claim(worker=W, lease=60, now=50.0)
    assert task is not None and (task.attempts, task.not_before) == (1, 50.0)
    await queue.fail(task_id, error="gave up")
    assert await queue.pending() == 0
    assert await queue.pending("deliver") == 0
    assert await queue.claim(worker=W, lease=60, now=1e12) is None
    assert await queue.enqueue("deliver", {}, key="k") == task_id  # dead, still deduplicated
    await queue.retry("no-such-task", not_before=1.0, error="x")
    await queue.fail("no-such-task", error="x")
    assert await queue.pending() == 0


async def test_retry_before_lease_ends_releases_at_once(queue: Queue) -> None:
    task_id = await queue.enqueue("deliver", {})
    assert await queue.claim(worker=W, lease=3600, now=1.0)
    await queue.retry(task_id, not_before=2.0, error="e")
    task = await queue.claim(worker="w2", lease=10, now=2.0)
    assert task is not None and task.id == task_id


async def test_idempotent_key(queue: Queue) -> None:
    first = await queue.enqueue("deliver", {"v": 1}, key="deliver:https://r/inbox:act1")
    again = await queue.enqueue("deliver", {"v": 2}, key="deliver:https://r/inbox:act1")
    other = await queue.enqueue("deliver", {"v": 3}, key="deliver:https://r/inbox:act2")
    unkeyed = [await queue.enqueue("deliver", {"v": 4}) for _ in range(2)]
    assert again == first and other != first and unkeyed[0] != unkeyed[1]
    assert await queue.pending() == 4
    task = await queue.claim(worker=W, lease=5, now=1.0)
    assert task is not None and task.payload == {"v": 1}
    await queue.ack(first)
    # done and gone: the key may be used again
    assert await queue.enqueue("deliver", {"v": 5}, key="deliver:https://r/inbox:act1") != first


async def test_concurrent_enqueue_with_one_key(queue: Queue) -> None:
    ids = await asyncio.gather(*(queue.enqueue("k", {"i": i}, key="same") for i in range(30)))
    assert len(set(ids)) == 1
    assert await queue.pending() == 1


async def test_concurrent_claims_never_share_a_task(queue: Queue) -> None:
    ids = {await queue.enqueue("deliver", {"i": i}) for i in range(20)}
    claims = await asyncio.gather(
        *(queue.claim(worker=f"w{i}", lease=60, now=1.0) for i in range(50))
    )
    got = [t.id for t in claims if t is not None]
    assert len(got) == 20 and set(got) == ids


async def test_claim_many_takes_as_many_claims_would(queue: Queue) -> None:
    late = await queue.enqueue("deliver", {"n": 0}, not_before=10.0)
    ids = [await queue.enqueue("deliver" if i % 3 else "inbox", {"n": i}) for i in range(1, 10)]
    assert await queue.claim_many(worker=W, lease=5, now=1.0, limit=0) == []
    assert await queue.claim_many([], worker=W, lease=5, now=1.0, limit=5) == []
    inbox = await queue.claim_many(["inbox"], worker=W, lease=5, now=1.0, limit=10)
    assert [t.id for t in inbox] == [ids[2], ids[5], ids[8]]
    assert all(t.kind == "inbox" and t.attempts == 0 for t in inbox)
    first = await queue.claim_many(worker=W, lease=5, now=1.0, limit=4)
    assert [t.id for t in first] == [ids[0], ids[1], ids[3], ids[4]]
    assert first[0] == Task(ids[0], "deliver", {"n": 1}, attempts=0, not_before=0.0)
    rest = await queue.claim_many(worker="w2", lease=5, now=2.0, limit=100)
    assert [t.id for t in rest] == [ids[6], ids[7]]  # leased ones and the late one wait
    # the leases run out at 6 and 7 (ties by age); the late task is due at 10
    again = await queue.claim_many(worker="w3", lease=5, now=20.0, limit=100)
    assert [t.id for t in again] == [*ids[:6], ids[8], ids[6], ids[7], late]
    assert [t.attempts for t in again] == [1] * 9 + [0]
    assert await queue.pending() == 10
    await queue.ack_many([])
    await queue.ack_many([t.id for t in again[:5]] + ["no-such-task", again[0].id])
    assert await queue.pending() == 5
    await queue.ack_many([t.id for t in again[5:]])
    assert await queue.pending() == 0


async def test_concurrent_claim_many_never_share_a_task(queue: Queue) -> None:
    ids = {await queue.enqueue("deliver", {"i": i}) for i in range(50)}
    batches = await asyncio.gather(
        *(queue.claim_many(worker=f"w{i}", lease=60, now=1.0, limit=3) for i in range(30))
    )
    got = [t.id for batch in batches for t in batch]
    assert len(got) == 50 and set(got) == ids


async def test_payload_is_a_copy(queue: Queue) -> None:
    items = [1]
    await queue.enqueue("k", {"list": items, "tuple": (1, 2)})
    items.append(2)
    task = await queue.claim(worker=W, lease=5, now=1.0)
    assert task is not None and task.payload == {"list": [1], "tuple": [1, 2]}


async def test_hostile_kinds_keys_and_payloads(queue: Queue) -> None:
    nasty = "'; DELETE FROM tasks; -- %_ \u0000 ✓ " + "x" * 50_000
    task_id = await queue.enqueue(nasty, {nasty: nasty, "s": "\ud800"}, key=nasty)
    assert await queue.enqueue(nasty, {}, key=nasty) == task_id
    assert await queue.pending(nasty) == 1
    task = await queue.claim([nasty], worker=nasty, lease=1, now=1.0)
    assert task is not None and task.payload == {nasty: nasty, "s": "\ud800"}


def test_queue_from_url(tmp_path: Path) -> None:
    assert isinstance(queue_from_url("memory://"), MemoryQueue)
    q = queue_from_url(f"sqlite:///{tmp_path}/q.db")
    assert isinstance(q, SqliteQueue) and q.path == f"{tmp_path}/q.db"
    q = queue_from_url("sqlite://")
    assert isinstance(q, SqliteQueue) and q.path == ":memory:"
    with pytest.raises(ValueError):
        queue_from_url("redis://localhost")
