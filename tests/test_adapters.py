"""The adapters carry requests faithfully: limits, headers, paths, mounting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from activitypub.federation import Federation
from activitypub.server import aiohttp_app, asgi_app

AP = {"Accept": "application/activity+json"}


@pytest.fixture
async def fed() -> AsyncIterator[Federation]:
    federation = Federation("http://testserver", storage="memory://", inline=True, max_body=1000)
    async with federation:
        await federation.create_actor("alice")
        yield federation


async def test_aiohttp_serves_and_limits(fed: Federation) -> None:
    async with TestClient(TestServer(aiohttp_app(fed))) as client:
        actor = await client.get("/users/alice", headers=AP)
        assert actor.status == 200
        assert (await actor.json(content_type=None))["id"] == "http://testserver/users/alice"
        big = await client.post(
            "/inbox", data=b"x" * 5000, headers={"Content-Type": "application/activity+json"}
        )
        assert big.status == 413
        chunked = await client.post(
            "/inbox",
            data=_chunks(b"x" * 5000),
            headers={"Content-Type": "application/activity+json"},
        )
        assert chunked.status == 413
        unsigned = await client.post(
            "/inbox",
            data=b'{"id":"http://x/1","type":"Like","actor":"http://x/a"}',
            headers={"Content-Type": "application/activity+json"},
        )
        assert unsigned.status == 401


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 500):
        yield data[i : i + 500]


async def test_asgi_serves_and_limits(fed: Federation) -> None:
    transport = httpx.ASGITransport(app=asgi_app(fed))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        actor = await client.get("/users/alice", headers=AP)
        assert actor.status_code == 200
        assert actor.json()["inbox"] == "http://testserver/users/alice/inbox"
        webfinger = await client.get(
            "/.well-known/webfinger", params={"resource": "acct:alice@testserver"}
        )
        assert webfinger.status_code == 200
        big = await client.post(
            "/inbox", content=b"x" * 5000, headers={"Content-Type": "application/activity+json"}
        )
        assert big.status_code == 413
        wrong_type = await client.post(
            "/inbox", content=b"{}", headers={"Content-Type": "text/plain"}
        )
        assert wrong_type.status_code == 415


async def test_asgi_mounted_in_starlette(fed: Federation) -> None:
    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse("the application's own page")

    app = Starlette(routes=[Route("/", home), Mount("/", app=asgi_app(fed))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/")).text == "the application's own page"
        actor = await client.get("/users/alice", headers=AP)
        assert actor.status_code == 200
        assert actor.json()["id"] == "http://testserver/users/alice"
        nodeinfo = await client.get("/.well-known/nodeinfo")
        assert nodeinfo.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://a/inbox",
        "http://a:80/x/y?q=1#f",
        "http://a",
        "http://a?x=/y",
        "http://a#/y",
        "https://a/b#c?d",
        "/relative",
        "http://a/p%20q",
        "http://a/in\tbox",
        " http://a/x ",
        "http://a/\u00e9t\u00e9",
    ],
)
def test_request_path_is_what_urlsplit_reads(url: str) -> None:
    from urllib.parse import urlsplit

    from activitypub.federation import Request

    assert Request.build("GET", url).path == (urlsplit(url).path or "/")
