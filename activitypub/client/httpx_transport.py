"""A transport over ``httpx.AsyncClient``, for applications already built on httpx.

With no client given, one is made whose connections go through a guarded
network backend: the DNS answer is checked and the checked address dialled,
as :class:`~activitypub.client.AiohttpTransport` does. A client *you* pass
keeps its own network stack, so only the URL is checked (scheme, IP
literals, ``localhost``) and a name that resolves to a private address is
NOT caught: prefer the default transport where that matters. Either way the
client must not follow redirects itself (checked) and proxies from the
environment are the caller's choice. aiohttp is markedly faster (see bench/).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable

import httpcore
import httpx
from multidict import CIMultiDict, CIMultiDictProxy

from activitypub.client.ssrf import AddressPolicy
from activitypub.client.transport import HttpRequest, HttpResponse, check_announced_length
from activitypub.errors import FetchTimeoutError, NetworkError, ResponseTooLargeError

__all__ = ["HttpxTransport"]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every answer, then dials the checked address itself."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.policy.check_host(host)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:  # any blocked answer refuses the name
            self.policy.check_ip(address)
        error: Exception = httpcore.ConnectError(f"no address for {host!r}")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )


class HttpxTransport:
    """Sends requests through an ``httpx.AsyncClient`` (see the module notes on guarantees)."""

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        policy: AddressPolicy | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.policy = policy or AddressPolicy()
        self._owned = client is None
        if client is None:
            transport = _GuardedHTTPTransport(self.policy, limits or httpx.Limits())
            client = httpx.AsyncClient(transport=transport, trust_env=False)
        if client.follow_redirects:
            raise ValueError("the httpx client must not follow redirects: the Client does")
        self.client = client

    async def send(self, request: HttpRequest, *, timeout: float, max_body: int) -> HttpResponse:
        self.policy.check_url(request.url)
        try:
            async with (
                asyncio.timeout(timeout),
                self.client.stream(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    content=request.body,
                    timeout=timeout,
                ) as response,
            ):
                check_announced_length(response.headers, max_body)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_body:
                        raise ResponseTooLargeError(
                            f"response body exceeds the {max_body}-byte cap"
                        )
                    chunks.append(chunk)
        except (TimeoutError, httpx.TimeoutException):
            raise FetchTimeoutError(
                f"{request.method} {request.url} took longer than {timeout} s"
            ) from None
        except httpx.HTTPError as exc:
            raise NetworkError(f"{request.method} {request.url}: {exc!r}") from exc
        return HttpResponse(
            response.status_code,
            CIMultiDictProxy(CIMultiDict(response.headers.multi_items())),
            b"".join(chunks),
            str(response.url),
        )

    async def aclose(self) -> None:
        if self._owned:
            await self.client.aclose()
