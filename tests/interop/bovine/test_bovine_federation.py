"""Our Federation against a live bovine-herd peer (a second independent implementation).

The same scenarios as with Fedify: bovine's bob follows ours and gets our
Accept; ours follows bob and records his Accept (bovine accepts only when
told to); ours publishes the seed article to bob; bob sends a Note that our
handler sees verified; a request signed with the wrong key is refused.
bovine requires signed GETs of its actors, which our client always makes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bovine_peer import BovinePeer
from loopback import eventually, our_blog

import activitypub as ap
from activitypub.client import Signer
from activitypub.federation import Federation, InboxContext
from activitypub.keys import PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))

from seed_article import load_seed

WAIT = 15.0


@pytest.fixture
async def ours(tmp_path: Path) -> AsyncIterator[Federation]:
    async with our_blog(tmp_path / "ours.db") as fed:
        yield fed


def _id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else item


async def test_bob_follows_us_and_gets_our_accept(
    bovine_peer: BovinePeer, ours: Federation
) -> None:
    blog = ours.actor_id("blog")
    follow_id = await bovine_peer.follow(blog)

    async def followed() -> bool:
        f = await ours.storage.get_follower("blog", bovine_peer.actor_url)
        return f is not None and f.state == "accepted" and f.follow_id == follow_id

    await eventually(followed, WAIT)
    await bovine_peer.wait_for(lambda item: _id(item) == blog, WAIT, collection="following")


async def test_we_follow_bob_and_record_his_accept(
    bovine_peer: BovinePeer, ours: Federation
) -> None:
    follow = await ours.follow("blog", bovine_peer.actor_url)
    await bovine_peer.wait_for(lambda item: _id(item) == follow.id, WAIT)
    await bovine_peer.accept(follow.id or "")

    async def accepted() -> bool:
        f = await ours.storage.get_following("blog", bovine_peer.actor_url)
        return f is not None and f.state == "accepted"

    await eventually(accepted, WAIT)


async def test_we_publish_the_seed_article_to_bob(
    bovine_peer: BovinePeer, ours: Federation
) -> None:
    await bovine_peer.follow(ours.actor_id("blog"))

    async def followed() -> bool:
        return await ours.storage.count_followers("blog") == 1

    await eventually(followed, WAIT)
    seed = load_seed()
    create = await ours.publish(
        ap.Article(name=seed.title, summary=seed.summary, content=seed.html), by="blog"
    )
    item = await bovine_peer.wait_for(lambda i: _id(i) == create.id, WAIT)
    assert item["type"] == "Create"
    obj = item["object"]
    assert isinstance(obj, dict) and obj["type"] == "Article" and obj["name"] == seed.title


async def test_bob_sends_us_a_note(bovine_peer: BovinePeer, ours: Federation) -> None:
    received: list[tuple[str, ap.Create]] = []

    @ours.on(ap.Create)
    async def on_create(ctx: InboxContext, create: ap.Create) -> None:
        received.append((ctx.signer, create))

    create_id = await bovine_peer.note(ours.actor_id("blog"), "Hello from bovine")

    async def arrived() -> bool:
        return any(c.id == create_id for _, c in received)

    await eventually(arrived, WAIT)
    signer, create = next((s, c) for s, c in received if c.id == create_id)
    assert signer == bovine_peer.actor_url
    assert isinstance(create.object, ap.Note)
    assert "Hello from bovine" in (create.object.content or "")


async def test_bovine_rejects_our_bad_signature(bovine_peer: BovinePeer, ours: Federation) -> None:
    blog = ours.actor_id("blog")
    bob = await ours.lookup(bovine_peer.actor_url, by="blog")
    assert isinstance(bob, ap.Actor)
    inbox = ap.id_of(bob.inbox) or ""
    note = ap.Create(
        id=ours.new_id(),
        actor=blog,
        object=ap.Note(id=ours.new_id(), attributed_to=blog, content="forged", to=[bob.id]),
        to=[bob.id],
    )
    impostor = Signer(key=PrivateKey.generate("rsa"), key_id=ours.key_id("blog"))
    response = await ours.client.post(inbox, note.to_bytes(), signer=impostor)
    assert response.status == 401
