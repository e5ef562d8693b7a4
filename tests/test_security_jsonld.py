"""Security cases S-23 to S-25: JSON-LD read differently from what was signed,
remote contexts, and canonicalisation bombs, all through the inbox.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from security_kit import (
    ALICE,
    AS,
    BOB,
    CAROL,
    L_ID,
    World,
    activity,
    assert_rejected,
    key_of,
    make_world,
    note,
    post,
    signed_post,
)

from activitypub import jsonld
from activitypub.client import HttpRequest, HttpResponse
from activitypub.keys import PrivateKey
from activitypub.signatures import (
    create_ld_signature,
    create_proof,
    verify_ld_signature,
    verify_proof,
)

A_HOST = "https://a.example"
B_HOST = "https://b.example"
C_HOST = "https://c.example"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for w in make_world():
        yield w


async def ed25519_of(world: World, actor_id: str) -> PrivateKey:
    fed = world.fed_of(actor_id)
    local = await fed.local_actor(actor_id.rsplit("/", 1)[1])
    return PrivateKey.from_multibase(local.ed25519_private_multibase or "")


def remap(doc: dict[str, Any], key: str, alias: str, raw_value: Any) -> dict[str, Any]:
    """``doc`` with ``key`` renamed ``alias`` (same meaning) and a raw ``key`` that means nothing.

    The RDF graph is unchanged, so an LD signature still verifies; a reader of
    raw keys would see ``raw_value``.
    """
    out = copy.deepcopy(doc)
    out["@context"] = [AS, {key: None, alias: {"@id": f"as:{key}", "@type": "@id"}}]
    out[alias] = out.pop(key)
    out[key] = raw_value
    return out


# -- S-23 signed JSON-LD read through another context ----------------------------------------------


async def test_s23_remapped_actor_is_read_by_meaning(world: World) -> None:
    # carol signs the request; the raw "actor" says carol, the JSON-LD meaning is bob
    follow = activity("Follow", CAROL, L_ID)
    forged = remap(follow, "actor", "by", CAROL)
    forged["by"] = BOB
    await assert_rejected(world, await signed_post(world, CAROL, forged), 401)
    assert await world.ours.storage.get_follower("l", BOB) is None
    assert await world.ours.storage.get_follower("l", CAROL) is None


async def test_s23_remapped_id_cannot_poison_dedup(world: World) -> None:
    # raw "id" on carol's host, meaning: an id on bob's host
    doc = activity("Create", CAROL, note(CAROL))
    doc["@context"] = [AS, {"id": None, "ident": "@id"}]
    doc["ident"] = f"{B_HOST}/activities/create-1"
    await assert_rejected(world, await signed_post(world, CAROL, doc), 401)
    # bob's real activity with that id is still processed
    real = activity("Create", BOB, note(BOB))
    assert (await post(world, BOB, real)).status == 202
    assert len(world.calls) == 1


async def test_s23_ld_signed_activity_with_a_remapped_object(world: World) -> None:
    original = activity("Create", ALICE, note(ALICE, content="original"))
    signed = create_ld_signature(original, await key_of(world, ALICE), ALICE + "#main-key")
    forged = remap(signed, "object", "obj", note(ALICE, content="forged"))
    alice_key = await key_of(world, ALICE)
    verify_ld_signature(forged, alice_key.public_key)  # the attack keeps the signature valid
    response = await post(world, CAROL, forged)  # forwarded by carol
    stored = await world.ours.stored(f"{A_HOST}/notes/1")
    if response.status == 202:
        assert stored is not None and stored.data["content"] == "original"
        ((_, create),) = world.calls
        assert create.object.content == "original"  # type: ignore[union-attr]
    else:
        assert response.status in (400, 401) and stored is None and not world.calls


async def test_s23_ld_signed_activity_with_a_remapped_actor(world: World) -> None:
    # alice's signed Create, re-sent by carol with the raw "actor" saying carol:
    # carol's HTTP signature must not make it carol's activity, nor alice's unverified
    original = activity("Create", ALICE, note(ALICE, content="original"))
    signed = create_ld_signature(original, await key_of(world, ALICE), ALICE + "#main-key")
    forged = remap(signed, "actor", "by", CAROL)
    response = await post(world, CAROL, forged)
    if response.status == 202:  # then only as alice's, verified by her signature
        ((_, create),) = world.calls
        assert create.actor == ALICE
        stored = await world.ours.stored(f"{A_HOST}/notes/1")
        assert stored is not None and stored.data["content"] == "original"
    else:
        assert response.status == 401 and not world.calls


async def test_s23_integrity_proof_and_a_remapped_context(world: World) -> None:
    ed = await ed25519_of(world, ALICE)
    original = activity("Create", ALICE, note(ALICE, content="original"))
    proved = create_proof(original, ed, ALICE + "#ed25519-key")
    # eddsa-jcs-2022 signs the JSON itself: a remapped copy no longer verifies
    forged = remap(proved, "object", "obj", note(ALICE, content="forged"))
    await assert_rejected(world, await signed_post(world, CAROL, forged), 401)
    # a signer that itself writes raw keys meaning something else is read by meaning
    weird = remap(original, "object", "obj", note(ALICE, 2, content="raw reading"))
    weird["obj"] = note(ALICE, 2, content="meaning")
    weird_proved = create_proof(weird, ed, ALICE + "#ed25519-key")
    verify_proof(weird_proved, ed.public_key)
    response = await post(world, CAROL, weird_proved)
    stored = await world.ours.stored(f"{A_HOST}/notes/2")
    if response.status == 202:
        assert stored is not None and stored.data["content"] == "meaning"
    else:
        assert response.status in (400, 401) and stored is None


# -- S-24 remote contexts --------------------------------------------------------------------------


async def test_s24_remote_contexts_are_never_fetched(world: World) -> None:
    hits: list[str] = []

    def record(request: HttpRequest) -> HttpResponse:
        hits.append(request.url)
        ctx = b'{"@context": {"content": "https://evil.example/ns#content"}}'
        return HttpResponse(200, {"Content-Type": "application/ld+json"}, ctx, request.url)

    for host in ("http://127.0.0.1", "https://evil.example", "http://169.254.169.254"):
        world.net.route(host, record)
    assert (await post(world, ALICE, activity("Create", ALICE, note(ALICE, 0), n=0))).status == 202
    world.calls.clear()
    sent = len(world.net.transport.requests)
    contexts: list[Any] = [
        [AS, "http://127.0.0.1/ctx"],
        [AS, "https://evil.example/ctx.jsonld"],
        [AS, "http://169.254.169.254/latest/meta-data"],
        [AS, {"@import": "https://evil.example/ctx"}],
        [AS, {"content": {"@id": "as:content", "@context": "https://evil.example/scoped"}}],
    ]
    for n, context in enumerate(contexts, start=1):
        doc = activity("Create", ALICE, note(ALICE, n), n=n)
        doc["@context"] = context
        await assert_rejected(world, await signed_post(world, ALICE, doc), 400)
    # a context inside the object
    doc = activity("Create", ALICE, note(ALICE, 9, **{"@context": "https://evil.example/c"}), n=9)
    await assert_rejected(world, await signed_post(world, ALICE, doc), 400)
    assert hits == []
    assert len(world.net.transport.requests) == sent


async def test_s24_well_known_contexts_resolve_offline(world: World) -> None:
    assert (await post(world, ALICE, activity("Create", ALICE, note(ALICE, 0), n=0))).status == 202
    sent = len(world.net.transport.requests)
    context = [
        AS,
        jsonld.SECURITY_V1,
        jsonld.DATA_INTEGRITY_V1,
        jsonld.MULTIKEY_V1,
        {"sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#"},
    ]
    doc = activity("Create", ALICE, note(ALICE, 1, content="offline"), n=1)
    doc["@context"] = context
    assert (await post(world, ALICE, doc)).status == 202
    doc = activity("Create", ALICE, note(ALICE, 2, content="offline too"), n=2)
    doc["@context"] = [AS, jsonld.DATA_INTEGRITY_V2, {"@language": "und"}]
    assert (await post(world, ALICE, doc)).status == 202
    assert len(world.net.transport.requests) == sent
    stored = await world.ours.stored(f"{A_HOST}/notes/1")
    assert stored is not None and stored.data["content"] == "offline"


# -- S-25 canonicalisation bombs -------------------------------------------------------------------


def bomb(actor: str, n: int) -> dict[str, Any]:
    """An activity whose object holds n alike blank nodes (URDNA2015 tries n! orders)."""
    host = actor.split("/users/")[0]
    if n <= 20:  # a complete graph: few nodes, exponential work
        nodes = [{"@id": f"_:b{i}", "p": [f"_:b{j}" for j in range(n) if j != i]} for i in range(n)]
    else:  # a ring: too many blank nodes to even start
        nodes = [{"@id": f"_:b{i}", "p": f"_:b{(i + 1) % n}"} for i in range(n)]
    return {
        "@context": [AS, {"p": {"@id": "https://bomb.example/p", "@type": "@id"}}],
        "id": f"{host}/activities/bomb-{n}",
        "type": "Create",
        "actor": actor,
        "object": {
            "id": f"{host}/notes/bomb-{n}",
            "type": "Note",
            "attributedTo": actor,
            "content": "boom",
            "p": nodes,
        },
        "signature": {
            "type": "RsaSignature2017",
            "creator": actor + "#main-key",
            "created": "2024-01-01T00:00:00Z",
            "signatureValue": "AAAA",
        },
    }


@pytest.mark.parametrize("size", [12, 2100])
async def test_s25_canonicalisation_bomb_in_a_forwarded_activity(world: World, size: int) -> None:
    # carol forwards an "LD-signed" activity by bob; checking bob's signature means canonicalising
    await world.ours.keys.key(BOB + "#main-key")  # bob's key is cached: only the bomb costs time
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = time.monotonic()
    await assert_rejected(world, await signed_post(world, CAROL, bomb(BOB, size)), 401)
    elapsed = time.monotonic() - start
    stop.set()
    await task
    assert elapsed < 6.0, elapsed
    # the work ran beside the event loop, not on it (signing the request takes a moment)
    assert max(gaps) < 1.0, f"the event loop was blocked for {max(gaps):.2f} s"
    # the process carries on
    ok = activity("Create", CAROL, note(CAROL, content="after the bomb"))
    assert (await post(world, CAROL, ok)).status == 202
    stored = await world.ours.stored(f"{C_HOST}/notes/1")
    assert stored is not None and stored.data["content"] == "after the bomb"
