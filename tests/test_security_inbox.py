"""Security cases S-11 and S-16 to S-22: what a verified sender may make the inbox do.

Duplicates, embedded objects from other origins, forwarded activities,
Announce, and who may Update, Delete, Undo, Accept. Rejections assert the
exact status, that no handler ran and that nothing stored changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from security_kit import (
    ALICE,
    BOB,
    CAROL,
    L_ID,
    L_INBOX,
    OURS,
    PUBLIC,
    SHARED_INBOX,
    World,
    activity,
    assert_dropped,
    assert_rejected,
    key_of,
    make_world,
    note,
    post,
    signed_post,
    state,
)

import activitypub as ap
from activitypub.federation import Federation, drain
from activitypub.signatures import create_ld_signature, create_proof

A_HOST = "https://a.example"
B_HOST = "https://b.example"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for w in make_world():
        yield w


def accepts_sent_to(world: World, inbox_prefix: str) -> int:
    return sum(
        1
        for r in world.net.transport.requests
        if r.method == "POST" and r.url.startswith(inbox_prefix) and b'"Accept"' in (r.body or b"")
    )


async def bob_note(world: World, content: str = "real text", **options: Any) -> str:
    """A note bob really published; its id."""
    create = await world.b.publish(ap.Note(content=content), by="bob", **options)
    note_id = ap.id_of(create.object)
    assert note_id is not None
    return note_id


# -- S-11 duplicates ------------------------------------------------------------------------------


async def test_s11_identical_request_twice(world: World) -> None:
    request = await signed_post(world, ALICE, activity("Create", ALICE, note(ALICE)))
    assert (await world.ours.handle(request)).status == 202
    after_first = state(world.ours)
    assert (await world.ours.handle(request)).status == 202
    assert len(world.calls) == 1
    assert state(world.ours) == after_first
    # a Follow twice: one follower, one Accept
    follow = await signed_post(world, ALICE, activity("Follow", ALICE, L_ID))
    for _ in range(2):
        assert (await world.ours.handle(follow)).status == 202
    assert len(world.calls) == 2
    assert accepts_sent_to(world, f"{A_HOST}/") == 1


async def test_s11_same_id_to_two_inboxes(world: World) -> None:
    await world.ours.create_actor("m")
    doc = activity("Create", ALICE, note(ALICE))
    for url in (L_INBOX, f"{OURS}/users/m/inbox", L_INBOX, f"{OURS}/users/m/inbox"):
        assert (await post(world, ALICE, doc, url=url)).status == 202
    assert sorted(r or "" for r, _ in world.calls) == ["l", "m"]
    # the shared inbox is an inbox of its own, once
    for _ in range(2):
        assert (await post(world, ALICE, doc, url=SHARED_INBOX)).status == 202
    assert sorted(r or "" for r, _ in world.calls) == ["", "l", "m"]


async def _race(world: World, copies: int = 25) -> None:
    create = await signed_post(world, ALICE, activity("Create", ALICE, note(ALICE)))
    follow = await signed_post(world, ALICE, activity("Follow", ALICE, L_ID))
    responses = await asyncio.gather(
        *(world.ours.handle(create) for _ in range(copies)),
        *(world.ours.handle(follow) for _ in range(copies)),
    )
    assert {r.status for r in responses} == {202}
    kinds = sorted(type(a).__name__ for _, a in world.calls)
    assert kinds == ["Create", "Follow"], kinds
    assert accepts_sent_to(world, f"{A_HOST}/") == 1
    assert await world.ours.storage.count_followers("l") == 1


async def test_s11_concurrent_duplicates(world: World) -> None:
    await _race(world)


async def test_s11_concurrent_duplicates_sqlite(tmp_path: Path) -> None:
    async for world in make_world(storage=f"sqlite:///{tmp_path}/ours.db"):
        await _race(world)


# -- S-16 embedded objects of another origin ------------------------------------------------------


async def test_s16_embedded_foreign_object_is_not_trusted(world: World) -> None:
    note_id = await bob_note(world)
    forged = dict(note(BOB, content="forged by alice"), id=note_id)
    request = await signed_post(world, ALICE, activity("Create", ALICE, forged))
    await assert_rejected(world, request, 403)
    assert await world.ours.stored(note_id) is None


async def test_s16_same_host_object_attributed_elsewhere_is_refetched(world: World) -> None:
    # A's server embeds an object on its own host but claims bob wrote it: the
    # inline copy is not trusted; it is fetched from a.example, where it does not exist.
    forged = note(BOB, content="forged")
    forged["id"] = f"{A_HOST}/notes/7"
    request = await signed_post(world, ALICE, activity("Create", ALICE, forged))
    before = state(world.ours)
    response = await world.ours.handle(request)
    assert response.status in (202, 403)
    assert await world.ours.stored(forged["id"]) is None
    for _, act in world.calls:
        assert not isinstance(act.object, ap.Node), "the forged inline copy reached a handler"
    if response.status == 403:
        assert state(world.ours) == before


# -- S-17 forwarded activities ---------------------------------------------------------------------


def bob_create(content: str = "bob wrote this") -> dict[str, Any]:
    return activity("Create", BOB, note(BOB, content=content))


async def test_s17_forwarded_without_signature_is_refused(world: World) -> None:
    request = await signed_post(world, CAROL, bob_create())  # carol forwards bob's activity
    await assert_rejected(world, request, 401)
    assert await world.ours.stored(f"{B_HOST}/notes/1") is None


async def test_s17_forwarded_with_a_bad_ld_signature_is_refused(world: World) -> None:
    signed = create_ld_signature(bob_create(), await key_of(world, BOB), BOB + "#main-key")
    signed["object"] = dict(signed["object"], content="changed by carol")
    await assert_rejected(world, await signed_post(world, CAROL, signed), 401)
    # signed by carol's key but claiming to be bob's
    by_carol = create_ld_signature(bob_create(), await key_of(world, CAROL), BOB + "#main-key")
    await assert_rejected(world, await signed_post(world, CAROL, by_carol), 401)
    by_carol = create_ld_signature(bob_create(), await key_of(world, CAROL), CAROL + "#main-key")
    await assert_rejected(world, await signed_post(world, CAROL, by_carol), 401)
    assert await world.ours.stored(f"{B_HOST}/notes/1") is None


async def test_s17_forwarded_with_the_authors_signature_is_accepted(world: World) -> None:
    signed = create_ld_signature(bob_create(), await key_of(world, BOB), BOB + "#main-key")
    assert (await post(world, CAROL, signed)).status == 202
    stored = await world.ours.stored(f"{B_HOST}/notes/1")
    assert stored is not None and stored.data["content"] == "bob wrote this"
    # an FEP-8b32 proof by bob's Ed25519 key works the same
    ed = ap.keys.PrivateKey.from_multibase(
        (await world.b.local_actor("bob")).ed25519_private_multibase or ""
    )
    proved = create_proof(
        activity("Create", BOB, note(BOB, 2, "proved"), n=2), ed, BOB + "#ed25519-key"
    )
    assert (await post(world, CAROL, proved)).status == 202
    stored = await world.ours.stored(f"{B_HOST}/notes/2")
    assert stored is not None and stored.data["content"] == "proved"
    proved["object"] = dict(proved["object"], content="tampered")
    proved["id"] += "x"
    await assert_rejected(world, await signed_post(world, CAROL, proved), 401)


# -- S-18 Announce ---------------------------------------------------------------------------------


async def test_s18_announce_inline_object_is_refetched(world: World) -> None:
    note_id = await bob_note(world, "real text")
    fake = dict(note(BOB, content="fake text"), id=note_id)
    response = await post(world, ALICE, activity("Announce", ALICE, fake, to=[PUBLIC]))
    assert response.status == 202
    ((_, announce),) = world.calls
    assert isinstance(announce.object, ap.Note) and announce.object.content == "real text"
    stored = await world.ours.stored(note_id)
    assert stored is None or stored.data.get("content") == "real text"


async def test_s18_announce_of_unfetchable_object_carries_no_inline_copy(world: World) -> None:
    fake = dict(note(BOB, content="fake text"), id=f"{B_HOST}/notes/does-not-exist")
    response = await post(world, ALICE, activity("Announce", ALICE, fake, to=[PUBLIC]))
    assert response.status in (202, 403)
    for _, announce in world.calls:
        assert not isinstance(announce.object, ap.Node)
    assert await world.ours.stored(fake["id"]) is None


async def test_s18_announce_of_followers_only_note(world: World) -> None:
    note_id = await bob_note(world, "for followers", to=[world.b.followers("bob")], cc=[])
    leaked = dict(note(BOB, content="for followers"), id=note_id, to=[world.b.followers("bob")])
    response = await post(world, ALICE, activity("Announce", ALICE, leaked, to=[PUBLIC]))
    assert response.status in (202, 403)
    for _, announce in world.calls:
        assert not isinstance(announce.object, ap.Node), "a followers-only note was boosted"
    assert await world.ours.stored(note_id) is None


async def test_s18_announce_of_blocked_author_or_host(world: World) -> None:
    note_id = await bob_note(world)
    inline = dict(note(BOB), id=note_id)
    await world.ours.storage.put_block("l", BOB)
    # the inline copy names its author (and so does the copy fetched from b.example);
    # a bare IRI would need a fetch to learn it: that is the application's to judge
    request = await signed_post(world, ALICE, activity("Announce", ALICE, inline))
    await assert_rejected(world, request, 403)
    honest = dict(inline, attributedTo=f"{A_HOST}/users/alice")  # lies about the author
    request = await signed_post(world, ALICE, activity("Announce", ALICE, honest, n=1))
    # only the copy fetched from b.example names bob: the worker refetches, then drops it
    await assert_dropped(world, request)
    await world.ours.storage.remove_block("l", BOB)
    await world.ours.storage.block_domain("b.example")
    fetches = len(world.requests_to(B_HOST))
    for n, obj in enumerate((inline, note_id)):
        request = await signed_post(world, ALICE, activity("Announce", ALICE, obj, n=10 + n))
        await assert_rejected(world, request, 403)
        request = await signed_post(
            world, ALICE, activity("Announce", ALICE, obj, n=20 + n), url=SHARED_INBOX
        )
        await assert_rejected(world, request, 403)
    assert len(world.requests_to(B_HOST)) == fetches, "fetched from a blocked host"


# -- S-19 Update / Accept by the wrong actor -------------------------------------------------------


async def test_s19_update_of_someone_elses_actor_or_note(world: World) -> None:
    person = {"id": BOB, "type": "Person", "name": "Pwned", "inbox": BOB + "/inbox"}
    await assert_rejected(
        world, await signed_post(world, ALICE, activity("Update", ALICE, person)), 403
    )
    note_id = await bob_note(world)
    # bob's note reached us legitimately first
    assert (
        await post(world, BOB, activity("Create", BOB, dict(note(BOB), id=note_id)))
    ).status == 202
    world.calls.clear()
    forged = dict(note(BOB, content="edited by alice"), id=note_id)
    await assert_rejected(
        world, await signed_post(world, ALICE, activity("Update", ALICE, forged)), 403
    )
    stored = await world.ours.stored(note_id)
    assert stored is not None and stored.data["content"] == "hello"


async def test_s19_accept_from_someone_other_than_the_followed(world: World) -> None:
    await world.b.create_actor("locked", manually_approves_followers=True)
    locked = f"{B_HOST}/users/locked"
    follow = await world.ours.follow("l", locked)
    pending = await world.ours.storage.get_following("l", locked)
    assert pending is not None and pending.state == "pending"
    world.calls.clear()
    inner = {"id": follow.id, "type": "Follow", "actor": L_ID, "object": locked}
    # Which Follow an Accept answers is stored state: the worker judges it and
    # drops the answer (the sender got its 202 already).
    for n, obj in enumerate((inner, follow.id)):
        request = await signed_post(world, CAROL, activity("Accept", CAROL, obj, n=n))
        await assert_dropped(world, request)
    # nor by bob, on the same host as the followed actor
    request = await signed_post(world, BOB, activity("Accept", BOB, inner, n=5))
    await assert_dropped(world, request)
    # nor a Reject
    request = await signed_post(world, CAROL, activity("Reject", CAROL, inner, n=6))
    await assert_dropped(world, request)
    still = await world.ours.storage.get_following("l", locked)
    assert still is not None and still.state == "pending"
    await world.b.accept_follower("locked", L_ID)  # control: the real answer works
    accepted = await world.ours.storage.get_following("l", locked)
    assert accepted is not None and accepted.state == "accepted"


# -- S-20 remote activities on local objects -------------------------------------------------------


async def test_s20_remote_activity_cannot_touch_local_objects(world: World) -> None:
    create = await world.ours.publish(ap.Note(content="mine"), by="l")
    local_id = ap.id_of(create.object)
    assert local_id is not None
    hijack = {"id": local_id, "type": "Note", "attributedTo": ALICE, "content": "hijacked"}
    for n, kind in enumerate(("Create", "Update", "Delete")):
        obj: Any = local_id if kind == "Delete" else hijack
        request = await signed_post(world, ALICE, activity(kind, ALICE, obj, n=n))
        await assert_rejected(world, request, 403)
    stored = await world.ours.stored(local_id)
    assert stored is not None and not stored.deleted and stored.data["content"] == "mine"
    # nor our actors
    me = {"id": L_ID, "type": "Person", "name": "pwned", "inbox": L_INBOX}
    for n, kind in enumerate(("Update", "Delete")):
        request = await signed_post(world, ALICE, activity(kind, ALICE, me, n=10 + n))
        await assert_rejected(world, request, 403)
    assert (await world.ours.local_actor("l")).profile.get("name") == "L"


# -- S-21 Delete -----------------------------------------------------------------------------------


async def test_s21_delete_of_someone_elses_note(world: World) -> None:
    await world.a.create_actor("alice2")
    alice2 = f"{A_HOST}/users/alice2"
    assert (await post(world, BOB, activity("Create", BOB, note(BOB)))).status == 202
    assert (await post(world, ALICE, activity("Create", ALICE, note(ALICE)))).status == 202
    world.calls.clear()
    bobs, alices = f"{B_HOST}/notes/1", f"{A_HOST}/notes/1"
    await assert_rejected(
        world, await signed_post(world, ALICE, activity("Delete", ALICE, bobs)), 403
    )
    # same host, other author: only the stored note says whose it is, so the
    # worker judges (202, then dropped)
    request = await signed_post(world, alice2, activity("Delete", alice2, alices))
    await assert_dropped(world, request)
    request = await signed_post(
        world, alice2, activity("Delete", alice2, {"id": alices, "type": "Tombstone"}, n=2)
    )
    await assert_dropped(world, request)
    for note_id in (bobs, alices):
        stored = await world.ours.stored(note_id)
        assert stored is not None and not stored.deleted
    # the author may
    assert (await post(world, ALICE, activity("Delete", ALICE, alices, n=3))).status == 202
    stored = await world.ours.stored(alices)
    assert stored is not None and stored.deleted


async def test_s21_delete_before_create(world: World) -> None:
    note_id = f"{A_HOST}/notes/9"
    assert (await post(world, ALICE, activity("Delete", ALICE, note_id))).status == 202
    world.calls.clear()
    # the tombstone is stored state: the worker drops the late Create (after a 202)
    late = activity("Create", ALICE, note(ALICE, 9, "back from the dead"), n=9)
    await assert_dropped(world, await signed_post(world, ALICE, late))
    stored = await world.ours.stored(note_id)
    assert stored is not None and stored.deleted
    # an Update cannot revive it either
    late_update = activity("Update", ALICE, note(ALICE, 9, "back"), n=10)
    await assert_dropped(world, await signed_post(world, ALICE, late_update))


async def settle(fed: Federation) -> None:
    """Every queued inbox task done (by :func:`drain` or the background worker)."""
    for _ in range(200):
        await drain(fed)
        if await fed.queue.pending() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the inbox queue did not drain")


async def test_s21_delete_before_create_queued() -> None:
    """The same refusal through the durable queue: 202, then the worker drops it."""
    async for world in make_world(inline=False):
        note_id = f"{A_HOST}/notes/9"
        assert (await post(world, ALICE, activity("Delete", ALICE, note_id))).status == 202
        await settle(world.ours)
        assert len(world.calls) == 1
        world.calls.clear()
        late = activity("Create", ALICE, note(ALICE, 9, "back from the dead"), n=9)
        before = state(world.ours)
        assert (await post(world, ALICE, late)).status == 202
        await settle(world.ours)
        assert world.calls == [], "a handler ran for a refused activity"
        after = state(world.ours)
        before.pop("_seen"), after.pop("_seen")
        assert after == before  # dropped, not stored; and not left to retry (settled)
        stored = await world.ours.stored(note_id)
        assert stored is not None and stored.deleted


# -- S-22 Undo -------------------------------------------------------------------------------------


async def test_s22_undo_of_someone_elses_activity(world: World) -> None:
    follow = await world.b.follow("bob", L_ID)
    assert await world.ours.storage.get_follower("l", BOB) is not None
    world.calls.clear()
    inner = {"id": follow.id, "type": "Follow", "actor": BOB, "object": L_ID}
    like = {"id": f"{B_HOST}/likes/1", "type": "Like", "actor": BOB, "object": f"{A_HOST}/notes/1"}
    for n, obj in enumerate((inner, follow.id, like, like["id"])):
        request = await signed_post(world, ALICE, activity("Undo", ALICE, obj, n=n))
        await assert_rejected(world, request, 403)
    # outer actor bob, signed by alice: a signature problem
    request = await signed_post(world, ALICE, activity("Undo", BOB, inner, n=9))
    await assert_rejected(world, request, 401)
    assert await world.ours.storage.get_follower("l", BOB) is not None
    await world.b.unfollow("bob", L_ID)  # control: bob may
    assert await world.ours.storage.get_follower("l", BOB) is None
