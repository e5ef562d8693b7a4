"""The bovine-herd peer against a minimal counterpart built from our library.

The counterpart ("alice") is a tiny aiohttp server on 127.0.0.1: an actor made
with ``activitypub.vocab``, WebFinger, and an inbox that verifies draft-cavage
signatures with ``activitypub.signatures.cavage``, fetching the signer's key with
a *signed* GET (bovine answers unsigned GETs of its actors with 401).

What these tests pin down about bovine-herd 0.5.19 (see README.md beside this file):

* it signs outgoing POSTs with draft-cavage, ``algorithm="rsa-sha256"``, covering
  ``(request-target) host date digest content-type``, ``Digest: sha-256=…``
  (lower-case label), ``Content-Type: application/activity+json``; its keyId is
  ``<actor>#serverKey``;
* it fetches keys with signed GETs covering ``(request-target) host date accept``,
  keyId ``http://HOST/activitypub/bovine#main-key`` (its application actor);
* its inbox answers 202 to a well-signed POST and 401 to an unsigned, wrongly
  signed or tampered one;
* RFC 9421 is accepted only over ``@method @path @authority`` (+``content-digest``):
  it does not know ``@target-uri``, our default, and rejects it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from bovine_peer import BovinePeer

from activitypub.errors import SignatureError
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures import cavage, rfc9421
from activitypub.vocab import Create, CryptographicKey, Follow, Person, Undo, parse

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
JSON_AP = "application/activity+json"
WAIT = 10.0


@dataclass
class Received:
    """One request to our side, as seen on the wire."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    verified_key_id: str | None = None
    error: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def signature(self) -> cavage.SignatureParams | None:
        try:
            return cavage.signature_params(self.headers)
        except SignatureError:
            return None


@dataclass
class Alice:
    """Our minimal actor server."""

    base: str
    key: PrivateKey
    received: list[Received] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    session: aiohttp.ClientSession | None = None
    _ids: Any = field(default_factory=itertools.count)

    @property
    def actor_id(self) -> str:
        return f"{self.base}/users/alice"

    @property
    def key_id(self) -> str:
        return f"{self.actor_id}#main-key"

    @property
    def inbox_url(self) -> str:
        return f"{self.actor_id}/inbox"

    def new_id(self, kind: str) -> str:
        return f"{self.base}/objects/{kind}-{next(self._ids)}"

    def actor_document(self) -> dict[str, Any]:
        person = Person(
            id=self.actor_id,
            preferred_username="alice",
            name="Alice",
            inbox=self.inbox_url,
            outbox=f"{self.actor_id}/outbox",
            followers=f"{self.actor_id}/followers",
            following=f"{self.actor_id}/following",
            public_key=CryptographicKey.from_key(
                self.key.public_key, id=self.key_id, owner=self.actor_id
            ),
        )
        return person.to_json()

    # -- outgoing ------------------------------------------------------------------

    async def signed_get(self, url: str) -> tuple[int, Any]:
        assert self.session is not None
        headers = {"Accept": JSON_AP}
        headers |= cavage.sign_request("GET", url, headers, None, self.key, self.key_id)
        async with self.session.get(url, headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def signed_post(
        self,
        url: str,
        activity: dict[str, Any],
        *,
        key: PrivateKey | None = None,
        scheme: str = "cavage",
        components: tuple[str, ...] | None = None,
        tamper: Callable[[bytes], bytes] | None = None,
    ) -> tuple[int, str]:
        """POST ``activity`` signed as alice (or with ``key`` under alice's keyId)."""
        assert self.session is not None
        body = json.dumps(activity).encode()
        headers = {"Content-Type": JSON_AP}
        signer = key or self.key
        if scheme == "cavage":
            headers |= cavage.sign_request("POST", url, headers, body, signer, self.key_id)
        elif scheme == "rfc9421":
            headers |= rfc9421.sign_request(
                "POST", url, headers, body, signer, self.key_id, components=components
            )
        if tamper is not None:
            body = tamper(body)
        async with self.session.post(url, data=body, headers=headers) as response:
            return response.status, await response.text()

    # -- incoming ------------------------------------------------------------------

    async def fetch_key(self, key_id: str) -> PublicKey:
        """The signer's key, from its actor, fetched with a signed GET."""
        status, document = await self.signed_get(key_id.split("#", 1)[0])
        assert status == 200, (status, document)
        keys = document.get("publicKey")
        for entry in keys if isinstance(keys, list) else [keys]:
            if isinstance(entry, dict) and entry.get("id") == key_id:
                assert entry.get("owner") == document["id"]
                return PublicKey.from_pem(entry["publicKeyPem"], id=key_id)
        raise LookupError(f"{key_id} not in its actor")

    async def handle_inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        record = Received(
            request.method, request.raw_path, {k: v for k, v in request.headers.items()}, body
        )
        self.received.append(record)
        try:
            params = cavage.signature_params(request.headers)
            key = await self.fetch_key(params.key_id)
            verified = cavage.verify_request(
                request.method, request.raw_path, request.headers, body, key, params=params
            )
            actor = json.loads(body).get("actor")
            if verified.key_id.split("#", 1)[0] != actor:
                raise PermissionError(f"key {verified.key_id} does not belong to {actor}")
        except Exception as exc:
            record.status, record.error = 401, f"{type(exc).__name__}: {exc}"
            return web.json_response({"error": record.error}, status=401)
        record.status, record.verified_key_id = 202, verified.key_id
        return web.Response(status=202)

    async def handle_get(self, request: web.Request) -> web.Response:
        record = Received(request.method, request.raw_path, dict(request.headers), b"")
        self.received.append(record)
        url = f"{self.base}{request.path}"
        if url == self.actor_id:
            document = self.actor_document()
        elif url in self.objects:
            document = self.objects[url]
        else:
            record.status = 404
            return web.json_response({"error": "not found"}, status=404)
        record.status = 200
        return web.json_response(document, content_type=JSON_AP)

    async def handle_webfinger(self, request: web.Request) -> web.Response:
        host = self.base.split("://", 1)[1]
        if request.query.get("resource") != f"acct:alice@{host}":
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(
            {
                "subject": f"acct:alice@{host}",
                "links": [{"rel": "self", "type": JSON_AP, "href": self.actor_id}],
            },
            content_type="application/jrd+json",
        )

    def inbox_posts(self, type_: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.method == "POST"
            and r.status  # verification finished
            and (type_ is None or r.json.get("type") == type_)
        ]

    async def wait_for_post(self, type_: str, timeout: float = WAIT) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.inbox_posts(type_)
            if posts:
                return posts[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"no {type_} reached alice's inbox in {timeout}s; got "
            f"{[(r.method, r.path, r.status, r.error) for r in self.received]}"
        )


@pytest.fixture
async def alice() -> AsyncIterator[Alice]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    me = Alice(f"http://127.0.0.1:{port}", PrivateKey.generate("rsa"))
    app = web.Application()
    app.router.add_get("/.well-known/webfinger", me.handle_webfinger)
    app.router.add_post("/users/alice/inbox", me.handle_inbox)
    app.router.add_get("/{tail:.*}", me.handle_get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    me.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    try:
        yield me
    finally:
        await me.session.close()
        await runner.cleanup()


def _id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else item


async def test_bovine_actor_needs_a_signed_get(bovine_peer: BovinePeer, alice: Alice) -> None:
    async with alice.session.get(  # type: ignore[union-attr]
        bovine_peer.actor_url, headers={"Accept": JSON_AP}
    ) as response:
        assert response.status == 401
    status, actor = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    assert actor["id"] == bovine_peer.actor_url
    assert actor["type"] == "Person"
    assert actor["publicKey"]["id"] == bovine_peer.actor_url + "#serverKey"
    assert actor["inbox"].startswith(bovine_peer.url + "/endpoints/")
    # bovine fetched our key to check that GET, with a signed GET of its own.
    gets = [r for r in alice.received if r.method == "GET" and r.path == "/users/alice"]
    assert gets and gets[0].signature is not None
    sig = gets[0].signature
    assert sig.key_id == f"{bovine_peer.url}/activitypub/bovine#main-key"
    assert sig.algorithm == "rsa-sha256"
    assert sig.headers == ("(request-target)", "host", "date", "accept")


async def test_bob_follows_alice_and_alice_accepts(bovine_peer: BovinePeer, alice: Alice) -> None:
    follow_id = await bovine_peer.follow(alice.actor_id)

    post = await alice.wait_for_post("Follow")
    assert post.status == 202, post.error
    assert post.verified_key_id == bovine_peer.actor_url + "#serverKey"
    follow = post.json
    assert follow["id"] == follow_id
    assert follow["actor"] == bovine_peer.actor_url
    assert follow["object"] == alice.actor_id
    # What bovine sends: draft-cavage rsa-sha256, five covered fields.
    sig = post.signature
    assert sig is not None
    assert sig.algorithm == "rsa-sha256"
    assert sig.headers == ("(request-target)", "host", "date", "digest", "content-type")
    assert post.headers["Content-Type"] == JSON_AP
    assert post.headers["Digest"].startswith("sha-256=")
    assert "Signature-Input" not in post.headers
    # Our vocabulary reads it (bovine writes single recipients as plain strings,
    # under a context naming did/v1 and multikey/v1).
    parsed = parse(post.body)
    assert isinstance(parsed, Follow)
    assert parsed.actor == bovine_peer.actor_url
    assert "https://www.w3.org/ns/did/v1" in follow["@context"]
    assert follow["to"] == alice.actor_id

    status, bob = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    accept = {
        "@context": AS_CONTEXT,
        "id": alice.new_id("accept"),
        "type": "Accept",
        "actor": alice.actor_id,
        "object": follow_id,
        "to": [bovine_peer.actor_url],
    }
    status, text = await alice.signed_post(bob["inbox"], accept)
    assert status == 202, text

    followed = await bovine_peer.wait_for(
        lambda item: _id(item) == alice.actor_id, WAIT, collection="following"
    )
    assert _id(followed) == alice.actor_id
    got = await bovine_peer.wait_for(lambda item: _id(item) == accept["id"], WAIT)
    assert got["type"] == "Accept"


async def test_alice_follows_bob_and_bob_accepts(bovine_peer: BovinePeer, alice: Alice) -> None:
    status, bob = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    follow = {
        "@context": AS_CONTEXT,
        "id": alice.new_id("follow"),
        "type": "Follow",
        "actor": alice.actor_id,
        "object": bovine_peer.actor_url,
        "to": [bovine_peer.actor_url],
    }
    status, text = await alice.signed_post(bob["inbox"], follow)
    assert status == 202, text
    await bovine_peer.wait_for(lambda item: _id(item) == follow["id"], WAIT)

    await bovine_peer.accept(follow["id"])

    post = await alice.wait_for_post("Accept")
    assert post.status == 202, post.error
    assert post.json["actor"] == bovine_peer.actor_url
    assert _id(post.json["object"]) == follow["id"]
    await bovine_peer.wait_for(
        lambda item: _id(item) == alice.actor_id, WAIT, collection="followers"
    )


async def test_alice_sends_bob_a_note(bovine_peer: BovinePeer, alice: Alice) -> None:
    status, bob = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    note_id = alice.new_id("note")
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": alice.actor_id,
        "content": "<p>Hello from activitypub</p>",
        "to": [bovine_peer.actor_url],
        "published": "2025-01-01T00:00:00Z",
    }
    alice.objects[note_id] = {"@context": AS_CONTEXT, **note}
    create = {
        "@context": AS_CONTEXT,
        "id": note_id + "/activity",
        "type": "Create",
        "actor": alice.actor_id,
        "object": note,
        "to": [bovine_peer.actor_url],
    }
    status, text = await alice.signed_post(bob["inbox"], create)
    assert status == 202, text

    got = await bovine_peer.wait_for(lambda item: _id(item) == create["id"], WAIT)
    assert got["type"] == "Create"
    obj = got["object"]
    if isinstance(obj, str):  # bovine may store the object apart
        assert obj == note_id
    else:
        assert obj["id"] == note_id
        assert obj["content"] == note["content"]


async def test_bob_sends_alice_a_note(bovine_peer: BovinePeer, alice: Alice) -> None:
    create_id = await bovine_peer.note(alice.actor_id, "Hello from bovine")
    post = await alice.wait_for_post("Create")
    assert post.status == 202, post.error
    create = post.json
    assert create["id"] == create_id
    assert create["actor"] == bovine_peer.actor_url
    assert create["object"]["type"] == "Note"
    assert create["object"]["content"] == "Hello from bovine"
    assert alice.actor_id in create["object"]["to"]
    parsed = parse(post.body)
    assert isinstance(parsed, Create)


async def test_bob_undoes_his_follow(bovine_peer: BovinePeer, alice: Alice) -> None:
    follow_id = await bovine_peer.follow(alice.actor_id)
    await alice.wait_for_post("Follow")
    undo_id = await bovine_peer.undo(follow_id)
    post = await alice.wait_for_post("Undo")
    assert post.status == 202, post.error
    assert post.json["id"] == undo_id
    # The Follow is referenced by id only, not embedded.
    assert post.json["object"] == follow_id
    assert isinstance(parse(post.body), Undo)


async def test_bovine_rejects_bad_signatures(bovine_peer: BovinePeer, alice: Alice) -> None:
    status, bob = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    inbox = bob["inbox"]

    def activity(kind: str) -> dict[str, Any]:
        return {
            "@context": AS_CONTEXT,
            "id": alice.new_id(kind),
            "type": "Like",
            "actor": alice.actor_id,
            "object": bovine_peer.actor_url,
            "to": [bovine_peer.actor_url],
        }

    bad = []
    # Unsigned.
    unsigned = activity("unsigned")
    async with alice.session.post(  # type: ignore[union-attr]
        inbox, data=json.dumps(unsigned), headers={"Content-Type": JSON_AP}
    ) as response:
        assert response.status == 401
    bad.append(unsigned["id"])
    # Signed by a key that is not alice's, under alice's keyId.
    forged = activity("forged")
    status, _ = await alice.signed_post(inbox, forged, key=PrivateKey.generate("rsa"))
    assert status == 401
    bad.append(forged["id"])
    # Body changed after signing (Digest no longer matches).
    tampered = activity("tampered")
    status, _ = await alice.signed_post(
        inbox, tampered, tamper=lambda b: b.replace(b"Like", b"Dislike")
    )
    assert status == 401
    bad.append(tampered["id"])
    # RFC 9421 over @target-uri (our default coverage): bovine cannot rebuild it.
    target_uri = activity("rfc9421-target-uri")
    status, _ = await alice.signed_post(inbox, target_uri, scheme="rfc9421")
    assert status == 401
    bad.append(target_uri["id"])

    # A good one after them, so that "not in the inbox" is not just "not yet".
    good = activity("good")
    status, text = await alice.signed_post(inbox, good)
    assert status == 202, text
    items = await bovine_peer.inbox()
    deadline = time.monotonic() + WAIT
    while good["id"] not in {_id(i) for i in items}:
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.25)
        items = await bovine_peer.inbox()
    assert not {_id(i) for i in items} & set(bad)


async def test_bovine_accepts_rfc9421_over_path_and_authority(
    bovine_peer: BovinePeer, alice: Alice
) -> None:
    status, bob = await alice.signed_get(bovine_peer.actor_url)
    assert status == 200
    like = {
        "@context": AS_CONTEXT,
        "id": alice.new_id("like"),
        "type": "Like",
        "actor": alice.actor_id,
        "object": bovine_peer.actor_url,
        "to": [bovine_peer.actor_url],
    }
    status, text = await alice.signed_post(
        bob["inbox"],
        like,
        scheme="rfc9421",
        components=("@method", "@path", "@authority", "content-digest"),
    )
    assert status == 202, text
    await bovine_peer.wait_for(lambda item: _id(item) == like["id"], WAIT)
