"""The example instance serves its actor, WebFinger, outbox and the seed article."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import activitypub as ap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from blog import Blog, load_or_create_key, make_app
from seed_article import load_seed

AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[object, object]]:
    key = load_or_create_key(tmp_path / "blog.pem")
    assert load_or_create_key(tmp_path / "blog.pem").public_key == key.public_key  # persisted
    blog = Blog("http://blog.test", key)
    async with TestClient(TestServer(make_app(blog))) as c:
        yield c


async def test_actor_is_a_person_with_a_usable_key(client: TestClient[object, object]) -> None:
    resp = await client.get("/users/blog", headers=AP)
    assert resp.status == 200
    assert resp.content_type == "application/activity+json"
    actor = ap.parse(await resp.read())
    assert isinstance(actor, ap.Person)
    assert actor.id == "http://blog.test/users/blog"
    assert isinstance(actor.public_key, ap.CryptographicKey)
    assert actor.public_key.to_key().type == "rsa"


async def test_browser_gets_html(client: TestClient[object, object]) -> None:
    resp = await client.get("/users/blog", headers={"Accept": "text/html"})
    assert resp.content_type == "text/html"
    assert load_seed().title in await resp.text()


async def test_webfinger(client: TestClient[object, object]) -> None:
    resp = await client.get("/.well-known/webfinger", params={"resource": "acct:blog@blog.test"})
    jrd = await resp.json()
    assert {
        "rel": "self",
        "type": "application/activity+json",
        "href": "http://blog.test/users/blog",
    } in jrd["links"]
    missing = await client.get("/.well-known/webfinger", params={"resource": "acct:x@blog.test"})
    assert missing.status == 404


async def test_outbox_holds_the_seed_article(client: TestClient[object, object]) -> None:
    outbox = ap.parse(await (await client.get("/users/blog/outbox", headers=AP)).read())
    assert isinstance(outbox, ap.OrderedCollection)
    create = outbox.ordered_items[0]  # type: ignore[index]
    assert isinstance(create, ap.Create)
    article = create.object
    assert isinstance(article, ap.Article)
    seed = load_seed()
    assert article.name == seed.title
    assert article.summary == seed.summary
    assert "All magazines" not in (article.content or "")  # the site navigation is dropped
    assert seed.paragraphs[-1][:40] in (article.content or "")
