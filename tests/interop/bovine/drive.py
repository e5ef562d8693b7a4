"""Drive a bovine-herd user from the command line (run with the bovine venv's python).

Run from the peer's working directory (it holds the SQLite database, bovine's
JSON-LD cache and ``bovine_client.json``); ``BOVINE_DB_URL`` points at the
database as for the server.

Subcommands (each prints one JSON document on stdout):

``init --domain http://127.0.0.1:PORT [--name bob]``
    Before the server starts: seed the JSON-LD cache, create the schema, register
    the user with ``bovine_tool``'s store, give it a did:key for Moo-Auth-1 (the
    way bovine's own clients authenticate to their server) and write the client
    configuration. Prints ``{"bovine_name", "actor_id", "handle"}``.
``seed``
    Only seed ``bovine_jsonld_cache.sqlite`` in the current directory.
``actor``
    The user's own actor document (as its owner sees it).
``follow TARGET_ACTOR_URL``
    POST a Follow of the target to the user's outbox.
``accept FOLLOW_ID [--to ACTOR]``
    POST an Accept of that Follow to the outbox (bovine never accepts by itself).
``note TARGET --content TEXT``
    POST a Create(Note) addressed to TARGET to the outbox.
``undo ACTIVITY_ID``
    POST an Undo of one of the user's own activities.
``inbox`` / ``outbox`` / ``followers`` / ``following``
    The collection's items, resolved to objects where the server can.

Outbox posts print ``{"status", "location"}``: ``location`` is the id bovine gave
the new activity.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONFIG = "bovine_client.json"

# Our library's bundled copies (plain JSON files, read without importing it) plus
# did/v1, which bovine's own context names and our library does not bundle.
_LIB_CONTEXTS = HERE.parent.parent.parent / "activitypub" / "jsonld" / "contexts"
SEED_CONTEXTS: dict[str, Path] = {
    "https://w3id.org/security/v1": _LIB_CONTEXTS / "security-v1.jsonld",
    "https://w3id.org/security/v2": _LIB_CONTEXTS / "security-v2.jsonld",
    "https://w3id.org/security/data-integrity/v1": _LIB_CONTEXTS / "data-integrity-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": _LIB_CONTEXTS / "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": _LIB_CONTEXTS / "multikey-v1.jsonld",
    "https://w3id.org/identity/v1": _LIB_CONTEXTS / "identity-v1.jsonld",
    "https://purl.archive.org/socialweb/webfinger": _LIB_CONTEXTS / "webfinger.jsonld",
    "https://join-lemmy.org/context.json": _LIB_CONTEXTS / "lemmy-context.jsonld",
    "https://www.w3.org/ns/did/v1": HERE / "contexts" / "did-v1.jsonld",
}
# Names bovine would otherwise try to download; cached as empty contexts, which
# is exactly what bovine stores itself when a download fails.
SEED_EMPTY = ("http://schema.org", "https://schema.org/docs/jsonldcontext.jsonld")


def seed_jsonld_cache(path: str = "bovine_jsonld_cache.sqlite") -> list[str]:
    """Write bovine's JSON-LD cache before bovine is imported (it loads it at import).

    The activitystreams context is left out on purpose: bovine answers it from
    its own built-in copy.
    """
    rows: list[tuple[str, str]] = []
    for url, file in SEED_CONTEXTS.items():
        document = json.loads(file.read_text(encoding="utf-8"))
        rows.append((url, json.dumps(document["@context"])))
    rows += [(url, "[]") for url in SEED_EMPTY]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS jsonld (url TEXT PRIMARY KEY, context TEXT)")
        db.executemany("INSERT OR REPLACE INTO jsonld VALUES (?, ?)", rows)
    return [url for url, _ in rows]


def _db_url() -> str:
    return os.environ.get("BOVINE_DB_URL", "sqlite://bovine.sqlite3")


async def cmd_init(args: argparse.Namespace) -> dict[str, Any]:
    from bovine.crypto import generate_ed25519_private_key, private_key_to_did_key
    from bovine_store.models import BovineActorEndpoint
    from bovine_store.types import EndpointType
    from bovine_tool.store import InlineBovineStore
    from tortoise import Tortoise

    async with InlineBovineStore(domain=args.domain) as store:
        await Tortoise.generate_schemas()
        bovine_name = await store.register(args.name)
        secret = generate_ed25519_private_key()
        did_key = private_key_to_did_key(secret)
        await store.add_identity_string_to_actor(bovine_name, "drive-py", did_key)
        endpoint = await BovineActorEndpoint.get(
            bovine_actor__bovine_name=bovine_name, endpoint_type=EndpointType.ACTOR
        )
        actor_id = endpoint.name
    config = {
        "domain": args.domain,
        "secret": secret,
        "actor_id": actor_id,
        "bovine_name": bovine_name,
    }
    Path(CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    host = args.domain.split("://", 1)[-1]
    return {"bovine_name": bovine_name, "actor_id": actor_id, "handle": f"{args.name}@{host}"}


def _client() -> Any:
    from bovine import BovineClient

    config = json.loads(Path(CONFIG).read_text(encoding="utf-8"))
    return BovineClient(domain=config["domain"], secret=config["secret"])


async def _post_outbox(client: Any, activity: dict[str, Any]) -> dict[str, Any]:
    response = await client.send_to_outbox(activity)
    body = await response.text()
    if response.status >= 400:
        raise SystemExit(f"outbox answered {response.status}: {body}")
    return {
        "status": response.status,
        "location": response.headers.get("location"),
        "activity": activity,
    }


async def cmd_actor(args: argparse.Namespace) -> Any:
    async with _client() as client:
        return client.information


async def cmd_follow(args: argparse.Namespace) -> Any:
    async with _client() as client:
        activity = client.activity_factory.follow(args.target).build()
        return await _post_outbox(client, activity)


async def _lookup(client: Any, object_id: str) -> dict[str, Any] | None:
    try:
        result = await client.proxy(object_id)
    except Exception:
        return None
    return result if isinstance(result, dict) else None


async def cmd_accept(args: argparse.Namespace) -> Any:
    async with _client() as client:
        follow: dict[str, Any] | str | None = None
        if args.to:
            follow = {"id": args.follow_id, "type": "Follow", "actor": args.to}
        else:
            follow = await _lookup(client, args.follow_id)
            if not follow or "actor" not in follow:
                raise SystemExit(f"cannot find Follow {args.follow_id}; pass --to ACTOR")
        activity = client.activity_factory.accept(follow).build()
        return await _post_outbox(client, activity)


async def cmd_note(args: argparse.Namespace) -> Any:
    async with _client() as client:
        note = client.object_factory.note(to={args.target}, content=args.content).build()
        activity = client.activity_factory.create(note).build()
        return await _post_outbox(client, activity)


async def cmd_undo(args: argparse.Namespace) -> Any:
    async with _client() as client:
        original = await _lookup(client, args.activity_id)
        if not original:
            raise SystemExit(f"cannot find {args.activity_id}")
        activity = client.activity_factory.undo(original).build()
        return await _post_outbox(client, activity)


async def _collection(name: str) -> list[Any]:
    async with _client() as client:
        collection_id = client.information[name]
        items: list[Any] = []
        async for item in client.collection_helper(collection_id, resolve=False):
            if isinstance(item, str):
                resolved = await _lookup(client, item)
                items.append(resolved if resolved is not None else item)
            else:
                items.append(item)
        return items


async def cmd_collection(args: argparse.Namespace) -> Any:
    return await _collection(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init")
    p.add_argument("--domain", required=True, help="http://127.0.0.1:PORT")
    p.add_argument("--name", default="bob")
    p.set_defaults(run=cmd_init)
    sub.add_parser("seed").set_defaults(run=None)
    sub.add_parser("actor").set_defaults(run=cmd_actor)
    p = sub.add_parser("follow")
    p.add_argument("target")
    p.set_defaults(run=cmd_follow)
    p = sub.add_parser("accept")
    p.add_argument("follow_id")
    p.add_argument("--to", help="the follower (skips looking the Follow up)")
    p.set_defaults(run=cmd_accept)
    p = sub.add_parser("note")
    p.add_argument("target")
    p.add_argument("--content", required=True)
    p.set_defaults(run=cmd_note)
    p = sub.add_parser("undo")
    p.add_argument("activity_id")
    p.set_defaults(run=cmd_undo)
    for name in ("inbox", "outbox", "followers", "following"):
        sub.add_parser(name).set_defaults(run=cmd_collection)
    args = parser.parse_args(argv)

    if args.command in ("init", "seed"):
        # Before anything imports bovine (bovine.jsonld reads the cache at import).
        seeded = seed_jsonld_cache()
        if args.command == "seed":
            json.dump({"seeded": seeded}, sys.stdout)
            return 0
    result = asyncio.run(args.run(args))
    json.dump(result, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
