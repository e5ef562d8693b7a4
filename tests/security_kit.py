"""Shared set-up for the receiving-side security tests (tests/test_security_*.py).

One local server ``https://our.example`` (local actor ``l``) and three remote
servers on the same in-process :class:`~activitypub.testing.Network`:
``a.example`` (``alice``), ``b.example`` (``bob``), ``c.example`` (``carol``).
Hostile requests are built by hand: signed with a remote actor's real key,
then handed to ``ours.handle``. A spy registered for every activity records
handler calls, and :func:`state` snapshots what storage holds so a rejection
test can assert that nothing changed.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import activitypub as ap
from activitypub.client import HttpRequest, HttpResponse
from activitypub.federation import Federation, InboxContext, Request, Response
from activitypub.keys import PrivateKey
from activitypub.signatures import cavage, rfc9421
from activitypub.storage.memory import MemoryStorage
from activitypub.testing import Network

OURS = "https://our.example"
A = "https://a.example"
B = "https://b.example"
C = "https://c.example"
L_ID = f"{OURS}/users/l"
L_INBOX = f"{OURS}/users/l/inbox"
SHARED_INBOX = f"{OURS}/inbox"
ALICE = f"{A}/users/alice"
BOB = f"{B}/users/bob"
CAROL = f"{C}/users/carol"
AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
JSON_HEADERS = {"Content-Type": "application/activity+json"}
AP_ACCEPT = {"Accept": "application/activity+json"}


@dataclass
class World:
    net: Network
    ours: Federation
    a: Federation
    b: Federation
    c: Federation
    calls: list[tuple[str | None, ap.Activity]] = field(default_factory=list)

    def fed_of(self, actor_id: str) -> Federation:
        for fed in (self.a, self.b, self.c, self.ours):
            if actor_id.startswith(fed.base_url + "/"):
                return fed
        raise LookupError(actor_id)

    def requests_to(self, base_url: str) -> list[HttpRequest]:
        return [r for r in self.net.transport.requests if r.url.startswith(base_url + "/")]


_KEY_POOL: dict[str, list[PrivateKey]] = {}


@contextlib.contextmanager
def _pooled_keys() -> Iterator[None]:
    """Actor keys from a pool shared by all worlds, distinct within one world.

    RSA generation dominates set-up time; reusing keys across (independent)
    worlds keeps the suite fast without two actors of one world sharing a key.
    """
    real = PrivateKey.generate
    used: dict[str, int] = {}

    def generate(type: Any = "rsa", id: str | None = None) -> PrivateKey:
        keys = _KEY_POOL.setdefault(type, [])
        index = used[type] = used.get(type, -1) + 1
        while len(keys) <= index:
            keys.append(real(type))
        return keys[index] if id is None else PrivateKey(keys[index].crypto_key, id=id)

    with mock.patch.object(PrivateKey, "generate", generate):
        yield


async def make_world(**options: Any) -> AsyncIterator[World]:
    """The four servers, started, with their actors; ``options`` configure ours."""
    net = Network()
    ours = net.federation(OURS, **options)
    a, b, c = net.federation(A), net.federation(B), net.federation(C)
    async with contextlib.AsyncExitStack() as stack:
        with _pooled_keys():
            for fed in (ours, a, b, c):
                await stack.enter_async_context(fed)
            await ours.create_actor("l", name="L")
            await a.create_actor("alice")
            await b.create_actor("bob")
            await c.create_actor("carol")
        world = World(net, ours, a, b, c)

        @ours.on(ap.Activity)
        async def spy(ctx: InboxContext, activity: ap.Activity) -> None:
            world.calls.append((ctx.recipient, activity))

        yield world


def state(fed: Federation) -> dict[str, Any]:
    """Everything stored that a received activity could change (the key cache excluded)."""
    storage = fed.storage
    assert isinstance(storage, MemoryStorage)
    return copy.deepcopy(
        {
            name: getattr(storage, name)
            for name in (
                "_actors",
                "_followers",
                "_following",
                "_objects",
                "_collections",
                "_seen",
                "_blocks",
                "_domain_blocks",
            )
        }
    )


def body_of(doc: dict[str, Any] | bytes) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


def sign_with(
    key: PrivateKey,
    key_id: str,
    doc: dict[str, Any] | bytes,
    url: str = L_INBOX,
    *,
    scheme: str = "cavage",
    method: str = "POST",
    extra_headers: dict[str, str] | None = None,
    **sign_options: Any,
) -> Request:
    """A request carrying ``doc``, signed with ``key`` under ``key_id`` (cavage or rfc9421)."""
    body = body_of(doc)
    headers = {**JSON_HEADERS, **(extra_headers or {})}
    if scheme == "cavage":
        headers.update(cavage.sign_request(method, url, headers, body, key, key_id, **sign_options))
    else:
        headers.update(
            rfc9421.sign_request(method, url, headers, body, key, key_id, **sign_options)
        )
    return Request.build("POST", url, headers, body)


async def key_of(world: World, actor_id: str) -> PrivateKey:
    fed = world.fed_of(actor_id)
    ident = fed.local_identifier(actor_id)
    assert ident is not None, actor_id
    return fed.private_key(await fed.local_actor(ident))


async def signed_post(
    world: World,
    signer: str,
    doc: dict[str, Any] | bytes,
    url: str = L_INBOX,
    *,
    key_id: str | None = None,
    **options: Any,
) -> Request:
    """A POST of ``doc`` to ``url``, signed with ``signer``'s real key (an actor id)."""
    kid = key_id or f"{signer}#main-key"
    return sign_with(await key_of(world, signer), kid, doc, url, **options)


async def post(world: World, signer: str, doc: dict[str, Any] | bytes, **kw: Any) -> Response:
    return await world.ours.handle(await signed_post(world, signer, doc, **kw))


async def assert_rejected(
    world: World,
    request: Request | Callable[[], Any],
    status: int,
) -> Response:
    """Send ``request``: the exact ``status``, no handler ran, nothing stored changed."""
    before = state(world.ours)
    calls = len(world.calls)
    response = await world.ours.handle(request) if isinstance(request, Request) else await request()
    assert response.status == status, (response.status, response.body)
    assert len(world.calls) == calls, "a handler ran for a rejected activity"
    assert state(world.ours) == before, "stored state changed for a rejected activity"
    return response


async def assert_dropped(world: World, request: Request | Callable[[], Any]) -> Response:
    """Send ``request``: a refusal the inbox worker makes (it needs stored state or a
    fetch). The sender gets 202 (as from Mastodon), no handler ran and nothing stored
    changed but the dedup record, which only the activity's own origin could write."""
    before = state(world.ours)
    calls = len(world.calls)
    response = await world.ours.handle(request) if isinstance(request, Request) else await request()
    assert response.status == 202, (response.status, response.body)
    assert len(world.calls) == calls, "a handler ran for a refused activity"
    after = state(world.ours)
    seen_before, seen_after = before.pop("_seen"), after.pop("_seen")
    assert after == before, "stored state changed for a refused activity"
    assert len(seen_after) - len(seen_before) in (0, 1), "more than its dedup record was kept"
    return response


def note(author: str, n: int | str = 1, content: str = "hello", **extra: Any) -> dict[str, Any]:
    host = author.split("/users/")[0]
    return {
        "id": f"{host}/notes/{n}",
        "type": "Note",
        "attributedTo": author,
        "content": content,
        "to": [PUBLIC],
        **extra,
    }


def activity(kind: str, actor: str, obj: Any, n: int | str = 1, **extra: Any) -> dict[str, Any]:
    host = actor.split("/users/")[0]
    return {
        "@context": AS,
        "id": f"{host}/activities/{kind.lower()}-{n}",
        "type": kind,
        "actor": actor,
        "object": obj,
        **extra,
    }


def json_response(doc: dict[str, Any], url: str, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/activity+json"}, body_of(doc), url)


def not_found(url: str) -> HttpResponse:
    return HttpResponse(404, {"Content-Type": "application/json"}, b'{"error":"not found"}', url)


async def follow_l(world: World, fed: Federation, ident: str) -> None:
    """``ident`` on ``fed`` follows our ``l`` (accepted at once)."""
    await fed.follow(ident, L_ID)
    follower = await world.ours.storage.get_follower("l", fed.actor_id(ident))
    assert follower is not None and follower.state == "accepted"
    world.calls.clear()
