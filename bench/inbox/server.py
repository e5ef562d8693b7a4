"""The servers that ``bench/bench_inbox.py`` drives, one mode per process.

    python bench/inbox/server.py MODE --port P [options]

Modes:

``actor``
    Serves the sender's actor document (``--actor-json FILE``) at any path:
    the key the full flow fetches once, then keeps in its cache.
``bare``
    A bare aiohttp handler: read the body, answer 202.
``verify``
    A minimal verifying handler: parse the JSON, check the Digest, verify the
    draft-cavage RSA signature with one cached ``cryptography`` public key
    (``--public-pem FILE``). No date window, no dedup, no storage: the floor
    any verifying inbox has to pay.
``full``
    The library's whole receive flow: ``Federation`` (SQLite storage, durable
    SQLite inbox queue, not ``inline``) served by ``aiohttp_app``,
    ``allow_private_addresses=True`` so the sender's key can be fetched from
    loopback. The inbox worker runs in this process (the default) unless
    ``--no-worker`` (``worker=False``: a web process, with a ``worker`` mode
    process beside it or, as a diagnostic, nothing draining the queue).
``worker``
    ``Federation(...).start()`` with the worker on, no HTTP: the worker
    process of a web/worker deployment, on ``--db`` (``--port`` names the
    web process, whose origin the ids are on).

``BENCH_STORAGE=memory://`` (environment) puts the ``full`` and ``worker``
modes on other storage than ``--db``, for diagnosis (the database check then
has nothing to read).

``--cpu N`` pins the process (and its threads, e.g. the SQLite executor) to
one core. ``--cprofile FILE`` profiles the process until it is stopped.
The process prints ``READY`` once it listens and stops cleanly on SIGTERM or
SIGINT (aiohttp cleanup runs, so the federation closes its database).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import sys
from typing import Any

from aiohttp import web


def _bare_app() -> web.Application:
    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inbox)
    return app


def _verify_app(public_pem: bytes) -> web.Application:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(public_pem)  # the cached key
    assert isinstance(key, rsa.RSAPublicKey)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def fail(status: int, reason: str) -> web.Response:
        return web.Response(status=status, text=reason)

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            data = json.loads(body)
        except ValueError:
            return fail(400, "not JSON")
        if not isinstance(data, dict) or "id" not in data:
            return fail(400, "not an activity")
        h = request.headers
        digest = h.get("Digest", "")
        if (
            not digest.startswith("SHA-256=")
            or base64.b64decode(digest[8:]) != hashlib.sha256(body).digest()
        ):
            return fail(400, "digest mismatch")
        params: dict[str, str] = {}
        for part in h.get("Signature", "").split(","):
            name, _, value = part.partition("=")
            params[name.strip()] = value.strip().strip('"')
        lines = []
        for name in params.get("headers", "date").split():
            if name == "(request-target)":
                lines.append(f"(request-target): {request.method.lower()} {request.path_qs}")
            else:
                lines.append(f"{name}: {h.get(name, '')}")
        try:
            key.verify(
                base64.b64decode(params.get("signature", "")),
                "\n".join(lines).encode(),
                pkcs1,
                sha256,
            )
        except (InvalidSignature, ValueError):
            return fail(401, "bad signature")
        return web.Response(status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inbox)
    return app


def _actor_app(document: bytes) -> web.Application:
    async def actor(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/activity+json")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", actor)
    return app


def _federation(port: int, db: str, worker: bool) -> Any:
    from activitypub import Federation

    return Federation(
        f"http://127.0.0.1:{port}",
        storage=os.environ.get("BENCH_STORAGE") or f"sqlite:///{db}",
        allow_private_addresses=True,
        worker=worker,
    )


def _full_app(port: int, db: str, worker: bool) -> web.Application:
    from activitypub.server import aiohttp_app

    return aiohttp_app(_federation(port, db, worker))


async def _run_worker(port: int, db: str) -> None:
    """The inbox worker alone, on the web process's database (``worker`` mode)."""
    fed = _federation(port, db, worker=True)
    await fed.start()
    await _until_signalled()
    await fed.stop()


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024, reuse_address=True)
    await site.start()
    await _until_signalled()
    await runner.cleanup()


async def _until_signalled() -> None:
    """Say READY, then wait for SIGTERM or SIGINT."""
    print("READY", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["actor", "bare", "verify", "full", "worker"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--actor-json", default=None)
    parser.add_argument("--public-pem", default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--cprofile", default=None)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    if args.mode == "worker":
        asyncio.run(_run_worker(args.port, args.db))
        return
    if args.mode == "bare":
        app = _bare_app()
    elif args.mode == "verify":
        with open(args.public_pem, "rb") as f:
            app = _verify_app(f.read())
    elif args.mode == "actor":
        with open(args.actor_json, "rb") as f:
            app = _actor_app(f.read())
    else:
        app = _full_app(args.port, args.db, worker=not args.no_worker)

    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(_serve(app, args.port))
        finally:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
    else:
        asyncio.run(_serve(app, args.port))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
