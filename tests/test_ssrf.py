"""SSRF: the address policy, the guarded resolver, and the addresses actually dialled.

Every connection attempt made by the event loop is recorded (``dialled``), so
"refused before any TCP connect" is asserted, not assumed. The only server
is ours, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
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
    GuardedResolver,
    HttpRequest,
    HttpxTransport,
    parse_ip_host,
)
from activitypub.errors import BlockedAddressError

# Every range the policy must refuse, one address in each (S-26).
BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.0.8",
    "198.18.0.1",
    "198.19.255.254",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "::1",
    "::",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:db8::1",
    "::7f00:1",  # IPv4-compatible (deprecated)
]
PUBLIC = ["93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4001::200e"]
# Other spellings of 127.0.0.1 and 169.254.169.254 that resolvers and browsers accept.
NUMERIC_SPELLINGS = [
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0x7F.0.0.1",
    "0177.0.0.1",
    "0177.1",
    "127.1",
    "127.0.1",
    "017700000001",
    "127.0.0.1.",
    "2852039166",
    "0xa9.0xfe.0xa9.0xfe",
    "0251.0376.0251.0376",
    "169.254.43518",
]


def _url_host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


# -- the policy ----------------------------------------------------------------------


@pytest.mark.parametrize("ip", BLOCKED)
def test_blocked_addresses(ip: str) -> None:
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_ip(ip)


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses(ip: str) -> None:
    AddressPolicy().check_ip(ip)
    AddressPolicy().check_url(f"https://{_url_host(ip)}/x")


@pytest.mark.parametrize("host", NUMERIC_SPELLINGS)
def test_numeric_spellings_are_parsed_like_resolvers(host: str) -> None:
    ip = parse_ip_host(host)
    assert ip in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("169.254.169.254"))
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_url(f"http://{host}/")


def test_numeric_parsing_agrees_with_inet_aton() -> None:
    for host in ["2130706433", "0x7f.1", "0177.0.0.1", "127.1", "1.2.3", "0x1.0x2.0x3.0x4"]:
        expected = socket.inet_ntoa(socket.inet_aton(host))
        assert str(parse_ip_host(host)) == expected


@pytest.mark.parametrize(
    "host", ["1.2.3.256", "0x100000000", "4294967296", "1.2.3.4.5", "09.1.1.1"]
)
def test_invalid_numeric_hosts_refused(host: str) -> None:
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_url(f"http://{host}/")


def test_names_are_not_ip_literals() -> None:
    assert parse_ip_host("example.com") is None
    assert parse_ip_host("1.example") is None
    AddressPolicy().check_url("https://example.com/users/a")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://LOCALHOST./",
        "http://foo.localhost/",
        "http://ⓛocalhost/",  # IDNA-maps to localhost
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",  # fullwidth digits
        "http://[::ffff:7f00:1]/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_loopback_names_and_spellings(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "data:text/plain,hi",
        "gopher://example.com/",
        "ftp://example.com/",
        "ws://example.com/",
        "javascript:alert(1)",
        "https://user:pw@example.com/",
        "https:///nohost",
        "/relative",
    ],
)
def test_schemes_and_shapes_refused(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_url(url)


def test_opt_ins() -> None:
    AddressPolicy(allow_loopback=True).check_url("http://127.0.0.1:8080/")
    AddressPolicy(allow_loopback=True).check_url("http://localhost/")
    AddressPolicy(allow_loopback=True).check_ip("::ffff:127.0.0.1")
    with pytest.raises(BlockedAddressError):
        AddressPolicy(allow_loopback=True).check_ip("10.0.0.1")
    AddressPolicy(allow_private=True).check_ip("10.0.0.1")
    AddressPolicy(allow_private=True).check_ip("fd00::1")
    with pytest.raises(BlockedAddressError):
        AddressPolicy(allow_private=True).check_ip("169.254.169.254")
    with pytest.raises(BlockedAddressError):
        AddressPolicy(allow_private=True).check_ip("127.0.0.1")
    AddressPolicy(allowed_networks=("169.254.10.0/24",)).check_ip("169.254.10.3")


# -- dialling ---------------------------------------------------------------------------


class FakeResolver(AbstractResolver):
    """Answers from a table; each name has a list of answers, used in turn."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = {k: list(v) for k, v in table.items()}
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        answers = self.table[host]
        ips = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in ips
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def dialled(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[Any]]:
    """Every address the event loop connects a socket to.

    aiohttp (through aiohappyeyeballs) and anyio's ``create_connection`` both
    end in ``loop.sock_connect``.
    """
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    sock_connect = loop.sock_connect

    async def spy(sock: socket.socket, address: Any) -> None:
        seen.append(address[0])
        await sock_connect(sock, address)

    monkeypatch.setattr(loop, "sock_connect", spy)
    yield seen


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _app(hits: list[str], *, close: bool = False) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        hits.append(request.host)
        return web.Response(text="ok", headers={"Connection": "close"} if close else None)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


def _request(url: str) -> HttpRequest:
    return HttpRequest("GET", url, {})


@pytest.mark.parametrize("ip", BLOCKED)
async def test_s26_literal_refused_before_connect(ip: str, dialled: list[Any]) -> None:
    async with Client(timeout=2) as client:
        with pytest.raises(BlockedAddressError):
            await client.get_document(f"http://{_url_host(ip)}:1/x")
    async with AiohttpTransport() as transport:  # the transport alone refuses it too
        with pytest.raises(BlockedAddressError):
            await transport.send(_request(f"http://{_url_host(ip)}:1/x"), timeout=2, max_body=10)
    assert dialled == []


@pytest.mark.parametrize("ip", BLOCKED)
async def test_s26_dns_answer_refused_before_connect(ip: str, dialled: list[Any]) -> None:
    resolver = FakeResolver({"evil.test": [[ip]]})
    async with AiohttpTransport(resolver=resolver) as transport:
        with pytest.raises(BlockedAddressError):
            await transport.send(_request("http://evil.test:1/x"), timeout=2, max_body=10)
    async with Client(AiohttpTransport(resolver=resolver)) as client:
        with pytest.raises(BlockedAddressError):
            await client.get_document("http://evil.test:1/x")
        await client.transport.aclose()
    assert resolver.calls == ["evil.test", "evil.test"]
    assert dialled == []


@pytest.mark.parametrize("host", NUMERIC_SPELLINGS)
async def test_s26_numeric_spelling_never_dialled(host: str, dialled: list[Any]) -> None:
    async with AiohttpTransport() as transport:
        with pytest.raises(BlockedAddressError):
            await transport.send(_request(f"http://{host}:1/"), timeout=2, max_body=10)
    assert dialled == []


async def test_s26_mixed_answer_refused_whole(dialled: list[Any]) -> None:
    """Public first, loopback next: the name is refused, the public address not dialled."""
    inner = FakeResolver({"mixed.test": [["93.184.215.14", "127.0.0.1"]]})
    guarded = GuardedResolver(AddressPolicy(), inner)
    with pytest.raises(BlockedAddressError):
        await guarded.resolve("mixed.test", 443)
    async with AiohttpTransport(resolver=inner) as transport:
        with pytest.raises(BlockedAddressError):
            await transport.send(_request("https://mixed.test/"), timeout=2, max_body=10)
    assert dialled == []


async def test_s26_allow_loopback_opt_in(dialled: list[Any]) -> None:
    hits: list[str] = []
    async with serve(_app(hits)) as authority:
        async with AiohttpTransport() as transport:
            with pytest.raises(BlockedAddressError):
                await transport.send(_request(f"http://{authority}/"), timeout=2, max_body=10)
        assert hits == [] and dialled == []
        policy = AddressPolicy(allow_loopback=True)
        async with AiohttpTransport(policy=policy) as transport:
            response = await transport.send(
                _request(f"http://{authority}/"), timeout=2, max_body=10
            )
        assert response.status == 200 and response.body == b"ok"
        port = authority.rsplit(":", 1)[1]
        resolver = FakeResolver({"friend.test": [["127.0.0.1"]]})
        async with AiohttpTransport(policy=policy, resolver=resolver) as transport:
            response = await transport.send(
                _request(f"http://friend.test:{port}/"), timeout=2, max_body=10
            )
        assert response.status == 200
    assert hits == [authority, f"friend.test:{port}"]
    assert dialled == ["127.0.0.1", "127.0.0.1"]


async def test_s27_dns_rebinding(dialled: list[Any]) -> None:
    """The name answers an allowed address, then a blocked one: the second is never dialled.

    127.0.0.1 stands in for "a public address" (it is the only one we may
    reach): the policy allows exactly it. The DNS cache is off so that each
    request resolves afresh, as after a short TTL.
    """
    hits: list[str] = []
    resolver = FakeResolver(
        {"rebind.test": [["127.0.0.1"], ["169.254.169.254"], ["127.0.0.2"], ["10.0.0.1"]]}
    )
    policy = AddressPolicy(allowed_networks=("127.0.0.1/32",))
    async with serve(_app(hits, close=True)) as authority:
        port = authority.rsplit(":", 1)[1]
        url = f"http://rebind.test:{port}/"
        async with AiohttpTransport(policy=policy, resolver=resolver, dns_cache_ttl=0) as t:
            assert (await t.send(_request(url), timeout=2, max_body=10)).status == 200
            for _ in range(3):
                with pytest.raises(BlockedAddressError):
                    await t.send(_request(url), timeout=2, max_body=10)
    assert len(resolver.calls) == 4
    assert dialled == ["127.0.0.1"]
    assert len(hits) == 1


async def test_s27_dialled_address_checked_even_if_resolver_is_bypassed(
    dialled: list[Any],
) -> None:
    """The socket factory refuses a blocked address whatever produced it."""
    transport = AiohttpTransport()
    with pytest.raises(BlockedAddressError):
        transport._socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80)))
    with pytest.raises(BlockedAddressError):
        transport._socket((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 80, 0, 0)))
    sock = transport._socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)))
    sock.close()
    assert dialled == []


async def test_httpx_transport_guards_too(
    dialled: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    getaddrinfo = loop.getaddrinfo

    async def fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "evil.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return await getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    hits: list[str] = []
    async with serve(_app(hits)) as authority:
        transport = HttpxTransport()
        with pytest.raises(BlockedAddressError):
            await transport.send(_request(f"http://{authority}/"), timeout=2, max_body=10)
        with pytest.raises(BlockedAddressError):
            await transport.send(_request("http://2130706433:1/"), timeout=2, max_body=10)
        port = authority.rsplit(":", 1)[1]
        with pytest.raises(BlockedAddressError):  # a name resolving to loopback
            await transport.send(_request(f"http://evil.test:{port}/"), timeout=2, max_body=10)
        await transport.aclose()
        transport = HttpxTransport(policy=AddressPolicy(allow_loopback=True))
        response = await transport.send(_request(f"http://{authority}/"), timeout=2, max_body=10)
        await transport.aclose()
    assert response.status == 200 and response.body == b"ok"
    assert hits == [authority]
    assert dialled == ["127.0.0.1"]
