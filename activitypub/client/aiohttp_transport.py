"""The default transport: one pooled ``aiohttp.ClientSession``.

aiohttp's client is the fastest measured here (see ``bench/bench_transport.py``).
Addresses are checked at three points, so no spelling or timing slips past
the :class:`~activitypub.client.ssrf.AddressPolicy`:

1. the URL before the request (scheme, IP literals, ``localhost``);
2. the DNS answer, by the :class:`~activitypub.client.ssrf.GuardedResolver`
   the connector resolves through (a partly private answer is refused whole);
3. the socket address actually dialled, by the connector's socket factory:
   whatever resolved it, nothing blocked is ever connected to (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiohttp
from aiohttp.abc import AbstractResolver

from activitypub.client.ssrf import AddressPolicy, GuardedResolver
from activitypub.client.transport import HttpRequest, HttpResponse, check_announced_length
from activitypub.errors import (
    BlockedAddressError,
    FetchTimeoutError,
    NetworkError,
    ResponseTooLargeError,
)

__all__ = ["AiohttpTransport"]


class AiohttpTransport:
    """Sends requests through one lazily created, reused aiohttp session.

    ``limit`` caps open connections overall, ``limit_per_host`` per host
    (0: none; delivery applies its own per-host limit). ``resolver`` is the
    DNS resolver to guard (aiohttp's default if ``None``). Cookies are never
    kept and proxy variables from the environment are ignored.
    """

    def __init__(
        self,
        *,
        policy: AddressPolicy | None = None,
        limit: int = 100,
        limit_per_host: int = 0,
        resolver: AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        dns_cache_ttl: int = 10,
        keepalive_timeout: float = 15.0,
    ) -> None:
        self.policy = policy or AddressPolicy()
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._resolver = resolver
        self._ssl: ssl.SSLContext | bool = ssl_context or True
        self._dns_cache_ttl = dns_cache_ttl
        self._keepalive = keepalive_timeout
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                resolver=GuardedResolver(self.policy, self._resolver),
                ttl_dns_cache=self._dns_cache_ttl,
                keepalive_timeout=self._keepalive,
                ssl=self._ssl,
                socket_factory=self._socket,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,
                raise_for_status=False,
            )
        return self._session

    def _socket(self, addr_info: tuple[int, int, int, str, tuple[object, ...]]) -> socket.socket:
        """The last check: the address about to be dialled, however it was found."""
        family, type_, proto, _, sockaddr = addr_info
        self.policy.check_ip(str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)

    async def send(self, request: HttpRequest, *, timeout: float, max_body: int) -> HttpResponse:
        url = self.policy.check_url(request.url)
        session = self._open()
        try:
            async with asyncio.timeout(timeout):
                response = await session.request(
                    request.method,
                    url,
                    headers=request.headers,
                    data=request.body,
                    allow_redirects=False,
                )
                try:
                    check_announced_length(response.headers, max_body)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_any():
                        size += len(chunk)
                        if size > max_body:
                            raise ResponseTooLargeError(
                                f"response body exceeds the {max_body}-byte cap"
                            )
                        chunks.append(chunk)
                except BaseException:
                    response.close()  # drop the connection: its body is unread
                    raise
                response.release()
        except TimeoutError:
            raise FetchTimeoutError(
                f"{request.method} {request.url} took longer than {timeout} s"
            ) from None
        except BlockedAddressError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"{request.method} {request.url}: {exc!r}") from exc
        return HttpResponse(response.status, response.headers, b"".join(chunks), str(response.url))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
