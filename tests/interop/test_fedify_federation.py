"""Our Federation against live Fedify peers (1.5.9: draft-cavage; 2.3.6: RFC 9421 first).

The scenarios of the federation-core issue: Fedify's actor follows ours and
receives our Accept; ours follows Fedify's and records its Accept; ours
publishes the seed article and Fedify records a verified Create(Article);
Fedify sends a Note and our handler sees it, verified; a request we sign
badly on purpose is rejected.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fedify_peer import FedifyPeer
from loopback import eventually, our_blog

import activitypub as ap
from activitypub.client import Signer
from activitypub.federation import Federation, InboxContext
from activitypub.keys import PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from seed_article import load_seed


@pytest.fixture
async def ours(tmp_path: Path) -> AsyncIterator[Federation]:
    async with our_blog(tmp_path / "ours.db") as fed:
        yield fed


def _inbox(kind: str, **match: Any) -> Any:
    def predicate(event: dict[str, Any]) -> bool:
        return (
            event.get("event") == "inbox"
            and event.get("type") == kind
            and all(event.get(k) == v for k, v in match.items())
        )

    return predicate


async def test_fedify_follows_us_and_gets_our_accept(
    fedify_peer: FedifyPeer, ours: Federation
) -> None:
    blog = ours.actor_id("blog")
    seen: list[ap.Follow] = []

    @ours.on(ap.Follow)
    async def on_follow(ctx: InboxContext, follow: ap.Follow) -> None:
        assert ctx.signer == fedify_peer.actor_url
        seen.append(follow)

    follow_id = await fedify_peer.follow(blog)

    async def followed() -> bool:
        f = await ours.storage.get_follower("blog", fedify_peer.actor_url)
        return f is not None and f.state == "accepted" and bool(seen)

    await eventually(followed)
    assert seen[0].id == follow_id
    event = await fedify_peer.wait_for(_inbox("Accept", actor=blog))
    assert event["verified"] is True


async def test_we_follow_fedify_and_record_its_accept(
    fedify_peer: FedifyPeer, ours: Federation
) -> None:
    await ours.follow("blog", fedify_peer.actor_url)

    async def accepted() -> bool:
        f = await ours.storage.get_following("blog", fedify_peer.actor_url)
        return f is not None and f.state == "accepted"

    await eventually(accepted)
    await fedify_peer.wait_for(_inbox("Follow", actor=ours.actor_id("blog")))


async def test_we_publish_the_seed_article(fedify_peer: FedifyPeer, ours: Federation) -> None:
    await fedify_peer.follow(ours.actor_id("blog"))

    async def followed() -> bool:
        return await ours.storage.count_followers("blog") == 1

    await eventually(followed)
    seed = load_seed()
    article = ap.Article(name=seed.title, summary=seed.summary, content=seed.html)
    create = await ours.publish(article, by="blog")
    event = await fedify_peer.wait_for(_inbox("Create", id=create.id))
    assert event["verified"] is True
    assert event["object_type"] == "Article"
    assert event["actor"] == ours.actor_id("blog")


async def test_fedify_sends_us_a_note(fedify_peer: FedifyPeer, ours: Federation) -> None:
    received: list[tuple[str, ap.Create]] = []

    @ours.on(ap.Create)
    async def on_create(ctx: InboxContext, create: ap.Create) -> None:
        received.append((ctx.signer, create))

    create_id = await fedify_peer.note(ours.actor_id("blog"), "Hello from Fedify")

    async def arrived() -> bool:
        return any(c.id == create_id for _, c in received)

    await eventually(arrived)
    signer, create = next((s, c) for s, c in received if c.id == create_id)
    assert signer == fedify_peer.actor_url
    assert isinstance(create.object, ap.Note)
    assert "Hello from Fedify" in (create.object.content or "")


async def test_fedify_rejects_our_bad_signature(fedify_peer: FedifyPeer, ours: Federation) -> None:
    blog = ours.actor_id("blog")
    like = ap.Like(id=ours.new_id(), actor=blog, object=fedify_peer.actor_url)
    # Signed by a key that is not the one blog's actor document lists.
    impostor = Signer(key=PrivateKey.generate("rsa"), key_id=ours.key_id("blog"))
    response = await ours.client.post(fedify_peer.inbox_url, like.to_bytes(), signer=impostor)
    assert response.status == 401
    good = ap.Like(id=ours.new_id(), actor=blog, object=fedify_peer.actor_url)
    assert await ours.send(good, fedify_peer.inbox_url, by="blog") in (200, 202)
    await fedify_peer.wait_for(_inbox("Like", id=good.id))
    assert not await fedify_peer.inbox_events(like.id or "")
