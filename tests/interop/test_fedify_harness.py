"""The Fedify harness, proved against a minimal counterpart built from our library.

The counterpart (``Counterpart`` below) is a bare aiohttp server: an actor document
built with :mod:`activitypub.vocab`, WebFinger, and an inbox that verifies draft-cavage
signatures with :mod:`activitypub.signatures.cavage` (and RFC 9421 ones with
:mod:`activitypub.signatures.rfc9421`), fetching the signer's key with a plain GET.
It does not use the federation core, so it tests the harness and the signature
modules, not the server framework.

Each scenario runs against Fedify 1.5.9 (draft-cavage only) and 2.3.6 (RFC 9421 first,
draft-cavage on a 400/401, remembered per origin).

Observed (this machine, Fedify 1.5.9 on Node 20.20 and 2.3.6 on Node 22.23):

* Fedify 1.5.9 signs its POSTs draft-cavage: ``keyId`` alice's ``#main-key``,
  ``algorithm="rsa-sha256"``, ``headers="(request-target) content-type date digest host"``
  with ``Digest: SHA-256=...``. It never sends ``Signature-Input``.
* Fedify 2.3.6 signs its first POST to an origin RFC 9421: ``Signature-Input: sig1=
  ("@method" "@target-uri" "@authority" "host" "date" "content-digest");
  alg="rsa-v1_5-sha256";keyid="...#main-key";created=...`` with ``Content-Digest:
  sha-256=:...:``. Our RFC 9421 verifier accepts it. Answered 401, it re-sends the
  same body at once, signed draft-cavage exactly as 1.5.9 does; after that success it
  starts with draft-cavage for that origin (the next activity comes cavage-signed only).
* Both send ``Content-Type: application/activity+json``, ``Accept: */*``,
  ``User-Agent: node`` (deliveries; key/actor fetches say ``Fedify/<v> (Node.js/...)``),
  and sign the body too: an LD signature (``signature``, RsaSignature2017, RSA key)
  and an FEP-8b32 ``proof`` (eddsa-jcs-2022, alice's Ed25519 key ``#key-2``/``#multikey-2``).
* Fedify's inbox answers 202 in ~10-70 ms and runs its listeners ~5-20 ms later, so
  tests wait for the event. A bad HTTP signature is refused synchronously: 401
  ``Failed to verify the request signature.``; no listener runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from fedify_peer import FedifyPeer

from activitypub import vocab
from activitypub.errors import ActivityPubError, SignatureError
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures import cavage, rfc9421

AP_JSON = "application/activity+json"
TIMEOUT = aiohttp.ClientTimeout(total=10)
#: What Fedify (1.5.9, and 2.3.6 after falling back) covers in a draft-cavage signature.
FEDIFY_CAVAGE_HEADERS = ["(request-target)", "content-type", "date", "digest", "host"]
#: What Fedify 2.3.6 covers in an RFC 9421 signature.
FEDIFY_RFC9421_COMPONENTS = [
    "@method",
    "@target-uri",
    "@authority",
    "host",
    "date",
    "content-digest",
]


@dataclass
class Received:
    """One POST our inbox saw."""

    path: str
    headers: dict[str, str]
    body: bytes
    scheme: str | None  # "rfc9421" | "cavage" | None
    status: int = 0
    verified: bool = False
    key_id: str | None = None
    key_owner: str | None = None
    covered: tuple[str, ...] = ()
    error: str | None = None
    activity: dict[str, Any] = field(default_factory=dict)

    @property
    def activity_id(self) -> str | None:
        value = self.activity.get("id")
        return value if isinstance(value, str) else None


class Counterpart:
    """Our side: one actor, ``bob``, on its own loopback port."""

    def __init__(self, username: str = "bob") -> None:
        self.username = username
        self.key = PrivateKey.generate("rsa")
        self.received: list[Received] = []
        #: How many RFC 9421-signed requests to answer 401 (to watch Fedify double-knock).
        self.refuse_rfc9421 = 0
        self._runner: web.AppRunner | None = None
        self.origin = ""

    # -- addresses -----------------------------------------------------------------------

    @property
    def actor_url(self) -> str:
        return f"{self.origin}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return f"{self.actor_url}#main-key"

    @property
    def inbox_url(self) -> str:
        return f"{self.actor_url}/inbox"

    def new_id(self, kind: str) -> str:
        return f"{self.origin}/{kind}/{uuid.uuid4()}"

    # -- server --------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(f"/users/{self.username}", self.actor)
        app.router.add_get("/.well-known/webfinger", self.webfinger)
        app.router.add_post(f"/users/{self.username}/inbox", self.inbox)
        app.router.add_post("/inbox", self.inbox)
        for name in ("outbox", "followers", "following"):
            app.router.add_get(f"/users/{self.username}/{name}", self.empty_collection)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.origin = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def person(self) -> vocab.Person:
        return vocab.Person(
            id=self.actor_url,
            preferred_username=self.username,
            name="Bob (activitypub test)",
            inbox=self.inbox_url,
            outbox=f"{self.actor_url}/outbox",
            followers=f"{self.actor_url}/followers",
            following=f"{self.actor_url}/following",
            endpoints=vocab.Endpoints(shared_inbox=f"{self.origin}/inbox"),
            public_key=vocab.CryptographicKey.from_key(
                self.key.public_key, id=self.key_id, owner=self.actor_url
            ),
        )

    async def actor(self, request: web.Request) -> web.Response:
        return web.json_response(self.person().to_json(), content_type=AP_JSON)

    async def empty_collection(self, request: web.Request) -> web.Response:
        doc = vocab.OrderedCollection(id=f"{self.origin}{request.path}", total_items=0)
        return web.json_response(doc.to_json(), content_type=AP_JSON)

    async def webfinger(self, request: web.Request) -> web.Response:
        host = self.origin.split("://", 1)[1]
        if request.query.get("resource") not in (f"acct:{self.username}@{host}", self.actor_url):
            return web.Response(status=404)
        return web.json_response(
            {
                "subject": f"acct:{self.username}@{host}",
                "aliases": [self.actor_url],
                "links": [{"rel": "self", "type": AP_JSON, "href": self.actor_url}],
            },
            content_type="application/jrd+json",
        )

    async def fetch_key(self, key_id: str) -> tuple[PublicKey, str]:
        """The key ``key_id`` names and its owner, from the owner's actor document."""
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(key_id.split("#", 1)[0], headers={"Accept": AP_JSON}) as response,
        ):
            response.raise_for_status()
            document = await response.read()
        actor = vocab.parse(document)
        assert isinstance(actor, vocab.Actor), f"{key_id} is not an actor's key"
        keys = actor.public_key if isinstance(actor.public_key, list) else [actor.public_key]
        for key in keys:
            if isinstance(key, vocab.CryptographicKey) and key.id == key_id:
                return key.to_key(), key.owner or actor.id or ""
        raise AssertionError(f"no publicKey {key_id} on {actor.id}")

    async def inbox(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        scheme = (
            "rfc9421"
            if "Signature-Input" in headers
            else "cavage"
            if "Signature" in headers
            else None
        )
        record = Received(request.path, {k.lower(): v for k, v in headers.items()}, body, scheme)
        self.received.append(record)
        with contextlib.suppress(ValueError):
            record.activity = json.loads(body)
        try:
            if scheme == "rfc9421":
                if self.refuse_rfc9421 > 0:
                    self.refuse_rfc9421 -= 1
                    raise SignatureError("refused by the test to watch Fedify double-knock")
                sig = rfc9421.select_signature(rfc9421.parse_signatures(headers))
                assert sig.keyid is not None
                key, owner = await self.fetch_key(sig.keyid)
                result = rfc9421.verify(
                    sig,
                    key,
                    method=request.method,
                    url=f"{self.origin}{request.path_qs}",
                    headers=headers,
                    body=body,
                )
                record.key_id, record.covered = result.keyid, result.components
            elif scheme == "cavage":
                params = cavage.signature_params(headers)
                key, owner = await self.fetch_key(params.key_id)
                verified = cavage.verify_request(
                    request.method, request.path_qs, headers, body, key, params=params
                )
                record.key_id, record.covered = verified.key_id, verified.headers
            else:
                raise SignatureError("unsigned request")
            if record.activity.get("actor") != owner:
                raise SignatureError(f"signed by {owner}, not by {record.activity.get('actor')}")
        except (ActivityPubError, aiohttp.ClientError, AssertionError) as error:
            record.status, record.error = 401, f"{type(error).__name__}: {error}"
            return web.Response(status=401, text=record.error)
        record.key_owner, record.verified, record.status = owner, True, 202
        return web.Response(status=202)

    # -- client --------------------------------------------------------------------------

    async def post(
        self,
        inbox_url: str,
        activity: dict[str, Any],
        *,
        key: PrivateKey | None = None,
        key_id: str | None = None,
        body_override: bytes | None = None,
        sign: bool = True,
    ) -> tuple[int, str]:
        """POST ``activity`` signed draft-cavage (as Mastodon signs); return status and text.

        ``key``/``key_id`` sign with another key; ``body_override`` sends other bytes
        than those signed (a tampered body).
        """
        body = json.dumps(activity).encode()
        headers = {"Content-Type": AP_JSON, "Accept": AP_JSON}
        if sign:
            headers |= cavage.sign_request(
                "POST", inbox_url, headers, body, key or self.key, key_id or self.key_id
            )
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(
                inbox_url,
                data=body_override if body_override is not None else body,
                headers=headers,
            ) as response,
        ):
            return response.status, await response.text()

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0
    ) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            for record in self.received:
                if predicate(record):
                    return record
            if time.monotonic() > deadline:
                seen = [
                    (r.scheme, r.status, r.activity.get("type"), r.error) for r in self.received
                ]
                raise AssertionError(f"our inbox saw no matching request; it saw {seen}")
            await asyncio.sleep(0.05)


@pytest.fixture
async def counterpart() -> AsyncIterator[Counterpart]:
    ours = Counterpart()
    await ours.start()
    try:
        yield ours
    finally:
        await ours.stop()


def _is_inbox(type_: str, activity_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e.get("event") == "inbox" and e.get("type") == type_ and e.get("id") == activity_id
    )


def _cavage_headers(record: Received) -> list[str]:
    return list(cavage.parse_signature_header(record.headers["signature"]).headers)


# -- (a) Fedify follows us; we Accept ---------------------------------------------------------


async def test_fedify_follows_us_and_takes_our_accept(
    fedify_peer: FedifyPeer, counterpart: Counterpart
) -> None:
    follow_id = await fedify_peer.follow(counterpart.actor_url)

    # follow() returns once our inbox answered 2xx, so the Follow is in already.
    follow = await counterpart.wait_for(lambda r: r.verified and r.activity_id == follow_id)
    assert follow.activity["type"] == "Follow"
    assert follow.activity["actor"] == fedify_peer.actor_url
    assert follow.activity["object"] == counterpart.actor_url
    assert follow.key_id == fedify_peer.key_id and follow.key_owner == fedify_peer.actor_url
    assert follow.headers["content-type"].startswith(AP_JSON)
    if fedify_peer.version == "1.5.9":
        assert follow.scheme == "cavage"
        assert _cavage_headers(follow) == FEDIFY_CAVAGE_HEADERS
    else:  # RFC 9421 first, and our verifier takes it: no second knock
        assert follow.scheme == "rfc9421"
        assert [c.strip('"') for c in follow.covered] == FEDIFY_RFC9421_COMPONENTS
        assert [r.activity_id for r in counterpart.received] == [follow_id]

    accept = vocab.Accept(
        id=counterpart.new_id("accepts"),
        actor=counterpart.actor_url,
        # The Follow as Mastodon embeds it: id, type, actor, object. (Embedding the
        # received one whole, LD signature and FEP-8b32 proof included, makes Fedify
        # 2.3.6 answer 400: see test_accept_embedding_fedify_follow_whole below.)
        object=vocab.Follow(
            id=follow_id, actor=fedify_peer.actor_url, object=counterpart.actor_url
        ),
        to=[fedify_peer.actor_url],
    )
    assert accept.id is not None
    status, text = await counterpart.post(fedify_peer.inbox_url, accept.to_json())
    assert status == 202, text
    event = await fedify_peer.wait_for(_is_inbox("Accept", accept.id))
    assert event["actor"] == counterpart.actor_url and event["verified"] is True
    assert event["object"] == follow_id
    following = await fedify_peer.following()
    assert {"id": counterpart.actor_url, "followId": follow_id, "state": "accepted"} in following


# -- (b) we send Fedify a Create(Note) --------------------------------------------------------


@pytest.mark.parametrize("inbox", ["personal", "shared"])
async def test_we_deliver_a_note_to_fedify(
    fedify_peer: FedifyPeer, counterpart: Counterpart, inbox: str
) -> None:
    note_id = counterpart.new_id("notes")
    create = vocab.Create(
        id=f"{note_id}/activity",
        actor=counterpart.actor_url,
        to=[fedify_peer.actor_url],
        object=vocab.Note(
            id=note_id,
            attributed_to=counterpart.actor_url,
            to=[fedify_peer.actor_url],
            content=f"<p>Hello Fedify {fedify_peer.version} ({inbox} inbox)</p>",
        ),
    )
    url = fedify_peer.inbox_url if inbox == "personal" else fedify_peer.shared_inbox_url
    status, text = await counterpart.post(url, create.to_json())
    assert status == 202, text
    event = await fedify_peer.wait_for(_is_inbox("Create", f"{note_id}/activity"))
    assert event["actor"] == counterpart.actor_url
    assert event["object"] == note_id and event["object_type"] == "Note"
    assert event["content"] == f"<p>Hello Fedify {fedify_peer.version} ({inbox} inbox)</p>"
    assert event["recipient"] == ("alice" if inbox == "personal" else None)


async def test_fedify_delivers_a_note_to_us(
    fedify_peer: FedifyPeer, counterpart: Counterpart
) -> None:
    create_id = await fedify_peer.note(counterpart.actor_url, "Hi Bob, from Fedify")
    record = await counterpart.wait_for(lambda r: r.verified and r.activity_id == create_id)
    assert record.activity["type"] == "Create"
    note = record.activity["object"]
    assert note["type"] == "Note" and note["content"] == "Hi Bob, from Fedify"
    assert counterpart.actor_url in json.dumps(record.activity.get("to"))
    # Fedify also signs the body itself; the HTTP signature is what we checked.
    assert "proof" in record.activity or "signature" in record.activity


# -- (c) bad signatures are refused -----------------------------------------------------------


@pytest.mark.parametrize("badness", ["wrong-key", "tampered-body", "unsigned"])
async def test_fedify_refuses_a_bad_signature(
    fedify_peer: FedifyPeer, counterpart: Counterpart, badness: str
) -> None:
    # Bodies without an LD signature or FEP-8b32 proof: with a valid one Fedify
    # would skip the HTTP signature check altogether.
    bad_id = counterpart.new_id("likes")
    bad = vocab.Like(id=bad_id, actor=counterpart.actor_url, object=fedify_peer.actor_url)
    rejected_before = sum(e["event"] == "rejected" for e in await fedify_peer.events())
    if badness == "wrong-key":  # signed by a key that is not bob's, under bob's keyId
        status, text = await counterpart.post(
            fedify_peer.inbox_url, bad.to_json(), key=PrivateKey.generate("rsa")
        )
    elif badness == "tampered-body":  # signed, then changed in flight (same length)
        tampered = json.dumps(bad.to_json()).replace("/likes/", "/LIKES/").encode()
        status, text = await counterpart.post(
            fedify_peer.inbox_url, bad.to_json(), body_override=tampered
        )
        bad_id = bad_id.replace("/likes/", "/LIKES/")
    else:
        status, text = await counterpart.post(fedify_peer.inbox_url, bad.to_json(), sign=False)
    assert status == 401, (status, text)

    # Fedify logged the refusal (its LogTape error, turned into an event) ...
    deadline = time.monotonic() + 5
    while True:
        events = await fedify_peer.events()
        rejected = [e for e in events if e["event"] == "rejected"]
        if len(rejected) > rejected_before or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert len(rejected) > rejected_before, fedify_peer.log_tail()
    assert rejected[-1]["message"].startswith("Failed to verify")

    # ... and no listener ran: a good activity sent after it arrives, the bad one never.
    good = vocab.Like(
        id=counterpart.new_id("likes"), actor=counterpart.actor_url, object=fedify_peer.actor_url
    )
    assert good.id is not None
    status, text = await counterpart.post(fedify_peer.inbox_url, good.to_json())
    assert status == 202, text
    await fedify_peer.wait_for(_is_inbox("Like", good.id))
    assert await fedify_peer.inbox_events(bad_id) == []


# -- (d) RFC 9421 first, draft-cavage on 401 (Fedify 2) ---------------------------------------


async def test_fedify_double_knocks(fedify_peer: FedifyPeer, counterpart: Counterpart) -> None:
    counterpart.refuse_rfc9421 = 1
    follow_id = await fedify_peer.follow(counterpart.actor_url)
    knocks = [r for r in counterpart.received if r.activity_id == follow_id]
    if fedify_peer.version == "1.5.9":
        # draft-cavage only: one request, no Signature-Input, nothing to fall back from.
        assert [(r.scheme, r.status) for r in knocks] == [("cavage", 202)]
        assert "signature-input" not in knocks[0].headers
        assert counterpart.refuse_rfc9421 == 1  # never used
        return
    # Fedify 2.3.6: first RFC 9421 (Signature-Input + Content-Digest), which we answer
    # 401; at once the same body again, signed draft-cavage, which verifies.
    assert [(r.scheme, r.status) for r in knocks] == [("rfc9421", 401), ("cavage", 202)]
    first, second = knocks
    assert {"signature-input", "signature", "content-digest"} <= set(first.headers)
    assert first.body == second.body
    assert "signature-input" not in second.headers and "digest" in second.headers
    assert _cavage_headers(second) == FEDIFY_CAVAGE_HEADERS
    assert second.verified and second.key_id == fedify_peer.key_id

    # Remembered per origin: the next delivery to us starts with draft-cavage.
    create_id = await fedify_peer.note(counterpart.actor_url, "second delivery")
    knocks = [r for r in counterpart.received if r.activity_id == create_id]
    assert [(r.scheme, r.status) for r in knocks] == [("cavage", 202)]


# -- found on the way --------------------------------------------------------------------------


async def test_accept_embedding_fedify_follow_whole(
    fedify_peer: FedifyPeer, counterpart: Counterpart, request: pytest.FixtureRequest
) -> None:
    """Accept with the Follow embedded exactly as received (LD signature, proof, contexts).

    Fedify 2.3.6's Follow carries ``@context`` [identity/v1, activitystreams, security/v1,
    data-integrity/v1, did/v1, multikey/v1, gotosocial]. ``vocab.parse(...).to_json()``
    writes the Accept's top-level ``@context`` as [activitystreams, security/v1,
    data-integrity/v2, identity/v1, data-integrity/v1, ...]: data-integrity/v1 after v2
    redefines protected terms, so the document is not valid JSON-LD (our own
    ``activitypub.jsonld.expand`` refuses it too) and Fedify 2.3.6 answers 400 "Invalid
    activity." Fedify 1.5.9's Follow and parser do not hit this.
    """
    if fedify_peer.version == "2.3.6":
        request.applymarker(
            pytest.mark.xfail(
                reason="vocab writes data-integrity/v2 before the received data-integrity/v1 "
                "in @context: 'tried to redefine a protected term' (lead's vocab bug)",
                strict=False,
            )
        )
    follow_id = await fedify_peer.follow(counterpart.actor_url)
    follow = await counterpart.wait_for(lambda r: r.verified and r.activity_id == follow_id)
    accept = vocab.Accept(
        id=counterpart.new_id("accepts"),
        actor=counterpart.actor_url,
        object=vocab.parse(follow.activity),  # as received: LD signature, proof, contexts
        to=[fedify_peer.actor_url],
    )
    status, text = await counterpart.post(fedify_peer.inbox_url, accept.to_json())
    assert status == 202, text
