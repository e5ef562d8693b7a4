"""The federation core end to end, in process: discovery, follows, publishing, collections."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import activitypub as ap
from activitypub.federation import INSTANCE_ACTOR, Federation, InboxContext, Request, drain
from activitypub.testing import Network

A = "https://a.example"
B = "https://b.example"
AP_ACCEPT = {"Accept": "application/activity+json"}


@pytest.fixture
async def net() -> AsyncIterator[tuple[Network, Federation, Federation]]:
    network = Network()
    a = network.federation(A)
    b = network.federation(B)
    async with a, b:
        await a.create_actor("alice", name="Alice")
        await b.create_actor("bob", name="Bob")
        yield network, a, b


async def get(fed: Federation, path: str, headers: dict[str, str] | None = None) -> ap.Node:
    response = await fed.handle(Request.build("GET", fed.base_url + path, headers or AP_ACCEPT))
    assert response.status == 200, response.body
    return ap.parse(response.body)


async def test_actor_document(net: tuple[Network, Federation, Federation]) -> None:
    _, a, _ = net
    actor = await get(a, "/users/alice")
    assert isinstance(actor, ap.Person)
    assert actor.id == f"{A}/users/alice"
    assert actor.name == "Alice"
    assert actor.preferred_username == "alice"
    assert actor.inbox == f"{A}/users/alice/inbox"
    assert actor.endpoints is not None and actor.endpoints.shared_inbox == f"{A}/inbox"
    assert isinstance(actor.public_key, ap.CryptographicKey)
    assert actor.public_key.to_key().type == "rsa"
    assert actor.public_key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")  # SPKI
    method = actor.assertion_method[0]  # type: ignore[index]
    assert isinstance(method, ap.Multikey) and method.to_key().type == "ed25519"


async def test_content_negotiation(net: tuple[Network, Federation, Federation]) -> None:
    _, a, _ = net
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    assert isinstance(await get(a, "/users/alice", {"Accept": ld}), ap.Person)
    browser = await a.handle(Request.build("GET", f"{A}/users/alice", {"Accept": "text/html"}))
    assert browser.status == 406
    a.html_redirect = lambda iri: "https://a.example/@alice"
    browser = await a.handle(Request.build("GET", f"{A}/users/alice", {"Accept": "text/html"}))
    assert browser.status == 302 and browser.headers["Location"] == "https://a.example/@alice"


async def test_webfinger_and_discovery(net: tuple[Network, Federation, Federation]) -> None:
    _, a, b = net
    assert await b.client.lookup("alice@a.example") == f"{A}/users/alice"
    assert await b.client.lookup("@alice@a.example") == f"{A}/users/alice"
    missing = await a.handle(
        Request.build("GET", f"{A}/.well-known/webfinger?resource=acct:nobody@a.example")
    )
    assert missing.status == 404
    other_host = await a.handle(
        Request.build("GET", f"{A}/.well-known/webfinger?resource=acct:alice@b.example")
    )
    assert other_host.status == 404
    by_url = await a.handle(
        Request.build("GET", f"{A}/.well-known/webfinger?resource={A}/users/alice")
    )
    assert by_url.status == 200
    instance = await b.client.lookup("a.example@a.example")
    assert instance == f"{A}/actor"
    info = await b.client.nodeinfo(A)
    assert info.software == "activitypub-python"
    xrd = await a.handle(Request.build("GET", f"{A}/.well-known/host-meta"))
    assert b"lrdd" in xrd.body and xrd.headers["Content-Type"].startswith("application/xrd+xml")
    jrd = await a.handle(Request.build("GET", f"{A}/.well-known/host-meta.json"))
    assert b'"lrdd"' in jrd.body


async def test_nodeinfo_versions(net: tuple[Network, Federation, Federation]) -> None:
    _, a, _ = net
    for version in ("2.0", "2.1"):
        response = await a.handle(Request.build("GET", f"{A}/nodeinfo/{version}"))
        assert response.status == 200
        assert f"schema/{version}" in response.headers["Content-Type"]
    assert (await a.handle(Request.build("GET", f"{A}/nodeinfo/9.9"))).status == 404


async def test_instance_actor_is_an_application(
    net: tuple[Network, Federation, Federation],
) -> None:
    _, a, _ = net
    actor = await get(a, "/actor")
    assert isinstance(actor, ap.Application)
    assert actor.preferred_username == "a.example"
    assert (await a.local_actor(INSTANCE_ACTOR)).actor_type == "Application"


async def test_follow_accept_and_undo(net: tuple[Network, Federation, Federation]) -> None:
    _, a, b = net
    seen: list[ap.Follow] = []

    @b.on(ap.Follow)
    async def on_follow(ctx: InboxContext, follow: ap.Follow) -> None:
        assert ctx.signer == f"{A}/users/alice"
        seen.append(follow)

    await a.follow("alice", "bob@b.example")
    assert len(seen) == 1
    follower = await b.storage.get_follower("bob", f"{A}/users/alice")
    assert follower is not None and follower.state == "accepted"
    assert follower.shared_inbox == f"{A}/inbox"
    following = await a.storage.get_following("alice", f"{B}/users/bob")
    assert following is not None and following.state == "accepted"

    followers = await get(b, "/users/bob/followers")
    assert isinstance(followers, ap.OrderedCollection) and followers.total_items == 1
    page = await get(b, "/users/bob/followers?page=1")
    assert isinstance(page, ap.OrderedCollectionPage)
    assert page.ordered_items == [f"{A}/users/alice"]

    await a.unfollow("alice", f"{B}/users/bob")
    assert await b.storage.get_follower("bob", f"{A}/users/alice") is None
    assert await a.storage.get_following("alice", f"{B}/users/bob") is None


async def test_manual_approval(net: tuple[Network, Federation, Federation]) -> None:
    _, a, b = net
    await b.create_actor("carol", manually_approves_followers=True)
    await a.follow("alice", f"{B}/users/carol")
    pending = await b.storage.get_follower("carol", f"{A}/users/alice")
    assert pending is not None and pending.state == "pending"
    following = await a.storage.get_following("alice", f"{B}/users/carol")
    assert following is not None and following.state == "pending"
    assert await b.storage.count_followers("carol") == 0
    await b.accept_follower("carol", f"{A}/users/alice")
    following = await a.storage.get_following("alice", f"{B}/users/carol")
    assert following is not None and following.state == "accepted"
    assert await b.storage.count_followers("carol") == 1


async def test_manual_reject(net: tuple[Network, Federation, Federation]) -> None:
    _, a, b = net
    await b.create_actor("dave", manually_approves_followers=True)
    await a.follow("alice", f"{B}/users/dave")
    await b.reject_follower("dave", f"{A}/users/alice")
    assert await b.storage.get_follower("dave", f"{A}/users/alice") is None
    assert await a.storage.get_following("alice", f"{B}/users/dave") is None


async def test_publish_reaches_followers(net: tuple[Network, Federation, Federation]) -> None:
    _, a, b = net
    received: list[ap.Create] = []

    @a.on(ap.Create)
    async def on_create(ctx: InboxContext, create: ap.Create) -> None:
        received.append(create)

    await a.follow("alice", f"{B}/users/bob")
    article = ap.Article(name="Title", content="<p>Body</p>", summary="Sum", url=f"{B}/post/1")
    create = await b.publish(article, by="bob")
    assert len(received) == 1
    got = received[0].object
    assert isinstance(got, ap.Article)
    assert got.name == "Title" and got.attributed_to == f"{B}/users/bob"
    stored = await a.storage.get_object(got.id or "")
    assert stored is not None and stored.data["content"] == "<p>Body</p>"
    # the object and the activity are served by their ids
    served = await get(b, (got.id or "").removeprefix(B))
    assert isinstance(served, ap.Article)
    outbox = await get(b, "/users/bob/outbox?page=1")
    assert isinstance(outbox, ap.OrderedCollectionPage)
    first = outbox.ordered_items[0]  # type: ignore[index]
    assert isinstance(first, ap.Create) and first.id == create.id


async def test_outbox_paging(net: tuple[Network, Federation, Federation]) -> None:
    _, _, b = net
    for i in range(45):
        await b.publish(ap.Note(content=f"note {i}"), by="bob")
    outbox = await get(b, "/users/bob/outbox")
    assert isinstance(outbox, ap.OrderedCollection)
    assert outbox.total_items == 45
    page1 = await get(b, "/users/bob/outbox?page=1")
    assert isinstance(page1, ap.OrderedCollectionPage)
    assert len(page1.ordered_items or []) == 20 and page1.next and not page1.prev
    page3 = await get(b, "/users/bob/outbox?page=3")
    assert isinstance(page3, ap.OrderedCollectionPage)
    assert len(page3.ordered_items or []) == 5 and page3.prev and not page3.next
    newest = page1.ordered_items[0]  # type: ignore[index]
    assert isinstance(newest, ap.Create) and isinstance(newest.object, ap.Note)
    assert newest.object.content == "note 44"
    bad = await b.handle(Request.build("GET", f"{B}/users/bob/outbox?page=x", AP_ACCEPT))
    assert bad.status == 400


async def test_queued_inbox_runs_handlers_once(net: tuple[Network, Federation, Federation]) -> None:
    network, a, _ = net
    c = network.federation("https://c.example", inline=False)
    async with c:
        await c.create_actor("carl")
        calls: list[str] = []

        @c.on(ap.Follow)
        async def on_follow(ctx: InboxContext, follow: ap.Follow) -> None:
            calls.append(follow.id or "")

        await a.follow("alice", "https://c.example/users/carl")
        await drain(c)
        assert len(calls) == 1
        assert await c.storage.get_follower("carl", f"{A}/users/alice") is not None
