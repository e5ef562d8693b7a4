"""An in-process Fediverse for tests: federations that talk without sockets.

Users test their own handlers with it the way httpx users test with
``MockTransport``::

    net = Network()
    alice = net.federation("https://a.example")
    bob = net.federation("https://b.example")
    async with alice, bob:
        await alice.create_actor("alice"); await bob.create_actor("bob")
        await alice.follow("alice", "https://b.example/users/bob")

Every request still goes through the real pipeline: signing, SSRF policy,
signature verification, dedup and authorisation; only the transport is
replaced. Handlers run inline, so effects are visible when a call returns.

A host that is not a Federation (one serving crafted documents, or a dead
one) is a plain handler registered with :meth:`Network.route`::

    net.route("https://evil.example", lambda req: HttpResponse(404, {}, b"", req.url))

``net.transport.requests`` records every request sent on the network.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from activitypub.client import AddressPolicy, Client, HttpRequest, HttpResponse, MockTransport
from activitypub.federation.federation import Federation
from activitypub.federation.http import Request
from activitypub.urls import Origin, origin

__all__ = ["Network", "RouteHandler"]

RouteHandler = Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
"""Answers the requests sent to one origin; it may raise a FetchError to simulate failure."""


class Network:
    """Routes requests by origin to the federations (and extra handlers) it knows."""

    def __init__(self) -> None:
        self._hosts: dict[Origin, Federation] = {}
        self._routes: dict[Origin, RouteHandler] = {}
        self.transport = MockTransport(self._route)

    def add(self, fed: Federation) -> Federation:
        o = origin(fed.base_url)
        self._routes.pop(o, None)
        self._hosts[o] = fed
        return fed

    def route(self, base_url: str, handler: RouteHandler) -> None:
        """Answer requests to ``base_url``'s origin with ``handler`` (sync or async).

        For hosts that are not Federations: servers of crafted documents,
        hosts that time out (raise :class:`~activitypub.errors.FetchTimeoutError`),
        or anything a test wants to observe. Replaces an earlier route or
        Federation at that origin.
        """
        o = origin(base_url)
        self._hosts.pop(o, None)
        self._routes[o] = handler

    def federation(self, base_url: str, **options: Any) -> Federation:
        """A federation on this network: memory storage, inline handlers, this transport."""
        options.setdefault("storage", "memory://")
        options.setdefault("inline", True)
        options.setdefault(
            "client", Client(self.transport, policy=AddressPolicy(allow_loopback=True))
        )
        return self.add(Federation(base_url, **options))

    async def _route(self, request: HttpRequest) -> HttpResponse:
        o = origin(request.url)
        handler = self._routes.get(o)
        if handler is not None:
            result = handler(request)
            return await result if inspect.isawaitable(result) else result
        fed = self._hosts.get(o)
        if fed is None:
            return HttpResponse(502, {"Content-Type": "text/plain"}, b"no such host", request.url)
        response = await fed.handle(
            Request.build(request.method, request.url, dict(request.headers), request.body or b"")
        )
        return HttpResponse(response.status, response.headers, response.body, request.url)
