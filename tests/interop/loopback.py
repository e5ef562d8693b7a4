"""Serve one of our Federations on a free loopback port, over real sockets."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from activitypub.federation import Federation
from activitypub.server import aiohttp_app


@asynccontextmanager
async def serve(make: Callable[[str], Federation]) -> AsyncIterator[Federation]:
    """``make(base_url)`` builds the federation; it is started, served, then stopped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    fed = make(f"http://127.0.0.1:{sock.getsockname()[1]}")
    runner = web.AppRunner(aiohttp_app(fed))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield fed
    finally:
        await runner.cleanup()
        sock.close()


@asynccontextmanager
async def our_blog(db: Path) -> AsyncIterator[Federation]:
    """Our side of an interop test: a served Federation with one actor, ``blog``."""

    def make(base_url: str) -> Federation:
        return Federation(base_url, storage=f"sqlite:///{db}", allow_private_addresses=True)

    async with serve(make) as fed:
        await fed.create_actor("blog", name="Blog")
        yield fed


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
