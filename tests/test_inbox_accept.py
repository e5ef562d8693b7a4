"""Accepting into the durable inbox queue: dedup record and task together,
the outline read at accept and the full read in the worker, domain blocks
read from memory."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from security_kit import ALICE, AS, SHARED_INBOX, World, activity, make_world, note, post

import activitypub as ap
from activitypub import vocab
from activitypub.federation import drain
from activitypub.queue import MemoryQueue, SqliteQueue
from activitypub.storage import SqliteStorage

SEEN = "SELECT scope, activity_id FROM seen"


@pytest.fixture
async def sqlite_world(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(storage=f"sqlite:///{tmp_path}/ours.db", inline=False):
        # the worker would race the assertions: tests drain the queue themselves
        world.ours._stopping.set()
        if world.ours._worker is not None:
            await world.ours._worker
            world.ours._worker = None
        yield world


async def rows(world: World, sql: str) -> list[tuple[Any, ...]]:
    db = world.ours.storage._db  # type: ignore[attr-defined]
    result: list[tuple[Any, ...]] = await db.run(lambda c: c.execute(sql).fetchall())
    return result


async def test_seen_and_task_are_one_transaction(sqlite_world: World) -> None:
    world = sqlite_world
    queue = world.ours.queue
    assert isinstance(queue, SqliteQueue)
    real = queue.insertion

    def failing(*args: Any, **kwargs: Any) -> Callable[[sqlite3.Connection], str]:
        real(*args, **kwargs)

        def insert(conn: sqlite3.Connection) -> str:
            raise sqlite3.OperationalError("disk I/O error")

        return insert

    doc = activity("Create", ALICE, note(ALICE))
    queue.insertion = failing  # type: ignore[method-assign]
    with pytest.raises(ap.StorageError):
        await post(world, ALICE, doc, url=SHARED_INBOX)
    # the task was not stored, so neither is the dedup record: the retry counts
    assert await rows(world, SEEN) == []
    assert await rows(world, "SELECT id FROM tasks") == []
    queue.insertion = real  # type: ignore[method-assign]
    assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
    assert await rows(world, SEEN) == [("shared", doc["id"])]
    assert len(await rows(world, "SELECT id FROM tasks")) == 1
    assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202  # a duplicate
    assert len(await rows(world, "SELECT id FROM tasks")) == 1
    await drain(world.ours)
    assert [a.id for _, a in world.calls] == [doc["id"]]


async def test_queue_elsewhere_takes_back_the_seen_mark(tmp_path: Path) -> None:
    """Storage and queue that cannot share a transaction: a failed enqueue
    forgets the seen mark, so the sender's retry is not taken for a duplicate."""

    class Broken(MemoryQueue):
        fail = True

        async def enqueue(self, *args: Any, **kwargs: Any) -> str:
            if self.fail:
                raise ap.StorageError("queue down")
            return await super().enqueue(*args, **kwargs)

    queue = Broken()
    async for world in make_world(storage="memory://", queue=queue, inline=False):
        doc = activity("Create", ALICE, note(ALICE))
        with pytest.raises(ap.StorageError):
            await post(world, ALICE, doc, url=SHARED_INBOX)
        assert world.ours.storage._seen == {}  # type: ignore[attr-defined]
        queue.fail = False
        assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
        assert len(world.ours.storage._seen) == 1  # type: ignore[attr-defined]
        assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
        await drain(world.ours)
        assert [a.id for _, a in world.calls] == [doc["id"]]


async def test_the_verified_body_is_queued_as_sent(sqlite_world: World) -> None:
    world = sqlite_world
    doc = activity("Create", ALICE, note(ALICE, content="caf\u00e9 \U0001f600"))
    body = json.dumps(doc, ensure_ascii=False, indent=1).encode()
    assert (await post(world, ALICE, body, url=SHARED_INBOX)).status == 202
    ((payload,),) = await rows(world, "SELECT payload FROM tasks")
    assert json.loads(payload)["body"] == body.decode()  # the bytes verified, not a re-encoding
    await drain(world.ours)
    ((_, create),) = world.calls
    assert (
        isinstance(create.object, vocab.Note) and create.object.content == doc["object"]["content"]
    )


async def test_worker_compacts_what_the_outline_did_not_read(sqlite_world: World) -> None:
    """A prefixed key deep in a property the outline skips (a tag) is read as
    JSON-LD by the worker, beside the loop, so the handler sees its meaning."""
    world = sqlite_world
    tag = {"type": "Hashtag", "as:name": "#kyiv", "href": "https://a.example/tags/kyiv"}
    doc = activity("Create", ALICE, note(ALICE, tag=[tag]))
    assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
    await drain(world.ours)
    ((_, create),) = world.calls
    assert isinstance(create.object, vocab.Note)
    (hashtag,) = vocab.as_list(create.object.tag)
    assert isinstance(hashtag, vocab.Link) and hashtag.name == "#kyiv"


def test_outline_reads_who_did_what_to_which_object() -> None:
    doc = activity(
        "Create",
        ALICE,
        note(ALICE, content="<p>text</p>", tag=[{"type": "Hashtag", "name": "#x"}]),
        published="2026-11-27T10:00:00Z",
    )
    outline = vocab.read_outline(doc)
    assert isinstance(outline, vocab.Create)
    assert outline.id == doc["id"] and outline.actor == ALICE
    assert outline.published is None and outline.extra == {}  # unread
    assert isinstance(outline.object, vocab.Note)
    assert outline.object.id == doc["object"]["id"]
    assert outline.object.attributed_to == ALICE
    assert outline.object.content is None and outline.object.tag is None
    # what the outline does read must mean what it says
    assert vocab.read_outline({**doc, "as:actor": ALICE}) is None
    assert vocab.read_outline({**doc, "object": {**doc["object"], "@id": "x"}}) is None
    assert vocab.read_outline({**doc, "@context": [AS, {"actor": "as:object"}]}) is None
    # what it skips may need compaction later (the worker's full read does it)
    skipped = {**doc, "tag": [{"as:name": "#x"}]}
    assert isinstance(vocab.read_outline(skipped), vocab.Create)


async def test_the_outline_read_refuses_what_it_cannot_read(sqlite_world: World) -> None:
    world = sqlite_world
    doc = activity("Create", ALICE, note(ALICE))
    for bad in ({**doc, "actor": 5}, {**doc, "object": [1]}, {**doc, "type": "Note"}):
        assert (await post(world, ALICE, bad, url=SHARED_INBOX)).status == 400
    assert await rows(world, SEEN) == []


async def test_domain_blocks_are_read_from_memory_and_kept_current(tmp_path: Path) -> None:
    path = tmp_path / "blocks.db"
    async with SqliteStorage(path) as one, SqliteStorage(path) as two:
        assert not await one.is_domain_blocked("evil.example")
        # a write through either storage on this connection is seen at once
        await two.block_domain("evil.example")
        assert await one.is_domain_blocked("sub.evil.example")
        assert await two.unblock_domain("evil.example")
        assert not await one.is_domain_blocked("evil.example")
        # no read per question: the view answers while the table is locked away
        calls = 0
        real = one._load_domain_blocks

        async def counted() -> frozenset[str]:
            nonlocal calls
            calls += 1
            return await real()

        one._load_domain_blocks = counted  # type: ignore[method-assign]
        results = await asyncio.gather(*(one.is_domain_blocked("x.example") for _ in range(50)))
        assert not any(results) and calls <= 1
        # another process (here: a connection of its own) is seen within the TTL
        one.domain_blocks_ttl = 0.05
        async with SqliteStorage(path, share=False) as other:
            await other.block_domain("far.example")
            await asyncio.sleep(0.1)
            assert await one.is_domain_blocked("far.example")


async def test_web_and_worker_processes_share_the_queue(tmp_path: Path) -> None:
    """``worker=False`` accepts only; a second Federation on the same database
    (another process, in production) runs the handlers with ``run_worker``."""
    db = f"sqlite:///{tmp_path}/shared.db"
    async for world in make_world(storage=db, inline=False, worker=False):
        doc = activity("Create", ALICE, note(ALICE))
        assert world.ours._worker is None
        assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
        await asyncio.sleep(0.2)
        assert world.calls == []  # nobody processes in the web process
        worker = ap.Federation(world.ours.base_url, storage=db, client=world.ours.client)
        seen: list[str | None] = []

        @worker.on(vocab.Create)
        async def on_create(ctx: Any, create: vocab.Create, seen: list[Any] = seen) -> None:
            seen.append(create.id)

        running = asyncio.create_task(worker.run_worker())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        await worker.stop()
        await running
        assert seen == [doc["id"]] and world.calls == []


def test_parse_plain_leaves_compaction_to_the_caller() -> None:
    doc = activity("Create", ALICE, note(ALICE, tag=[{"type": "Hashtag", "name": "#x"}]))
    plain = vocab.parse_plain(doc)
    assert isinstance(plain, vocab.Create) and isinstance(plain.object, vocab.Note)
    assert plain.object.tag is not None  # read in full, unlike an outline
    deep = activity("Create", ALICE, note(ALICE, tag=[{"type": "Hashtag", "as:name": "#x"}]))
    assert vocab.parse_plain(deep) is None  # needs JSON-LD: not compacted here
    assert isinstance(vocab.parse(deep), vocab.Create)  # parse() compacts it itself
