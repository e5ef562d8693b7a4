"""One HTTP exchange, behind a small interface the client and the delivery queue share.

A :class:`Transport` sends exactly one request and never follows redirects:
the :class:`~activitypub.client.Client` follows them itself so that every hop
is checked against the address policy and signed (or not) on its own. Every
transport enforces two limits, since remote servers are untrusted:

* ``max_body``: the body is read up to that many bytes; a longer one, or a
  ``Content-Length`` announcing one, raises ``ResponseTooLargeError``;
* ``timeout``: one overall deadline for connect, headers and body, so a
  server dripping one byte a second cannot hold a worker (``FetchTimeoutError``).

:class:`MockTransport` answers from a function, for tests.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from multidict import CIMultiDict, CIMultiDictProxy

from activitypub.errors import ResponseTooLargeError

__all__ = ["HttpRequest", "HttpResponse", "MockTransport", "Transport"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A request as it goes on the wire: absolute URL, final headers (signature included)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


def _ci(headers: Mapping[str, str]) -> CIMultiDictProxy[str]:
    if isinstance(headers, CIMultiDictProxy):
        return headers
    if isinstance(headers, CIMultiDict):
        return CIMultiDictProxy(headers)
    return CIMultiDictProxy(CIMultiDict(headers))


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response read in full (within ``max_body``).

    ``headers`` is case-insensitive and keeps repeated fields (any mapping
    given is converted). ``url`` is the URL that answered.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _ci(self.headers))

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, ``""`` when absent."""
        return self.headers.get("Content-Type", "")


class Transport(Protocol):
    """Sends one request; follows no redirect; enforces ``timeout`` and ``max_body``."""

    async def send(self, request: HttpRequest, *, timeout: float, max_body: int) -> HttpResponse:
        """Raise ``FetchError`` subclasses: ``BlockedAddressError``, ``NetworkError``,
        ``FetchTimeoutError``, ``ResponseTooLargeError``."""
        ...

    async def aclose(self) -> None: ...


def check_announced_length(headers: Mapping[str, str], max_body: int) -> None:
    """Refuse a body before reading it when ``Content-Length`` announces too much."""
    value = headers.get("Content-Length")
    if value is not None and value.strip().isdigit() and int(value) > max_body:
        raise ResponseTooLargeError(f"Content-Length {int(value)} exceeds the {max_body}-byte cap")


Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


class MockTransport:
    """Answers every request with ``handler(request)`` (sync or async), like httpx's.

    Enforces ``max_body`` on what the handler returns, so limit tests can
    run without a server; ``requests`` records what was sent.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest, *, timeout: float, max_body: int) -> HttpResponse:
        self.requests.append(request)
        result = self.handler(request)
        response = await result if inspect.isawaitable(result) else result
        if not isinstance(response, HttpResponse):
            raise TypeError(f"handler returned {type(response).__name__}, not HttpResponse")
        check_announced_length(response.headers, max_body)
        if len(response.body) > max_body:
            raise ResponseTooLargeError(f"response body exceeds the {max_body}-byte cap")
        return response if response.url else replace(response, url=request.url)

    async def aclose(self) -> None:
        pass
