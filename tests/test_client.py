"""Client: fetching documents (S-13, S-14, S-15), redirects (S-28), limits (S-30), signing.

One aiohttp server on 127.0.0.1 plays two hosts, ``a.test`` and ``b.test``
(a fake resolver maps both to 127.0.0.1; the server routes on ``Host``).
The policy allows exactly 127.0.0.1, so every other address stays blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from activitypub.client import (
    AddressPolicy,
    AiohttpTransport,
    Client,
    HttpResponse,
    HttpxTransport,
    MockTransport,
    Signer,
    Transport,
)
from activitypub.errors import (
    BlockedAddressError,
    ContentTypeError,
    FetchTimeoutError,
    GoneError,
    HttpStatusError,
    IdMismatchError,
    InvalidDocumentError,
    RedirectError,
    ResponseTooLargeError,
)
from activitypub.keys import PrivateKey
from activitypub.signatures import cavage, rfc9421

AP = "application/activity+json"
POLICY = AddressPolicy(allowed_networks=("127.0.0.1/32",))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackResolver(AbstractResolver):
    """``*.test`` names all resolve to 127.0.0.1."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        assert host.endswith(".test"), host
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


@dataclass
class Server:
    port: int
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}.test:{self.port}{path}"

    def route(self, host: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[host, path] = handler
            return handler

        return register

    def document(self, host: str, path: str, doc: dict[str, Any], ctype: str = AP) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=json.dumps(doc).encode(), headers={"Content-Type": ctype})

        self.routes[host, path] = handler

    def redirect(self, host: str, path: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status, headers={"Location": location})

        self.routes[host, path] = handler

    def paths(self, host: str | None = None) -> list[str]:
        return [p for h, p, _ in self.hits if host is None or h == host]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(0)

    async def dispatch(request: web.Request) -> web.StreamResponse:
        name = request.host.rsplit(":", 1)[0]
        host = "a" if name == "127.0.0.1" else name.removesuffix(".test")
        srv.hits.append((host, request.path_qs, dict(request.headers)))
        handler = srv.routes.get((host, request.path))
        if handler is None:
            raise web.HTTPNotFound()
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    srv.port = runner.addresses[0][1]
    try:
        yield srv
    finally:
        await runner.cleanup()


def make_transport(kind: str = "aiohttp") -> Transport:
    if kind == "httpx":  # resolves for real: address it as 127.0.0.1 (= host "a")
        return HttpxTransport(policy=POLICY)
    return AiohttpTransport(policy=POLICY, resolver=LoopbackResolver())


@contextlib.asynccontextmanager
async def client(kind: str = "aiohttp", **options: Any) -> AsyncIterator[Client]:
    transport = make_transport(kind)
    try:
        async with Client(transport, policy=POLICY, **options) as c:
            yield c
    finally:
        await transport.aclose()


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return PrivateKey.generate("rsa")


# -- documents ---------------------------------------------------------------------------


async def test_get_document(server: Server) -> None:
    doc = {"id": server.url("a", "/users/alice"), "type": "Person"}
    server.document("a", "/users/alice", doc)
    async with client() as c:
        assert await c.get_document(server.url("a", "/users/alice#main-key")) == doc
    (_, path, headers), *_ = server.hits
    assert path == "/users/alice"  # the fragment is not sent
    assert headers["Accept"].startswith("application/activity+json, application/ld+json")
    assert headers["User-Agent"].startswith("activitypub")
    assert "Signature" not in headers


async def test_s13_id_mismatch(server: Server) -> None:
    server.document("a", "/other-host", {"id": server.url("b", "/other-host")})
    server.document("a", "/no-id", {"type": "Note"})
    server.document("a", "/bad-id", {"id": 42})
    server.document("a", "/evil-scheme", {"id": server.url("a", "/x").replace("http", "https")})
    async with client() as c:
        for path in ("/other-host", "/no-id", "/bad-id", "/evil-scheme"):
            with pytest.raises(IdMismatchError):
                await c.get_document(server.url("a", path))
    assert "b" not in {h for h, _, _ in server.hits}


async def test_s13_same_origin_alias_refetched_once(server: Server) -> None:
    actor = {"id": server.url("a", "/users/alice"), "type": "Person"}
    server.document("a", "/@alice", actor)
    server.document("a", "/users/alice", actor)
    server.document("a", "/@bob", {"id": server.url("a", "/users/bob")})
    server.document("a", "/users/bob", {"id": server.url("a", "/users/robert")})
    async with client() as c:
        assert await c.get_document(server.url("a", "/@alice")) == actor
        with pytest.raises(IdMismatchError):
            await c.get_document(server.url("a", "/@bob"))
    assert server.paths() == ["/@alice", "/users/alice", "/@bob", "/users/bob"]


@pytest.mark.parametrize(
    "ctype",
    [
        "application/json",
        "text/plain",
        "image/png",
        "text/html; charset=utf-8",
        "application/ld+json",
        'application/ld+json; profile="https://example.com/profile"',
        "application/activity+json-fake",
        "",
    ],
)
async def test_s14_content_type_rejected(server: Server, ctype: str) -> None:
    server.document("a", "/note", {"id": server.url("a", "/note")}, ctype)
    async with client() as c:
        with pytest.raises(ContentTypeError):
            await c.get_document(server.url("a", "/note"))


@pytest.mark.parametrize(
    "ctype",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        "Application/Activity+JSON",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        'application/ld+json;charset=utf-8;profile="https://www.w3.org/ns/activitystreams"',
        'application/ld+json; profile="https://w3id.org/x https://www.w3.org/ns/activitystreams"',
    ],
)
async def test_s14_content_type_accepted(server: Server, ctype: str) -> None:
    doc = {"id": server.url("a", "/note"), "type": "Note"}
    server.document("a", "/note", doc, ctype)
    async with client() as c:
        assert await c.get_document(server.url("a", "/note")) == doc


@pytest.mark.parametrize(
    "body", [b"[1, 2]", b'"x"', b"{", b"\xff\xfe{}", b'{"id": NaN}', b"[" * 100_000]
)
async def test_body_must_be_a_json_object(server: Server, body: bytes) -> None:
    @server.route("a", "/x")
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": AP})

    async with client() as c:
        with pytest.raises(InvalidDocumentError):
            await c.get_document(server.url("a", "/x"))


async def test_status_errors(server: Server) -> None:
    @server.route("a", "/gone")
    async def gone(request: web.Request) -> web.Response:
        return web.Response(status=410)

    async with client() as c:
        with pytest.raises(GoneError) as gone_info:
            await c.get_document(server.url("a", "/gone"))
        with pytest.raises(HttpStatusError) as missing:
            await c.get_document(server.url("a", "/missing"))
    assert gone_info.value.status == 410
    assert missing.value.status == 404 and not isinstance(missing.value, GoneError)


async def test_s15_redirect_to_another_host_rejected(server: Server) -> None:
    server.redirect("a", "/users/alice", server.url("b", "/users/alice"))
    server.document("b", "/users/alice", {"id": server.url("a", "/users/alice")})
    server.redirect("a", "/users/carol", server.url("b", "/users/carol"))
    server.document("b", "/users/carol", {"id": server.url("b", "/users/carol")})
    async with client() as c:
        for name in ("alice", "carol"):
            with pytest.raises(RedirectError):
                await c.get_document(server.url("a", f"/users/{name}"))
    assert server.paths("b") == []  # nothing was sent to the other host


async def test_same_origin_redirect_followed_and_resigned(
    server: Server, rsa_key: PrivateKey
) -> None:
    key_id = server.url("a", "/actor#main-key")
    seen: list[str] = []

    def verified(request: web.Request) -> None:
        result = cavage.verify_request(
            request.method, request.path_qs, request.headers, None, rsa_key.public_key
        )
        seen.append(request.path_qs)
        assert result.key_id == key_id

    @server.route("a", "/old")
    async def old(request: web.Request) -> web.Response:
        verified(request)
        return web.Response(status=301, headers={"Location": "/users/alice?x=1"})

    @server.route("a", "/users/alice")
    async def new(request: web.Request) -> web.Response:
        verified(request)
        doc = {"id": server.url("a", "/users/alice?x=1")}
        return web.Response(body=json.dumps(doc).encode(), headers={"Content-Type": AP})

    async with client() as c:
        doc = await c.get_document(server.url("a", "/old"), signer=Signer(rsa_key, key_id))
    assert doc["id"].endswith("/users/alice?x=1")
    assert seen == ["/old", "/users/alice?x=1"]


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://10.0.0.1/",
        "http://localhost/",
        "http://127.0.0.2/",
        "file:///etc/passwd",
        "data:application/activity+json,{}",
        "gopher://a.test/",
        "ftp://a.test/x",
    ],
)
async def test_s28_redirect_target_blocked(server: Server, location: str) -> None:
    server.redirect("a", "/x", location)
    async with client() as c:
        with pytest.raises(BlockedAddressError):
            await c.get_document(server.url("a", "/x"))
    assert server.paths() == ["/x"]


async def test_s28_signature_not_sent_cross_host(server: Server, rsa_key: PrivateKey) -> None:
    server.redirect("a", "/go", server.url("b", "/land"))
    server.document("b", "/land", {"id": server.url("b", "/land")})
    signer = Signer(rsa_key, server.url("a", "/actor#main-key"))
    async with client() as c:
        with pytest.raises(RedirectError):  # get_document refuses the hop outright
            await c.get_document(server.url("a", "/go"), signer=signer)
        assert server.paths("b") == []
        # The general rule, for requests that may cross origins: follow unsigned.
        response, final = await c._get(
            c._check(server.url("a", "/go")),
            AP,
            signer,
            same_origin=False,
            timeout=None,
            max_body=None,
            max_redirects=None,
        )
    assert response.status == 200 and final.host == "b.test"
    (_, _, a_headers), (_, _, b_headers) = server.hits[-2:]
    assert "Signature" in a_headers
    assert "Signature" not in b_headers and "Authorization" not in b_headers


async def test_s28_redirect_chain_cap_and_loop(server: Server) -> None:
    for i in range(10):
        server.redirect("a", f"/r{i}", f"/r{i + 1}")
    server.redirect("a", "/loop-a", "/loop-b", 307)
    server.redirect("a", "/loop-b", server.url("a", "/loop-a"), 308)
    async with client(max_redirects=3) as c:
        with pytest.raises(RedirectError, match="more than 3"):
            await c.get_document(server.url("a", "/r0"))
        assert server.paths() == ["/r0", "/r1", "/r2", "/r3"]
        with pytest.raises(RedirectError, match="loop"):
            await c.get_document(server.url("a", "/loop-a"), max_redirects=10)
    assert server.paths()[4:] == ["/loop-a", "/loop-b"]


async def test_s28_scheme_changes_refused() -> None:
    def handler(request: Any) -> HttpResponse:
        if request.url == "https://a.example/x":
            return HttpResponse(302, {"Location": "http://a.example/x"})
        if request.url == "http://b.example/x":
            return HttpResponse(302, {"Location": "https://b.example/x"})
        return HttpResponse(200, {"Content-Type": AP}, b'{"id": "%s"}' % request.url.encode())

    mock = MockTransport(handler)
    async with Client(mock) as c:
        with pytest.raises(RedirectError, match="scheme"):
            await c.get_document("https://a.example/x")
        with pytest.raises(RedirectError, match="scheme"):
            await c.get_document("http://b.example/x")
    assert [r.url for r in mock.requests] == ["https://a.example/x", "http://b.example/x"]


# -- limits ----------------------------------------------------------------------------


@pytest.fixture
def hostile(server: Server) -> Server:
    @server.route("a", "/endless")
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": AP})
        await response.prepare(request)
        chunk = b"x" * 65536
        with contextlib.suppress(ConnectionError):
            for _ in range(10_000):  # 640 MiB: far past any cap, but bounded
                await response.write(chunk)
        return response

    @server.route("a", "/huge")
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": AP})
        response.content_length = 50_000_000
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await response.write(b"{")
            await asyncio.sleep(5)
        return response

    bomb = gzip.compress(b" " * 50_000_000, compresslevel=1)  # ~0.2 MB on the wire

    @server.route("a", "/bomb")
    async def gzip_bomb(request: web.Request) -> web.Response:
        headers = {"Content-Type": AP, "Content-Encoding": "gzip"}
        return web.Response(body=bomb, headers=headers)

    @server.route("a", "/drip")
    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": AP})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(5):
                await response.write(b" ")
                await asyncio.sleep(1)
        return response

    return server


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_s30_body_and_time_limits(hostile: Server, kind: str) -> None:
    def url(path: str) -> str:
        if kind == "httpx":
            return f"http://127.0.0.1:{hostile.port}{path}"
        return hostile.url("a", path)

    async with client(kind) as c:
        start = time.monotonic()
        with pytest.raises(ResponseTooLargeError):
            await c.get_document(url("/endless"))
        with pytest.raises(ResponseTooLargeError):
            await c.get_document(url("/huge"), max_body=10_000_000)
        with pytest.raises(ResponseTooLargeError):  # the cap counts decompressed bytes
            await c.get_document(url("/bomb"))
        assert time.monotonic() - start < 3
        start = time.monotonic()
        with pytest.raises(FetchTimeoutError):
            await c.get_document(url("/drip"), timeout=0.5)
        assert time.monotonic() - start < 1.5


async def test_mock_transport_enforces_caps() -> None:
    mock = MockTransport(lambda r: HttpResponse(200, {"Content-Length": "50000000"}, b"{}"))
    async with Client(mock) as c:
        with pytest.raises(ResponseTooLargeError):
            await c.get_document("https://a.example/x")


# -- signed requests ------------------------------------------------------------------------


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
async def test_signed_get_verified_cavage(server: Server, key_type: str) -> None:
    key = PrivateKey.generate(key_type)  # type: ignore[arg-type]
    key_id = server.url("a", "/actor#main-key")
    results: list[cavage.VerifiedSignature] = []

    @server.route("a", "/note")
    async def note(request: web.Request) -> web.Response:
        results.append(
            cavage.verify_request("GET", request.path_qs, request.headers, None, key.public_key)
        )
        body = json.dumps({"id": server.url("a", "/note?page=1")})
        return web.Response(text=body, headers={"Content-Type": AP})

    async with client() as c:
        await c.get_document(server.url("a", "/note?page=1"), signer=Signer(key, key_id))
    assert results[0].key_id == key_id
    signature = cavage.signature_params(server.hits[0][2])
    assert signature.headers == ("(request-target)", "host", "date", "accept")


async def test_signed_get_verified_rfc9421(server: Server, rsa_key: PrivateKey) -> None:
    key_id = server.url("a", "/actor#main-key")
    results: list[rfc9421.VerifiedSignature] = []

    @server.route("a", "/note")
    async def note(request: web.Request) -> web.Response:
        results.append(
            rfc9421.verify_request(
                rsa_key.public_key, method="GET", url=str(request.url), headers=request.headers
            )
        )
        return web.Response(text=json.dumps({"id": str(request.url)}), headers={"Content-Type": AP})

    async with client() as c:
        await c.get_document(server.url("a", "/note"), signer=Signer(rsa_key, key_id, "rfc9421"))
    assert results[0].keyid == key_id


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_signed_post_verified(server: Server, rsa_key: PrivateKey, scheme: str) -> None:
    key_id = server.url("a", "/actor#main-key")
    received: list[bytes] = []

    @server.route("b", "/inbox")
    async def inbox(request: web.Request) -> web.Response:
        body = await request.read()
        if scheme == "cavage":
            result = cavage.verify_request(
                "POST", request.path_qs, request.headers, body, rsa_key.public_key
            )
            assert "content-type" in result.headers and "digest" in result.headers
        else:
            rfc9421.verify_request(
                rsa_key.public_key,
                method="POST",
                url=str(request.url),
                headers=request.headers,
                body=body,
            )
        received.append(body)
        return web.Response(status=202)

    @server.route("b", "/moved")
    async def moved(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/inbox"})

    activity = json.dumps({"type": "Follow", "actor": server.url("a", "/actor")}).encode()
    signer = Signer(rsa_key, key_id, scheme)  # type: ignore[arg-type]
    async with client() as c:
        response = await c.post(server.url("b", "/inbox"), activity, signer=signer)
        assert response.status == 202
        redirected = await c.post(server.url("b", "/moved"), activity, signer=signer)
        assert redirected.status == 307  # deliveries follow no redirect
        with pytest.raises(BlockedAddressError):
            await c.post("http://169.254.169.254/inbox", activity, signer=signer)
    assert received == [activity]
    assert server.paths() == ["/inbox", "/moved"]
