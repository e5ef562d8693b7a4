"""Where one inbox POST's time goes: each step of the receive pipeline, timed alone.

    python bench/inbox/steps.py [--n 2000]

A companion to ``bench/bench_inbox.py`` (which measures the whole flow under
load). Here the steps of ``activitypub.federation.inbox._receive`` run one
after another in one coroutine, no HTTP, on ``--n`` distinct signed
Create(Note) activities, with a ``Federation`` on SQLite storage and the
SQLite queue (as the full case) whose key cache already holds the sender's
actor. The process is pinned to one core (``--cpu``, default 0) so that the
SQLite executor threads share it, as in the benchmark. Prints microseconds
per request for each step (wall clock, and CPU time of all the process's
threads, which is steadier on a busy machine), and for a bare SQLite executor
round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_inbox import _activity

from activitypub.federation import Federation, Request
from activitypub.federation import inbox as pipeline
from activitypub.federation.authorize import authorize, authorize_early
from activitypub.federation.verify import verify_http_signature
from activitypub.keys import PrivateKey
from activitypub.signatures import cavage
from activitypub.storage import CachedDocument

ORIGIN = "http://127.0.0.1:9"
ACTOR = f"{ORIGIN}/users/alice"
HOST = "127.0.0.1:8"


def actor_document(key: PrivateKey) -> dict[str, Any]:
    """The sender's actor, with ``key``: what the key cache is primed with."""
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": ACTOR,
        "type": "Person",
        "inbox": f"{ACTOR}/inbox",
        "publicKey": {
            "id": f"{ACTOR}#main-key",
            "owner": ACTOR,
            "publicKeyPem": key.public_key.to_pem(),
        },
    }


def signed_requests(key: PrivateKey, n: int, first: int, stamp: str) -> list[Request]:
    """``n`` distinct Create(Note) POSTs to the shared inbox, numbered from
    ``first``, signed as Mastodon signs them."""
    made = []
    for i in range(first, first + n):
        body = json.dumps(_activity(ORIGIN, i, stamp), separators=(",", ":")).encode()
        headers = {"Host": HOST, "Content-Type": "application/activity+json"}
        headers.update(
            cavage.sign_request(
                "POST", f"http://{HOST}/inbox", headers, body, key, f"{ACTOR}#main-key"
            )
        )
        made.append(Request.build("POST", f"http://{HOST}/inbox", headers, body))
    return made


def check_size_and_type(fed: Federation, request: Request) -> None:
    pipeline.check_size(fed, request)
    pipeline.check_content_type(request)


async def _full_read(document: dict[str, Any]) -> Any:
    return await pipeline.read_queued(document)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--cpu", type=int, default=0)
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    n = args.n

    key = PrivateKey.generate("rsa")
    actor_doc = actor_document(key)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    requests = signed_requests(key, n, 0, stamp)

    with tempfile.TemporaryDirectory() as tmp:
        fed = Federation(
            f"http://{HOST}", storage=f"sqlite:///{tmp}/steps.db", allow_private_addresses=True
        )
        await fed.storage.open()
        await fed.queue.open()
        now = time.time()
        await fed.storage.put_cached(CachedDocument(ACTOR, actor_doc, now, now + 3600))

        timings: dict[str, float] = {}
        cpu: dict[str, float] = {}

        async def step(name: str, fn: Callable[[int], Awaitable[Any] | Any]) -> list[Any]:
            out = []
            c = time.process_time()  # all threads: the SQLite executors too
            t = time.perf_counter()
            for i in range(n):
                r = fn(i)
                if asyncio.iscoroutine(r):
                    r = await r
                out.append(r)
            timings[name] = (time.perf_counter() - t) / n * 1e6
            cpu[name] = (time.process_time() - c) / n * 1e6
            return out

        db = fed.storage._db  # type: ignore[attr-defined]
        qdb = fed.queue._db  # type: ignore[attr-defined]

        async def whole(label: str) -> None:
            await db.run(lambda c: c.execute("DELETE FROM seen"))
            await qdb.run(lambda c: c.execute("DELETE FROM tasks"))
            statuses = await step(label, lambda i: pipeline.receive(fed, requests[i], None))
            assert all(r.status == 202 for r in statuses), {r.status for r in statuses}

        await whole("=> inbox.receive, whole (no HTTP), first")
        await step("(SQLite executor round trip, no SQL)", lambda i: db.run(lambda c: None))
        await step(
            "check_size + check_content_type",
            lambda i: check_size_and_type(fed, requests[i]),
        )
        data = await step("parse_json", lambda i: pipeline.parse_json(requests[i].body))
        await step("check_digest", lambda i: pipeline.check_digest(requests[i]))
        await step(
            "  keys.key (cached in memory)",
            lambda i: fed.keys.key(f"{ACTOR}#main-key"),
        )
        remote = await fed.keys.key(f"{ACTOR}#main-key")
        await step(
            "  cavage.verify_request (RSA verify)",
            lambda i: cavage.verify_request(
                "POST",
                requests[i].url,
                requests[i].headers,
                requests[i].body,
                remote.key,
                policy=cavage.VerificationPolicy(clock_skew=fed.signature_window),
            ),
        )
        signed = await step(
            "verify_http_signature (both above)", lambda i: verify_http_signature(fed, requests[i])
        )
        outlined = await step(
            "outline_activity (JSON-LD check + outline read)",
            lambda i: pipeline.outline_activity(data[i]),
        )
        docs = [d for d, _ in outlined]
        acts = [a for _, a in outlined]
        actors = await step(
            "check_actor", lambda i: pipeline.check_actor(fed, signed[i], data[i], acts[i])
        )
        await step(
            "check_blocks (domain blocks: a set in memory)",
            lambda i: pipeline.check_blocks(fed, acts[i], actors[i], None),
        )
        await step("authorize_early", lambda i: authorize_early(fed, acts[i], actors[i]))
        await db.run(lambda c: c.execute("DELETE FROM seen"))  # new ids, as in a real run
        await qdb.run(lambda c: c.execute("DELETE FROM tasks"))
        await step(
            "remember_and_queue (seen + task: one SQLite write)",
            lambda i: pipeline.remember_and_queue(
                fed,
                "shared",
                acts[i].id or "",
                {"activity": docs[i], "recipient": None, "signer": actors[i]},
            ),
        )
        full = await step(
            "  worker: read_queued (full read)",
            lambda i: _full_read(docs[i]),
        )
        await step(
            "  worker: refetch_foreign_objects (same-origin: no fetch)",
            lambda i: pipeline.refetch_foreign_objects(fed, full[i], actors[i]),
        )
        await step(
            "  worker: authorize (get_object: SQLite read)",
            lambda i: authorize(fed, full[i], actors[i]),
        )
        await whole("=> inbox.receive, whole (no HTTP), again")
        await fed.queue.close()
        await fed.storage.close()

    def total(d: dict[str, float]) -> float:
        return sum(v for k, v in d.items() if not k.startswith(("(", "  ", "=>")))

    print(f"{n} distinct signed Create(Note), one at a time, pinned to core {args.cpu}")
    print(f"{'step':<52}{'wall us':>9}{'cpu us':>9}   (cpu: all threads of the process)")
    for name, us in timings.items():
        print(f"{name:<52}{us:>9.1f}{cpu[name]:>9.1f}")
    print(f"{'sum of the steps':<52}{total(timings):>9.1f}{total(cpu):>9.1f}")


if __name__ == "__main__":
    asyncio.run(main())
