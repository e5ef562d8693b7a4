"""Receiving: the inbox pipeline, one step per function, in the order they run.

Before the 202 (:func:`receive`), only what needs no stored state beyond
the key cache and blocks: size → content type → JSON (and its depth) →
digest → signature → the activity's outline read as JSON-LD (who did what
to which object: :func:`outline_activity`; the full reading is the
worker's) → item caps (:mod:`~activitypub.federation.limits`) → key owner
is the actor → blocks (actor, object: read from memory) → the
authorisation rules that need no storage
(:func:`~activitypub.federation.authorize.authorize_early`) → dedup and
durable enqueue of the verified document, one transaction (or inline
processing) → 202. Each step raises its own error class; :func:`receive`
maps classes to status codes, so nothing stored changes (not even the
dedup record) before every one of these checks passed.

Then :func:`process` (the inbox worker, or inline): foreign embedded
objects refetched → blocks again (the fetched object names its real author)
→ the full authorisation, with the stored object's author, tombstones and
the Follow an Accept answers → bookkeeping → handlers. An activity refused
there is dropped and logged: the sender already has its 202 (as Mastodon
does), nothing is stored and no handler runs. From the JSON-LD reading on,
every decision uses what the document means, never its raw keys.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from activitypub import jsonfast, vocab
from activitypub.errors import (
    ActivityPubError,
    ForbiddenError,
    InboxError,
    KeyOwnerError,
    ParseError,
    PayloadTooLargeError,
    SignatureError,
    UnauthorizedActivityError,
    UnsupportedMediaTypeError,
)
from activitypub.federation.authorize import authorize, authorize_early
from activitypub.federation.context import InboxContext
from activitypub.federation.forwarded import verify_forwarded
from activitypub.federation.http import Request, Response
from activitypub.federation.limits import check_items
from activitypub.federation.verify import SignedBy, verify_http_signature
from activitypub.jsonld import normalize
from activitypub.queue.sqlite import SqliteQueue
from activitypub.signatures.digest import verify_body_digest
from activitypub.storage.sqlite import SqliteStorage
from activitypub.urls import origin, same_origin

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["INBOX_TASK", "process", "receive"]

log = logging.getLogger("activitypub.inbox")

INBOX_TASK = "inbox"
_JSON_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})


async def receive(fed: Federation, request: Request, recipient: str | None) -> Response:
    """Answer an inbox POST. ``recipient`` is the local identifier, None for the shared inbox."""
    return await answer(request, _receive(fed, request, recipient))


async def answer(request: Request, steps: Awaitable[None]) -> Response:
    """202 once ``steps`` (the pipeline, or a part of it) pass; else the status
    each step's error class maps to."""
    try:
        await steps
    except InboxError as exc:
        return Response.error(exc.status, str(exc))
    except SignatureError as exc:
        log.info("inbox %s: signature refused: %s", request.path, exc)
        return Response.error(401, str(exc))
    except ParseError as exc:
        return Response.error(400, str(exc))
    return Response(202)


async def _receive(fed: Federation, request: Request, recipient: str | None) -> None:
    check_size(fed, request)
    check_content_type(request)
    data = parse_json(request.body, fed.max_json_depth)
    check_digest(request)
    if is_unknown_actor_self_delete(data) and await fed.keys.known_actor(data["actor"]) is None:
        return  # S-09: nothing to delete, nothing to fetch (Mastodon answers 202 too)
    signed = await verify_http_signature(fed, request)
    # Everything from here on reads the JSON-LD meaning, never the raw keys (S-23).
    document, activity = await outline_activity(data)
    check_items(fed.item_caps, document, request.body if document is data else None)
    actor = await check_actor(fed, signed, data, activity)
    await check_blocks(fed, activity, actor, recipient)
    authorize_early(fed, activity, actor)
    # Only an activity that passed every check is remembered: a refused one
    # leaves no trace, and its retry is judged afresh.
    scope = recipient or "shared"
    activity_id = activity.id or ""
    payload = {"activity": document, "recipient": recipient, "signer": actor}
    if fed.inline:
        if await fed.storage.mark_seen(scope, activity_id, at=time.time()):
            await process(fed, payload)
    else:
        await remember_and_queue(fed, scope, activity_id, queued(payload, request.body, data))
    # else a duplicate: accepted once before, its handlers ran (or will) once


def queued(payload: dict[str, Any], body: bytes, data: dict[str, Any]) -> dict[str, Any]:
    """The task to store: the verified body's own text when the document is
    that body (not a compaction), which is far cheaper than encoding the
    document again and decodes to the same (:func:`task_document`)."""
    if payload["activity"] is not data:
        return payload
    try:
        text = body.decode()
    except UnicodeDecodeError:  # JSON in UTF-16 or UTF-32: store the document
        return payload
    return {**payload, "activity": None, "body": text}


def task_document(payload: dict[str, Any]) -> dict[str, Any]:
    document = payload.get("activity")
    if document is None:
        document = jsonfast.loads(payload["body"])
    if not isinstance(document, dict):
        raise ParseError("a queued activity must be a JSON object")
    return document


async def remember_and_queue(
    fed: Federation, scope: str, activity_id: str, payload: dict[str, Any]
) -> bool:
    """Record the id as seen and queue the task; False (and nothing queued) for a duplicate.

    With the SQLite storage and queue on one connection (the default) both
    are one transaction: an activity is never seen-but-lost, even when the
    process dies between the two. Otherwise the seen mark comes first and is
    taken back if the task cannot be queued.
    """
    storage, queue, key = fed.storage, fed.queue, f"{scope} {activity_id}"
    now = time.time()
    if (
        isinstance(storage, SqliteStorage)
        and isinstance(queue, SqliteQueue)
        and queue.shares_transaction_with(storage)
    ):
        insertion = queue.insertion(INBOX_TASK, payload, key=key)
        return await storage.mark_seen(scope, activity_id, at=now, then=insertion)
    if not await storage.mark_seen(scope, activity_id, at=now):
        return False
    try:
        await queue.enqueue(INBOX_TASK, payload, key=key)
    except BaseException:
        # the sender gets an error and retries; its retry must not look like a duplicate
        await asyncio.shield(storage.unmark_seen(scope, activity_id))
        raise
    return True


# -- the steps ---------------------------------------------------------------------------


def check_size(fed: Federation, request: Request) -> None:
    if len(request.body) > fed.max_body:
        raise PayloadTooLargeError(f"body larger than {fed.max_body} bytes")


def check_content_type(request: Request) -> None:
    value = request.headers.get("Content-Type", "")
    media = value.split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES:
        raise UnsupportedMediaTypeError(f"content type {media or 'missing'!r} is not ActivityPub")


def parse_json(body: bytes, max_depth: int = 64) -> dict[str, Any]:
    try:
        data = jsonfast.loads(body)
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParseError("an activity must be a JSON object")
    check_depth(data, max_depth, body)
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str | list):
        raise ParseError("an activity needs an id and a type")
    if vocab.id_of(data.get("actor")) is None:
        raise ParseError("an activity needs an actor")
    return data


def check_depth(data: Any, max_depth: int, body: bytes | None = None) -> None:
    """Refuse JSON nested deeper than ``max_depth`` before anything recurses into it (S-31).

    With the ``body`` it came from: JSON cannot nest deeper than it has
    brackets, and counting those is far cheaper than walking the tree.
    """
    if body is not None and body.count(b"{") + body.count(b"[") <= max_depth:
        return
    level: list[Any] = [data]
    depth = 0
    while level:
        if depth > max_depth:
            raise ParseError(f"JSON nested more than {max_depth} deep")
        deeper: list[Any] = []
        for node in level:
            for value in node.values() if isinstance(node, dict) else node:
                if isinstance(value, dict | list):
                    deeper.append(value)
        level = deeper
        depth += 1


def check_digest(request: Request) -> None:
    """Digest / Content-Digest, when sent, must match the bytes received."""
    headers = request.headers
    if "Digest" in headers or "Content-Digest" in headers:
        verify_body_digest(headers, request.body)


def is_unknown_actor_self_delete(data: dict[str, Any]) -> bool:
    actor = vocab.id_of(data.get("actor"))
    return (
        data.get("type") == "Delete"
        and actor is not None
        and vocab.id_of(data.get("object")) == actor
    )


async def check_actor(
    fed: Federation, signed: SignedBy, data: dict[str, Any], activity: vocab.Activity
) -> str:
    """The activity's actor must be the key's owner (S-01), or have signed the body itself.

    The actor is read from ``activity``, the JSON-LD reading of ``data``: a
    context can make the raw ``actor`` key mean something else (S-23).
    Object signatures are checked over ``data`` itself, which is what was signed.
    """
    actor = vocab.id_of(activity.actor)
    if actor is None or activity.id is None:
        raise ParseError("an activity needs an id and an actor")
    # A forwarded activity is trusted only with the actor's own object signature.
    if actor != signed.owner and not await verify_forwarded(fed, data, actor):
        raise KeyOwnerError(f"signed by {signed.owner}, but the actor is {actor}")
    if not same_origin(activity.id, actor):
        raise KeyOwnerError("the activity id is not on its actor's host")
    return actor


async def check_blocks(
    fed: Federation, activity: vocab.Activity, actor: str, recipient: str | None
) -> None:
    """The actor's domain or the actor itself blocked, or an activity about a
    blocked host's or author's object (S-18): refused.

    Run before the object is fetched (no request to a blocked host) and, in
    :func:`process`, again after (the fetched object names its real author).
    Each distinct host is asked about once (storages answer domain blocks
    from memory: the SQLite one keeps a view of its table).
    """
    obj = activity.object
    authors = (
        vocab.ids_of(getattr(obj, "attributed_to", None)) if isinstance(obj, vocab.Node) else []
    )
    own = origin(actor)
    own_prefix = f"{own}/"  # ids under it are on the actor's host, already asked about
    hosts = [own.host]
    target = vocab.id_of(obj)
    for iri in ([target] if target is not None else []) + authors:
        if iri.startswith(own_prefix) or fed.is_local(iri):
            continue
        try:
            host = origin(iri).host
        except ParseError:
            continue
        if host not in hosts:
            hosts.append(host)
    for n, host in enumerate(hosts):
        if await fed.storage.is_domain_blocked(host):
            raise ForbiddenError("the object's domain is blocked" if n else "domain blocked")
    if recipient is not None:
        if await fed.storage.is_blocked(recipient, actor):
            raise ForbiddenError("actor blocked")
        for author in authors:
            if author != actor and await fed.storage.is_blocked(recipient, author):
                raise ForbiddenError("the object's author is blocked")


async def _compact_beside_loop(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` compacted in a worker thread: compaction is CPU-bound and grows
    with the document, and an authenticated sender must not be able to stall
    the event loop with it (S-25)."""
    try:
        normalized = await asyncio.to_thread(normalize, data)
    except ActivityPubError as exc:
        raise ParseError(f"not a readable activity: {exc}") from exc
    if not isinstance(normalized, dict):
        raise ParseError("not a readable activity")
    return normalized


async def outline_activity(data: dict[str, Any]) -> tuple[dict[str, Any], vocab.Activity]:
    """The document to queue and the outline of the activity it holds
    (:func:`activitypub.vocab.read_outline`): what accepting needs, read at
    a fraction of a full read's cost; the worker reads the rest.

    The document is ``data`` itself unless the outline reads differently
    as JSON-LD: then it is ``data`` compacted (beside the loop).
    """
    document = data
    node = _outline(data)
    if node is None:
        document = await _compact_beside_loop(data)
        node = _outline(document, compacted=True)
    if not isinstance(node, vocab.Activity):
        raise ParseError(f"{data.get('type')!r} is not an activity")
    return document, node


def _outline(document: dict[str, Any], *, compacted: bool = False) -> vocab.Node | None:
    try:
        return vocab.read_outline(document, compacted=compacted)
    except ActivityPubError as exc:
        raise ParseError(f"not a readable activity: {exc}") from exc


def read_activity(document: dict[str, Any]) -> vocab.Activity:
    """The activity a document holds, read in full (compacting it on this
    thread if it must: for documents already compacted, see :func:`read_queued`)."""
    try:
        node = vocab.parse(document)
    except ActivityPubError as exc:
        raise ParseError(f"not a readable activity: {exc}") from exc
    if not isinstance(node, vocab.Activity):
        raise ParseError(f"{document.get('type')!r} is not an activity")
    return node


async def read_queued(document: dict[str, Any]) -> vocab.Activity:
    """The activity a queued document holds, read in full: straight from its
    JSON, or, if it must be compacted, from its compaction beside the loop
    (S-25). One pass either way, no separate check first."""
    try:
        node = vocab.parse_plain(document)
    except ActivityPubError as exc:
        raise ParseError(f"not a readable activity: {exc}") from exc
    if node is None:
        return read_activity(await _compact_beside_loop(document))
    if not isinstance(node, vocab.Activity):
        raise ParseError(f"{document.get('type')!r} is not an activity")
    return node


async def refetch_foreign_objects(
    fed: Federation, activity: vocab.Activity, actor: str
) -> vocab.Activity:
    """An embedded object from another origin is fetched from its origin, never trusted (S-16).

    If the fetch fails the object is reduced to its id: handlers see an IRI.
    """
    obj = activity.object
    if not isinstance(obj, vocab.Node) or obj.id is None:
        return activity
    if same_origin(obj.id, actor) and _attributed_here(obj, actor):
        return activity
    try:
        fetched: Any = await fed.fetch(obj.id)
    except ActivityPubError as exc:
        log.info("dropping embedded %s from %s: refetch failed: %s", obj.id, actor, exc)
        fetched = obj.id
    return dataclasses.replace(activity, object=fetched)


def _attributed_here(obj: vocab.Node, actor: str) -> bool:
    attributed = getattr(obj, "attributed_to", None)
    if attributed is None:
        return True
    return all(same_origin(a, actor) for a in vocab.ids_of(attributed))


# -- processing (from the queue, or inline) -------------------------------------------------


async def process(fed: Federation, payload: dict[str, Any]) -> None:
    """Judge one accepted activity with what storage knows, then run bookkeeping
    and the application's handlers; an activity refused here is dropped (logged)."""
    from activitypub.federation.bookkeeping import apply

    activity = await read_queued(task_document(payload))
    recipient: str | None = payload.get("recipient")
    actor: str = payload["signer"]
    try:
        if vocab.id_of(activity.actor) != actor:  # checked on accepting; and again, cheaply
            raise UnauthorizedActivityError(f"the activity's actor is not {actor}")
        refetched = await refetch_foreign_objects(fed, activity, actor)
        if refetched is not activity:
            # blocks were checked on accepting; the fetched object may name another author
            activity = refetched
            await check_blocks(fed, activity, actor, recipient)
        await authorize(fed, activity, actor)
    except (ForbiddenError, UnauthorizedActivityError) as exc:
        log.info("inbox: dropped %s from %s: %s", activity.id, actor, exc)
        return
    ctx = InboxContext(fed, recipient, actor, activity.id, log)
    try:
        await apply(fed, ctx, activity)
    except UnauthorizedActivityError as exc:
        log.info("not applied: %s", exc)
        return
    for handler in fed.handlers_for(activity):
        await handler(ctx, activity)
