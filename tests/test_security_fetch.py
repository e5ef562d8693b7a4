"""Security case S-36: authorized fetch, followers-only objects and follow approval."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from security_kit import (
    ALICE,
    AP_ACCEPT,
    BOB,
    L_ID,
    OURS,
    World,
    key_of,
    make_world,
    state,
)

import activitypub as ap
from activitypub.federation import INSTANCE_ACTOR, Request, Response
from activitypub.signatures import cavage

A_HOST = "https://a.example"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for w in make_world(authorized_fetch=True):
        yield w


async def signed_get(world: World, signer: str, url: str) -> Response:
    """GET ``url`` from our server, signed with ``signer``'s key (an actor id)."""
    key = await key_of(world, signer)
    headers = dict(AP_ACCEPT)
    headers.update(cavage.sign_request("GET", url, headers, None, key, signer + "#main-key"))
    return await world.ours.handle(Request.build("GET", url, headers))


async def unsigned_get(world: World, url: str) -> Response:
    return await world.ours.handle(Request.build("GET", url, AP_ACCEPT))


async def followers_only(world: World, ident: str, content: str) -> str:
    create = await world.ours.publish(
        ap.Note(content=content), by=ident, to=[world.ours.followers(ident)], cc=[]
    )
    note_id = ap.id_of(create.object)
    assert note_id is not None
    return note_id


async def test_s36_followers_only_object(world: World) -> None:
    note_id = await followers_only(world, "l", "for followers")
    before = state(world.ours)
    assert (await unsigned_get(world, note_id)).status == 401
    assert (await signed_get(world, ALICE, note_id)).status == 404  # not a follower
    a_instance = world.a.actor_id(INSTANCE_ACTOR)
    assert (await signed_get(world, a_instance, note_id)).status == 404
    assert state(world.ours) == before
    # once alice follows, her signed fetch gets it; bob's still does not
    await world.a.follow("alice", L_ID)
    response = await signed_get(world, ALICE, note_id)
    assert response.status == 200 and b"for followers" in response.body
    assert (await signed_get(world, BOB, note_id)).status == 404
    # a blocked domain gets nothing, follower or not
    await world.ours.storage.block_domain("a.example")
    assert (await signed_get(world, ALICE, note_id)).status == 403


async def test_s36_pending_follower_sees_nothing(world: World) -> None:
    await world.ours.create_actor("locked", manually_approves_followers=True)
    locked = world.ours.actor_id("locked")
    await world.a.follow("alice", locked)
    follower = await world.ours.storage.get_follower("locked", ALICE)
    assert follower is not None and follower.state == "pending"
    following = await world.a.storage.get_following("alice", locked)
    assert following is not None and following.state == "pending"  # no Accept was sent
    note_id = await followers_only(world, "locked", "approved eyes only")
    assert (await signed_get(world, ALICE, note_id)).status == 404
    await world.ours.accept_follower("locked", ALICE)
    following = await world.a.storage.get_following("alice", locked)
    assert following is not None and following.state == "accepted"
    assert (await signed_get(world, ALICE, note_id)).status == 200


async def test_s36_everything_but_the_instance_actor_needs_a_signature(world: World) -> None:
    public = await world.ours.publish(ap.Note(content="public", to=[ap.PUBLIC]), by="l")
    public_id = ap.id_of(public.object) or ""
    for url in (L_ID, public_id, f"{OURS}/users/l/outbox", f"{OURS}/users/l/followers"):
        assert (await unsigned_get(world, url)).status == 401, url
        assert (await signed_get(world, ALICE, url)).status == 200, url
    instance = world.ours.actor_id(INSTANCE_ACTOR)
    response = await unsigned_get(world, instance)
    assert response.status == 200
    assert isinstance(ap.parse(response.body), ap.Application)
    # a remote server can still fetch our actors: it signs with its instance actor,
    # whose key it fetches from us unsigned
    actor = await world.b.fetch(L_ID)
    assert isinstance(actor, ap.Person) and actor.id == L_ID


async def test_s36_followers_only_delivery_goes_to_approved_followers_only(world: World) -> None:
    await world.ours.create_actor("locked", manually_approves_followers=True)
    await world.a.follow("alice", world.ours.actor_id("locked"))  # stays pending
    await world.b.follow("bob", world.ours.actor_id("locked"))
    await world.ours.accept_follower("locked", BOB)
    sent = len(world.net.transport.requests)
    await followers_only(world, "locked", "approved only")
    posts = [r.url for r in world.net.transport.requests[sent:] if r.method == "POST"]
    assert posts and all(url.startswith("https://b.example/") for url in posts), posts
    assert not any(url.startswith(A_HOST) for url in posts)
