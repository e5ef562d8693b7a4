"""Two example instances over real sockets on loopback: follow, publish, receive, Undo.

The same scenario runs with each instance served by the aiohttp adapter and
by the ASGI adapter (under uvicorn), with SQLite storage and the durable
inbox queue, as deployed.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn
from aiohttp import web

import activitypub as ap
from activitypub.federation import Federation, InboxContext
from activitypub.server import asgi_app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from blog import make_app, make_federation, setup_blog


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def instance(adapter: str, db: Path) -> AsyncIterator[Federation]:
    sock = _listening_socket()
    fed = make_federation(f"http://127.0.0.1:{sock.getsockname()[1]}", db)
    if adapter == "aiohttp":
        runner = web.AppRunner(make_app(fed))
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield fed
        finally:
            await runner.cleanup()
    else:
        config = uvicorn.Config(asgi_app(fed), lifespan="on", log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        await setup_blog(fed)
        try:
            yield fed
        finally:
            server.should_exit = True
            await task
    sock.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "adapters", [("aiohttp", "aiohttp"), ("asgi", "asgi"), ("aiohttp", "asgi")]
)
async def test_two_instances(adapters: tuple[str, str], tmp_path: Path) -> None:
    async with (
        instance(adapters[0], tmp_path / "a.db") as a,
        instance(adapters[1], tmp_path / "b.db") as b,
    ):
        received: list[ap.Activity] = []

        @a.on(ap.Create)
        async def on_create(ctx: InboxContext, create: ap.Create) -> None:
            received.append(create)

        blog_a, blog_b = a.actor_id("blog"), b.actor_id("blog")

        # A follows B by handle (WebFinger), B follows A by URL; Accepts come back.
        await a.follow("blog", f"blog@{b.host}")
        await b.follow("blog", blog_a)

        async def mutual() -> bool:
            fa = await a.storage.get_following("blog", blog_b)
            fb = await b.storage.get_following("blog", blog_a)
            return bool(fa and fb and fa.state == fb.state == "accepted")

        await eventually(mutual)
        assert await a.storage.count_followers("blog") == 1
        assert await b.storage.count_followers("blog") == 1

        # B publishes; A's handler sees a verified Create and the Note is stored.
        note = ap.Note(content="<p>hello from B</p>")
        create = await b.publish(note, by="blog")

        async def arrived() -> bool:
            return any(r.id == create.id for r in received)

        await eventually(arrived)
        got = next(r for r in received if r.id == create.id)
        assert isinstance(got.object, ap.Note) and got.object.content == "<p>hello from B</p>"
        assert await a.storage.get_object(got.object.id or "") is not None

        # A unfollows B: B's follower list empties.
        await a.unfollow("blog", blog_b)

        async def gone() -> bool:
            return await b.storage.get_follower("blog", blog_a) is None

        await eventually(gone)
        assert await a.storage.get_following("blog", blog_b) is None
