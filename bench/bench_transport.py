"""Requests per second POSTing a 2 KB body: our AiohttpTransport beside httpx and raw aiohttp.

Run: ``python bench/bench_transport.py [seconds_per_case]`` (default 3). A bare
aiohttp server is started in a separate process on 127.0.0.1 (stopped by its
PID at the end), so client and server do not share one event loop. Cases
alternate in rounds and each reports its best round, to damp the noise of a
shared machine.
The gap between ``AiohttpTransport`` and raw aiohttp is our overhead: the
address checks, the capped body read and the deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from activitypub.client import AddressPolicy, AiohttpTransport, HttpRequest

BODY = b"x" * 2048
HEADERS = {"Content-Type": "application/activity+json"}

SERVER = """
import sys
from aiohttp import web

async def inbox(request):
    await request.read()
    return web.Response(status=202)

async def main():
    app = web.Application()
    app.router.add_post("/inbox", inbox)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""


async def _rate(send: Callable[[], Awaitable[None]], concurrency: int, seconds: float) -> float:
    for _ in range(20):  # warm the pool
        await send()
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def worker(i: int) -> None:
        while time.perf_counter() < deadline:
            await send()
            counts[i] += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return sum(counts) / (time.perf_counter() - start)


ROUNDS = 3  # cases alternate in rounds and the best round counts: the machine is shared


async def _cases(url: str, seconds: float) -> list[tuple[str, int, float]]:
    transport = AiohttpTransport(policy=AddressPolicy(allow_loopback=True))
    request = HttpRequest("POST", url, HEADERS, BODY)
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))
    session = aiohttp.ClientSession()

    async def ours() -> None:
        response = await transport.send(request, timeout=10, max_body=1 << 20)
        assert response.status == 202

    async def via_httpx() -> None:
        response = await client.post(url, content=BODY, headers=HEADERS)
        assert response.status_code == 202

    async def raw() -> None:
        async with session.post(url, data=BODY, headers=HEADERS) as response:
            await response.read()
            assert response.status == 202

    cases = {
        "AiohttpTransport": ours,
        "httpx.AsyncClient": via_httpx,
        "raw aiohttp.ClientSession": raw,
    }
    rows: list[tuple[str, int, float]] = []
    try:
        for concurrency in (1, 32):
            best = dict.fromkeys(cases, 0.0)
            for _ in range(ROUNDS):
                for name, send in cases.items():
                    rate = await _rate(send, concurrency, seconds / ROUNDS)
                    best[name] = max(best[name], rate)
            rows += [(name, concurrency, rate) for name, rate in best.items()]
    finally:
        await transport.aclose()
        await client.aclose()
        await session.close()
    return rows


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        rows = asyncio.run(_cases(f"http://127.0.0.1:{port}/inbox", seconds))
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    print(f"{'client':28} {'concurrency':>11} {'req/s':>10}")
    for name, concurrency, rate in rows:
        print(f"{name:28} {concurrency:11} {rate:10,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
