"""WebFinger and NodeInfo: handle forms, self links (S-29), NodeInfo of common servers.

Served by one aiohttp server on 127.0.0.1 playing ``a.test`` and ``b.test``
(see test_client.py for the same arrangement); the policy allows only 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from activitypub.client import (
    AddressPolicy,
    AiohttpTransport,
    Client,
    NodeInfo,
    parse_handle,
    parse_nodeinfo,
    schema_link,
)
from activitypub.errors import BlockedAddressError, HttpStatusError, NodeInfoError, WebFingerError

POLICY = AddressPolicy(allowed_networks=("127.0.0.1/32",))
SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"


class LoopbackResolver(AbstractResolver):
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


class Server:
    """Serves JSON by (host, path); ``{base}`` in a document becomes ``http://HOST.test:PORT``."""

    def __init__(self) -> None:
        self.port = 0
        self.docs: dict[tuple[str, str], Any] = {}
        self.redirects: dict[tuple[str, str], str] = {}
        self.hits: list[tuple[str, str, dict[str, str]]] = []

    def base(self, host: str) -> str:
        return f"http://{host}.test:{self.port}"

    def serve_json(self, host: str, path: str, doc: Any) -> None:
        text = json.dumps(doc).replace("{a}", self.base("a")).replace("{b}", self.base("b"))
        self.docs[host, path] = text

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0].removesuffix(".test")
        self.hits.append((host, request.path_qs, dict(request.headers)))
        if (host, request.path) in self.redirects:
            raise web.HTTPFound(self.redirects[host, request.path])
        if (host, request.path) not in self.docs:
            raise web.HTTPNotFound()
        return web.Response(text=self.docs[host, request.path], content_type="application/json")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.dispatch)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    srv.port = runner.addresses[0][1]
    try:
        yield srv
    finally:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    transport = AiohttpTransport(policy=POLICY, resolver=LoopbackResolver())
    async with Client(transport, policy=POLICY, discovery_scheme="http") as c:
        yield c
    await transport.aclose()


def jrd(subject: str, href: str, type_: str = "application/activity+json") -> dict[str, Any]:
    return {
        "subject": subject,
        "aliases": [href],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": href},
            {"rel": "self", "type": type_, "href": href},
            {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": "x?uri={uri}"},
        ],
    }


# -- WebFinger --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("alice@example.com", ("alice", "example.com")),
        ("@alice@Example.COM", ("alice", "example.com")),
        ("acct:alice@example.com", ("alice", "example.com")),
        ("ACCT:alice@localhost:8080", ("alice", "localhost:8080")),
        ("  @bob.smith_2@social.example  ", ("bob.smith_2", "social.example")),
    ],
)
def test_parse_handle(handle: str, expected: tuple[str, str]) -> None:
    assert parse_handle(handle) == expected


@pytest.mark.parametrize(
    "handle",
    ["alice", "@alice", "alice@", "@@example.com", "a@b@c", "a b@c", "a@b/c", "a@b?x", "", "@"],
)
def test_parse_handle_rejects(handle: str) -> None:
    with pytest.raises(WebFingerError):
        parse_handle(handle)


@pytest.mark.parametrize("form", ["alice@{host}", "@alice@{host}", "acct:alice@{host}"])
async def test_lookup_handle_forms(server: Server, client: Client, form: str) -> None:
    server.serve_json("a", "/.well-known/webfinger", jrd("acct:alice@a.test", "{a}/users/alice"))
    host = f"a.test:{server.port}"
    assert await client.lookup(form.format(host=host)) == f"{server.base('a')}/users/alice"
    (_, path, headers), *_ = server.hits
    assert path == f"/.well-known/webfinger?resource=acct:alice@{host}"
    assert headers["Accept"] == "application/jrd+json, application/json"


async def test_lookup_ld_json_self_link_and_redirect(server: Server, client: Client) -> None:
    """A domain delegating WebFinger to another host (Mastodon's WEB_DOMAIN) is followed."""
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    server.redirects["a", "/.well-known/webfinger"] = f"{server.base('b')}/.well-known/webfinger"
    server.serve_json("b", "/.well-known/webfinger", jrd("acct:alice@a.test", "{b}/u/alice", ld))
    assert await client.lookup(f"alice@a.test:{server.port}") == f"{server.base('b')}/u/alice"


async def test_lookup_failures(server: Server, client: Client) -> None:
    no_self = jrd("acct:x@a.test", "{a}/users/x", "text/html")
    server.serve_json("a", "/.well-known/webfinger", no_self)
    with pytest.raises(WebFingerError):
        await client.lookup(f"x@a.test:{server.port}")
    server.docs["a", "/.well-known/webfinger"] = "<html>"
    with pytest.raises(WebFingerError):
        await client.lookup(f"x@a.test:{server.port}")
    with pytest.raises(HttpStatusError):
        await client.lookup(f"x@b.test:{server.port}")  # 404


@pytest.mark.parametrize(
    "href",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/users/alice",
        "http://[::1]/users/alice",
        "http://localhost/users/alice",
        "http://2130706434/users/alice",  # 127.0.0.2: only .1 is allowed here
        "file:///etc/passwd",
        "gopher://a.test/",
        "javascript:alert(1)",
        "/relative/alice",
    ],
)
async def test_s29_webfinger_self_link_checked(server: Server, client: Client, href: str) -> None:
    server.serve_json("a", "/.well-known/webfinger", jrd("acct:alice@a.test", href))
    with pytest.raises(BlockedAddressError):
        await client.lookup(f"alice@a.test:{server.port}")
    assert [p for _, p, _ in server.hits] == [
        f"/.well-known/webfinger?resource=acct:alice@a.test:{server.port}"
    ]


async def test_lookup_requires_https_actor_by_default() -> None:
    from activitypub.client import HttpResponse, MockTransport

    def handler(request: Any) -> HttpResponse:
        doc = jrd("acct:alice@a.example", "http://a.example/users/alice")
        return HttpResponse(200, {"Content-Type": "application/jrd+json"}, json.dumps(doc).encode())

    mock = MockTransport(handler)
    async with Client(mock) as c:
        with pytest.raises(WebFingerError):
            await c.lookup("alice@a.example")
    assert mock.requests[0].url.startswith("https://a.example/.well-known/webfinger?resource=")


# -- NodeInfo --------------------------------------------------------------------------------

# Shapes as these servers publish them (trimmed of usage/metadata details).
NODEINFO: dict[str, tuple[dict[str, Any], dict[str, Any], str, NodeInfo]] = {}


def _fixture(
    name: str, links: list[tuple[str, str]], path: str, doc: dict[str, Any], schema: str
) -> None:
    well_known = {"links": [{"rel": SCHEMA + v, "href": "{a}" + p} for v, p in links]}
    expected = NodeInfo(
        software=doc["software"]["name"].lower(),
        version=doc["software"]["version"],
        protocols=tuple(doc["protocols"]),
        schema=schema,
        raw=doc,
    )
    NODEINFO[name] = (well_known, {path: doc}, schema, expected)


_fixture(
    "mastodon",
    [("2.0", "/nodeinfo/2.0")],
    "/nodeinfo/2.0",
    {
        "version": "2.0",
        "software": {"name": "mastodon", "version": "4.3.2"},
        "protocols": ["activitypub"],
        "services": {"outbound": [], "inbound": []},
        "usage": {"users": {"total": 10, "activeMonth": 3, "activeHalfyear": 5}, "localPosts": 99},
        "openRegistrations": False,
        "metadata": {"nodeName": "Example", "nodeDescription": ""},
    },
    "2.0",
)
_fixture(
    "lemmy",
    [("2.1", "/nodeinfo/2.1")],
    "/nodeinfo/2.1",
    {
        "version": "2.1",
        "software": {
            "name": "lemmy",
            "version": "0.19.5",
            "repository": "https://github.com/LemmyNet/lemmy",
            "homepage": "https://join-lemmy.org/",
        },
        "protocols": ["activitypub"],
        "usage": {"users": {"total": 5}, "localPosts": 1, "localComments": 2},
        "openRegistrations": True,
        "services": {"inbound": [], "outbound": []},
        "metadata": {},
    },
    "2.1",
)
_fixture(
    "mbin",
    [("2.0", "/nodeinfo/2.0"), ("2.1", "/nodeinfo/2.1")],
    "/nodeinfo/2.1",
    {
        "version": "2.1",
        "software": {
            "name": "mbin",
            "version": "1.7.3",
            "repository": "https://github.com/MbinOrg/mbin",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "usage": {"users": {"total": 3}, "localPosts": 4, "localComments": 5},
        "openRegistrations": True,
        "metadata": {},
    },
    "2.1",
)
_fixture(
    "misskey",
    [("2.1", "/nodeinfo/2.1"), ("2.0", "/nodeinfo/2.0")],
    "/nodeinfo/2.1",
    {
        "version": "2.1",
        "software": {
            "name": "misskey",
            "version": "2024.11.0",
            "homepage": "https://misskey-hub.net/",
            "repository": "https://github.com/misskey-dev/misskey",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0", "rss2.0"]},
        "openRegistrations": True,
        "usage": {"users": {"total": 7}, "localPosts": 8},
        "metadata": {"nodeName": "Misskey", "themeColor": "#86b300"},
    },
    "2.1",
)
_fixture(
    "pleroma",
    [("2.0", "/nodeinfo/2.0.json"), ("2.1", "/nodeinfo/2.1.json")],
    "/nodeinfo/2.1.json",
    {
        "version": "2.1",
        "software": {
            "name": "pleroma",
            "version": "2.7.0",
            "repository": "https://git.pleroma.social/pleroma/pleroma",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": 1}, "localPosts": 2},
        "metadata": {"features": ["pleroma_api", "mastodon_api"], "federation": {}},
    },
    "2.1",
)
_fixture(
    "akkoma",
    [("2.0", "/nodeinfo/2.0.json"), ("2.1", "/nodeinfo/2.1.json")],
    "/nodeinfo/2.1.json",
    {
        "version": "2.1",
        "software": {"name": "Akkoma", "version": "3.13.2"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": True,
        "usage": {"users": {"total": 1}},
        "metadata": {},
    },
    "2.1",
)


@pytest.mark.parametrize("name", list(NODEINFO))
async def test_nodeinfo_of_common_servers(server: Server, client: Client, name: str) -> None:
    well_known, docs, _, expected = NODEINFO[name]
    server.serve_json("a", "/.well-known/nodeinfo", well_known)
    for path, doc in docs.items():
        server.serve_json("a", path, doc)
    for server_form in (f"a.test:{server.port}", f"{server.base('a')}/some/page?x=1"):
        info = await client.nodeinfo(server_form)
        assert info == expected
        assert info.raw == docs[next(iter(docs))]
    assert info.software == name
    assert [p for _, p, _ in server.hits][:2] == ["/.well-known/nodeinfo", next(iter(docs))]


def test_schema_link_picks_highest_2x() -> None:
    doc = {
        "links": [
            {"rel": SCHEMA + "1.0", "href": "https://x/1.0"},
            {"rel": SCHEMA + "2.1", "href": "https://x/2.1"},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": "https://x/a"},
            {"rel": SCHEMA + "2.0", "href": "https://x/2.0"},
            {"rel": SCHEMA + "2.2", "href": 7},
        ]
    }
    assert schema_link(doc) == ("2.1", "https://x/2.1")
    with pytest.raises(NodeInfoError):
        schema_link({"links": [{"rel": SCHEMA + "1.1", "href": "https://x/1.1"}]})
    with pytest.raises(NodeInfoError):
        schema_link({})


def test_parse_nodeinfo_is_tolerant_but_needs_a_name() -> None:
    info = parse_nodeinfo({"software": {"name": " GoToSocial "}, "protocols": "activitypub"})
    assert (info.software, info.version, info.protocols) == ("gotosocial", "", ())
    for bad in ({}, {"software": "x"}, {"software": {"name": ""}}, {"software": {"name": 3}}):
        with pytest.raises(NodeInfoError):
            parse_nodeinfo(bad)


HREFS: list[tuple[str, type[Exception]]] = [
    ("http://169.254.169.254/latest/meta-data/", BlockedAddressError),
    ("http://10.0.0.1/nodeinfo/2.0", BlockedAddressError),
    ("http://[::ffff:127.0.0.2]/nodeinfo/2.0", BlockedAddressError),
    ("http://0x7f.2/nodeinfo/2.0", BlockedAddressError),
    ("file:///etc/passwd", BlockedAddressError),
    ("gopher://a.test/", BlockedAddressError),
    ("{b}/nodeinfo/2.0", NodeInfoError),  # another host
]


@pytest.mark.parametrize(("href", "error"), HREFS)
async def test_s29_nodeinfo_href_checked(
    server: Server, client: Client, href: str, error: type[Exception]
) -> None:
    server.serve_json(
        "a", "/.well-known/nodeinfo", {"links": [{"rel": SCHEMA + "2.0", "href": href}]}
    )
    server.serve_json("b", "/nodeinfo/2.0", NODEINFO["mastodon"][1]["/nodeinfo/2.0"])
    with pytest.raises(error):
        await client.nodeinfo(f"a.test:{server.port}")
    assert [(h, p) for h, p, _ in server.hits] == [("a", "/.well-known/nodeinfo")]


async def test_nodeinfo_relative_href(server: Server, client: Client) -> None:
    server.serve_json(
        "a", "/.well-known/nodeinfo", {"links": [{"rel": SCHEMA + "2.0", "href": "/ni"}]}
    )
    server.serve_json("a", "/ni", {"software": {"name": "mitra", "version": "3"}, "protocols": []})
    assert (await client.nodeinfo(f"a.test:{server.port}")).software == "mitra"
