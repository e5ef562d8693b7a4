"""The example instance: actor, WebFinger, the seed article published once, HTML home."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import activitypub as ap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

from blog import ARTICLE_PATH, make_app, make_federation, setup_blog
from seed_article import load_seed

AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[object, object]]:
    fed = make_federation("http://blog.test", tmp_path / "blog.db")
    async with TestClient(TestServer(make_app(fed))) as c:
        yield c


async def test_actor_is_a_person_with_a_usable_key(client: TestClient[object, object]) -> None:
    resp = await client.get("/users/blog", headers=AP)
    assert resp.status == 200
    assert resp.content_type == "application/activity+json"
    actor = ap.parse(await resp.read())
    assert isinstance(actor, ap.Person)
    assert actor.id == "http://blog.test/users/blog"
    assert actor.name == "Example blog"
    assert isinstance(actor.public_key, ap.CryptographicKey)
    assert actor.public_key.to_key().type == "rsa"


async def test_browser_gets_the_article_page(client: TestClient[object, object]) -> None:
    resp = await client.get("/users/blog", headers={"Accept": "text/html"}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "http://blog.test/"
    home = await client.get("/")
    assert home.content_type == "text/html"
    assert load_seed().title in await home.text()


async def test_webfinger(client: TestClient[object, object]) -> None:
    resp = await client.get("/.well-known/webfinger", params={"resource": "acct:blog@blog.test"})
    jrd = await resp.json(content_type=None)
    assert {
        "rel": "self",
        "type": "application/activity+json",
        "href": "http://blog.test/users/blog",
        "properties": {"https://www.w3.org/ns/activitystreams#type": "Person"},
    } in jrd["links"]
    missing = await client.get("/.well-known/webfinger", params={"resource": "acct:x@blog.test"})
    assert missing.status == 404


async def test_outbox_holds_the_seed_article(client: TestClient[object, object]) -> None:
    outbox = ap.parse(await (await client.get("/users/blog/outbox?page=1", headers=AP)).read())
    assert isinstance(outbox, ap.OrderedCollectionPage)
    create = outbox.ordered_items[0]  # type: ignore[index]
    assert isinstance(create, ap.Create)
    article = create.object
    assert isinstance(article, ap.Article)
    seed = load_seed()
    assert article.name == seed.title
    assert article.summary == seed.summary
    assert "All magazines" not in (article.content or "")  # the site navigation is dropped
    assert seed.paragraphs[-1][:40] in (article.content or "")
    served = ap.parse(await (await client.get(ARTICLE_PATH, headers=AP)).read())
    assert isinstance(served, ap.Article) and served.id == article.id


async def test_publishes_once_and_persists(tmp_path: Path) -> None:
    db = tmp_path / "blog.db"
    for expected_new in (True, False):
        fed = make_federation("http://blog.test", db)
        async with fed:
            created = await setup_blog(fed)
            assert (created is not None) is expected_new
            assert await fed.storage.count_collection("blog", "outbox") == 1
