"""Publishing: store an object or activity in the outbox and send it to its audience.

Recipients come from ``to``/``cc``/``bto``/``bcc``/``audience``: our followers
collection expands to the followers' inboxes (a shared inbox once per
server), other actors (IRIs or ``user@host``) resolve to their inboxes, and
the public address is never a target. ``bto``/``bcc`` are removed before
sending. Sending here is direct and concurrent; the durable queue with
retries is the delivery layer's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from activitypub import vocab
from activitypub.errors import ActivityPubError
from activitypub.storage import StoredObject

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["publish", "recipients"]

log = logging.getLogger("activitypub.publish")
_CONCURRENCY = 16


async def publish(
    fed: Federation,
    obj: vocab.Object | vocab.Activity,
    *,
    by: str,
    to: list[str] | None = None,
    cc: list[str] | None = None,
) -> vocab.Activity:
    await fed.local_actor(by)
    activity = _as_activity(fed, obj, by, to, cc)
    await _store(fed, activity, by)
    inboxes = await recipients(fed, activity, by)
    wire = dataclasses.replace(activity, bto=None, bcc=None)
    semaphore = asyncio.Semaphore(_CONCURRENCY)

    async def send(inbox: str) -> None:
        async with semaphore:
            try:
                status = await fed.send(wire, inbox, by=by)
                log.info("delivered %s to %s: %s", activity.id, inbox, status)
            except ActivityPubError as exc:
                log.warning("delivery of %s to %s failed: %s", activity.id, inbox, exc)

    await asyncio.gather(*(send(inbox) for inbox in inboxes))
    return activity


def _as_activity(
    fed: Federation,
    obj: vocab.Object | vocab.Activity,
    by: str,
    to: Any,
    cc: Any,
) -> vocab.Activity:
    actor_id = fed.actor_id(by)
    now = datetime.now(UTC).replace(microsecond=0)
    if isinstance(obj, vocab.Activity):
        return dataclasses.replace(
            obj,
            id=obj.id or fed.new_id(),
            actor=obj.actor or actor_id,
            to=to if to is not None else obj.to,
            cc=cc if cc is not None else obj.cc,
            published=obj.published or now,
        )
    to = to if to is not None else (obj.to or [vocab.PUBLIC])
    cc = cc if cc is not None else (obj.cc or [fed.followers(by)])
    obj = dataclasses.replace(
        obj,
        id=obj.id or fed.new_id(),
        attributed_to=obj.attributed_to or actor_id,
        published=obj.published or now,
        to=to,
        cc=cc,
    )
    return vocab.Create(
        id=fed.new_id(),
        actor=actor_id,
        object=obj,
        published=obj.published,
        to=to,
        cc=cc,
    )


async def _store(fed: Federation, activity: vocab.Activity, by: str) -> None:
    now = time.time()
    targets: list[vocab.Node] = [activity]
    if isinstance(activity.object, vocab.Object) and fed.is_local(activity.object.id or ""):
        targets.append(activity.object)
    visibility = _visibility(fed, activity, by)
    for node in targets:
        data: dict[str, Any] = node.to_json()
        await fed.storage.put_object(
            StoredObject(
                id=node.id or "",
                type=str(data.get("type")),
                data=data,
                local=by,
                attributed_to=fed.actor_id(by),
                visibility=visibility,
                published=now,
            )
        )
    await fed.storage.add_to_collection(by, "outbox", activity.id or "", added_at=now)


def _visibility(fed: Federation, activity: vocab.Activity, by: str) -> Any:
    if vocab.is_public(activity.to):
        return "public"
    if vocab.is_public(activity.cc):
        return "unlisted"
    audience = vocab.ids_of(activity.to) + vocab.ids_of(activity.cc)
    return "followers" if fed.followers(by) in audience else "direct"


async def recipients(fed: Federation, activity: vocab.Activity, by: str) -> list[str]:
    """The distinct inboxes ``activity`` goes to (shared inboxes collapse followers)."""
    addressed: list[str] = []
    for field in ("to", "cc", "bto", "bcc", "audience"):
        addressed += vocab.ids_of(getattr(activity, field, None))
    inboxes: dict[str, None] = {}
    for iri in dict.fromkeys(addressed):
        if vocab.is_public(iri):
            continue
        if iri == fed.followers(by):
            offset = 0
            while batch := await fed.storage.list_followers(by, offset=offset, limit=500):
                for follower in batch:
                    inboxes[follower.shared_inbox or follower.inbox] = None
                offset += len(batch)
            continue
        if fed.is_local(iri):
            continue
        try:
            actor_id = (
                iri if iri.startswith(("https://", "http://")) else await fed.client.lookup(iri)
            )
            actor = await fed.keys.actor(actor_id)
        except ActivityPubError as exc:
            log.warning("cannot deliver to %s: %s", iri, exc)
            continue
        endpoints = actor.get("endpoints")
        shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
        inbox = shared if isinstance(shared, str) else actor.get("inbox")
        if isinstance(inbox, str):
            inboxes[inbox] = None
    return list(inboxes)
