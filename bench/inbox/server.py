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
``floor``
    The ``verify`` handler plus the least a durable, deduplicating inbox adds:
    the body stored under its activity id in SQLite (``--db``; WAL,
    synchronous=NORMAL), group-committed in one thread hop per batch, before
    the 202. No library code: what any inbox with a durable SQLite queue pays
    on top of the minimal verifier (``bench_inbox.py --paired N --stage floor``).
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
``stage``
    A diagnostic (``bench_inbox.py --paired N --stage NAME``): the ``full``
    web process (same ``Federation``, same storage, ``worker=False``,
    started and stopped with the app) whose inbox runs the receive pipeline
    only up to and including ``--stage NAME``, then answers 202. The body is
    read and the ``Request`` built as ``activitypub/server/aiohttp.py`` does,
    POSTs are routed as ``activitypub/federation/routing.py`` does (every
    other request goes to ``Federation.handle``), and the steps are the
    functions of ``activitypub.federation.inbox``, called in ``_receive``'s
    order, their errors mapped to statuses as ``receive`` maps them. The
    stages, each with all the steps of those before it:
    ``adapter`` (no step: adapter and routing only), ``parse``
    (check_size, check_content_type, parse_json, check_digest),
    ``signature`` (the self-delete shortcut's test, verify_http_signature:
    the first request fetches the sender's key), ``outline``
    (outline_activity, check_items, check_actor, check_blocks,
    authorize_early), ``queue`` (remember_and_queue with the ``queued``
    payload, or inline processing: all of ``_receive``; it should perform as
    ``full --no-worker``).

``BENCH_STORAGE=memory://`` (environment) puts the ``full`` and ``worker``
modes on other storage than ``--db``, for diagnosis (the database check then
has nothing to read).

``BENCH_BATCH_STATS=1`` (environment) makes a process print, to standard
error when it stops, how many SQLite write batches the library ran and their
mean size.

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
import time
from typing import Any

from aiohttp import web


def _bare_app() -> web.Application:
    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inbox)
    return app


def _verifier(public_pem: bytes) -> Any:
    """The minimal verifying check: ``check(request, body)`` is the activity's
    id when the request passes, else the error response."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(public_pem)  # the cached key
    assert isinstance(key, rsa.RSAPublicKey)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def fail(status: int, reason: str) -> web.Response:
        return web.Response(status=status, text=reason)

    def check(request: web.Request, body: bytes) -> web.Response | str:
        try:
            data = json.loads(body)
        except ValueError:
            return fail(400, "not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
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
        return data["id"]  # a str: checked above

    return check


def _verify_app(public_pem: bytes) -> web.Application:
    check = _verifier(public_pem)

    async def inbox(request: web.Request) -> web.Response:
        passed = check(request, await request.read())
        return web.Response(status=202) if isinstance(passed, str) else passed

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inbox)
    return app


def _floor_app(public_pem: bytes, db: str) -> web.Application:
    """The minimal verifier plus the least a durable, deduplicating inbox must
    add: the body stored under its activity id (a duplicate stored once), in
    one SQLite file (WAL, synchronous=NORMAL, as the library's), committed
    before the 202, concurrent requests' rows in one transaction in one
    thread hop (group commit, as the library's). No library code."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    check = _verifier(public_pem)
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, body BLOB)"
    )
    thread = ThreadPoolExecutor(1)
    pending: list[tuple[str, bytes]] = []
    waiters: list[asyncio.Future[None]] = []
    busy = False

    def commit(rows: list[tuple[str, bytes]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO inbox (id, body) VALUES (?, ?) ON CONFLICT DO NOTHING", rows
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def ship() -> None:
        nonlocal pending, waiters, busy
        if busy or not pending:
            return
        rows, done, busy = pending, waiters, True
        pending, waiters = [], []
        loop = asyncio.get_running_loop()

        def landed(flight: Any) -> None:
            nonlocal busy
            busy = False
            failed = flight.exception()  # not stored: those requests get a 500, not a 202
            for w in done:
                if failed is None:
                    w.set_result(None)
                else:
                    w.set_exception(failed)
            ship()

        thread.submit(commit, rows).add_done_callback(
            lambda flight: loop.call_soon_threadsafe(landed, flight)
        )

    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        passed = check(request, body)
        if not isinstance(passed, str):
            return passed
        done = asyncio.get_running_loop().create_future()
        pending.append((passed, body))
        waiters.append(done)
        if len(pending) == 1:
            asyncio.get_running_loop().call_soon(ship)
        await done
        return web.Response(status=202)

    async def close(_: web.Application) -> None:
        thread.shutdown(wait=True)
        conn.close()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", inbox)
    app.on_cleanup.append(close)
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


STAGES = ("adapter", "parse", "signature", "outline", "queue")


def _stage_app(port: int, db: str, stage: str) -> web.Application:
    """``aiohttp_app`` of the full mode, with the inbox cut after ``stage`` (``stage`` mode)."""
    from activitypub.federation import Federation, inbox
    from activitypub.federation.authorize import authorize_early
    from activitypub.federation.http import Request, Response
    from activitypub.federation.limits import check_items
    from activitypub.federation.verify import verify_http_signature
    from activitypub.server.aiohttp import _app, _read_request, _to_aiohttp
    from activitypub.urls import origin

    fed: Federation = _federation(port, db, worker=False)
    last = STAGES.index(stage)
    parse, signature, outline, queue = (STAGES.index(name) for name in STAGES[1:])

    async def receive_until(request: Request, recipient: str | None) -> None:
        """``inbox._receive``, step for step, up to the end of ``stage``."""
        if last < parse:
            return
        inbox.check_size(fed, request)
        inbox.check_content_type(request)
        data = inbox.parse_json(request.body, fed.max_json_depth)
        inbox.check_digest(request)
        if last < signature:
            return
        if (
            inbox.is_unknown_actor_self_delete(data)
            and await fed.keys.known_actor(data["actor"]) is None
        ):
            return
        signed = await verify_http_signature(fed, request)
        if last < outline:
            return
        document, activity = await inbox.outline_activity(data)
        check_items(fed.item_caps, document, request.body if document is data else None)
        actor = await inbox.check_actor(fed, signed, data, activity)
        await inbox.check_blocks(fed, activity, actor, recipient)
        authorize_early(fed, activity, actor)
        if last < queue:
            return
        scope = recipient or "shared"
        activity_id = activity.id or ""
        payload = {"activity": document, "recipient": recipient, "signer": actor}
        if fed.inline:
            if await fed.storage.mark_seen(scope, activity_id, at=time.time()):
                await inbox.process(fed, payload)
        else:
            await inbox.remember_and_queue(
                fed, scope, activity_id, inbox.queued(payload, request.body, data)
            )

    async def receive(request: Request, recipient: str | None) -> Response:
        """``inbox.receive`` over :func:`receive_until`: the same error mapping."""
        return await inbox.answer(request, receive_until(request, recipient))

    async def route(request: Request) -> Response:
        """``routing.route``'s inbox branch; anything else goes to ``fed.handle``."""
        if request.method == "POST":
            path = request.path
            if path == fed.paths.shared_inbox:
                return await receive(request, None)
            identifier = fed.paths.match_inbox(path)
            if identifier is not None:
                if await fed.storage.get_local_actor(identifier) is None:
                    return Response.error(404, "no such inbox")
                return await receive(request, identifier)
        return await fed.handle(request)

    scheme = origin(fed.base_url).scheme

    async def handle(request: web.Request) -> web.StreamResponse:
        """``aiohttp_handler``'s body reading and ``Request``, then :func:`route`."""
        ours = await _read_request(fed, scheme, request)
        if isinstance(ours, Response):
            return _to_aiohttp(ours)
        return _to_aiohttp(await route(ours))

    return _app(fed, handle)  # as aiohttp_app: the federation starts and stops with it


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


def _count_batches() -> None:
    """Print, at exit, how many SQLite write batches ran and their mean size."""
    import atexit

    from activitypub.storage import _database

    sizes: list[int] = []
    batch = _database._batch

    def counted(conn: Any, fns: Any) -> Any:
        sizes.append(len(fns))
        return batch(conn, fns)

    _database._batch = counted

    def report() -> None:
        n = len(sizes)
        print(f"BATCHES {n} writes {sum(sizes)} mean {sum(sizes) / max(n, 1):.1f}", file=sys.stderr)

    atexit.register(report)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["actor", "bare", "verify", "floor", "full", "worker", "stage"]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--actor-json", default=None)
    parser.add_argument("--public-pem", default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--stage", choices=STAGES, default=None, help="stage mode: where to cut")
    parser.add_argument("--cprofile", default=None)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if (args.mode == "stage") != (args.stage is not None):
        parser.error("--stage NAME goes with the stage mode, and only with it")

    if args.mode == "worker":
        asyncio.run(_run_worker(args.port, args.db))
        return
    if args.mode == "bare":
        app = _bare_app()
    elif args.mode == "verify":
        with open(args.public_pem, "rb") as f:
            app = _verify_app(f.read())
    elif args.mode == "floor":
        with open(args.public_pem, "rb") as f:
            app = _floor_app(f.read(), args.db)
    elif args.mode == "actor":
        with open(args.actor_json, "rb") as f:
            app = _actor_app(f.read())
    elif args.mode == "stage":
        app = _stage_app(args.port, args.db, args.stage)
    else:
        app = _full_app(args.port, args.db, worker=not args.no_worker)

    if os.environ.get("BENCH_BATCH_STATS"):
        _count_batches()
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
