"""The inbox's CPU per request with concurrent senders, in one process, no HTTP.

    python bench/inbox/lanes.py [--n 6000] [--rounds 3] [--lanes 50]

A quick loop for work on the receive path, between ``steps.py`` (each step
alone, one request at a time) and ``bench_inbox.py`` (the servers under wrk,
slow to run and noisy). ``--lanes`` coroutines share ``--n`` distinct signed
Create(Note) requests and run them through ``inbox.receive`` (SQLite storage
and queue, the sender's key cached, no worker), and, on another set of as many
requests, through the minimal verifier's check (JSON parse, Digest, RSA verify
with a cached key: the one ``server.py`` serves, on our ``Request``). The
process is pinned to one core (``--cpu``), so the SQLite thread shares it.
Prints, per round, CPU microseconds per request: the minimal check, the whole
receive (and its main thread's part; the rest is the SQLite thread), and the
difference. aiohttp's own cost (about 90 us per request under load here) is in
neither.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server import _verifier
from steps import ACTOR, HOST, actor_document, signed_requests

from activitypub.federation import Federation, Request
from activitypub.federation import inbox as pipeline
from activitypub.keys import PrivateKey
from activitypub.storage import CachedDocument


class _AsAiohttp:
    """What ``server.py``'s verifier reads of an aiohttp request, from ours."""

    __slots__ = ("headers", "method", "path_qs")

    def __init__(self, request: Request) -> None:
        self.method, self.path_qs, self.headers = request.method, request.path, request.headers


def _minimal(key: PrivateKey) -> Callable[[Request], Any]:
    """``server.py``'s minimal verifying check, on our ``Request``."""
    check = _verifier(key.public_key.to_pem().encode())
    return lambda request: check(_AsAiohttp(request), request.body)


async def _run(
    requests: list[Request], lanes: int, fn: Callable[[Request], Any]
) -> tuple[float, float]:
    """CPU us per request: (all threads, main thread)."""
    pending = iter(requests)

    async def lane() -> None:
        for request in pending:
            out = fn(request)
            if asyncio.iscoroutine(out):
                out = await out
            status = getattr(out, "status", 202)
            if status != 202:
                raise SystemExit(f"answered {status}: {getattr(out, 'body', b'')[:200]!r}")

    cpu, main = time.process_time(), time.thread_time()
    await asyncio.gather(*(lane() for _ in range(lanes)))
    n = len(requests)
    return (time.process_time() - cpu) / n * 1e6, (time.thread_time() - main) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lanes", type=int, default=50)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})

    key = PrivateKey.generate("rsa")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sets = [signed_requests(key, args.n, k * args.n, stamp) for k in range(args.rounds)]
    minimal = _minimal(key)
    print(f"{args.lanes} lanes, {args.n} distinct signed Create(Note) per round, core {args.cpu}")
    print(f"{'round':>5} {'minimal us':>11} {'receive us':>11} {'(main)':>8} {'extra us':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(
            f"http://{HOST}",
            storage=f"sqlite:///{tmp}/lanes.db",
            allow_private_addresses=True,
            worker=False,
        )
        await fed.start()
        now = time.time()
        await fed.storage.put_cached(CachedDocument(ACTOR, actor_document(key), now, now + 3600))
        warm = signed_requests(key, 20, 10**7, stamp)
        await _run(warm, args.lanes, lambda r: pipeline.receive(fed, r, None))
        for k, requests in enumerate(sets):
            base, _ = await _run(requests, args.lanes, minimal)
            whole, main_thread = await _run(
                requests, args.lanes, lambda r: pipeline.receive(fed, r, None)
            )
            print(
                f"{k + 1:>5} {base:>11.1f} {whole:>11.1f} {main_thread:>8.1f} {whole - base:>9.1f}"
            )
        await fed.stop()


if __name__ == "__main__":
    asyncio.run(main())
