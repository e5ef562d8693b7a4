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
"""

from __future__ import annotations

from typing import Any

from activitypub.client import AddressPolicy, Client, HttpRequest, HttpResponse, MockTransport
from activitypub.federation.federation import Federation
from activitypub.federation.http import Request
from activitypub.urls import Origin, origin

__all__ = ["Network"]


class Network:
    """Routes requests by origin to the federations (and extra handlers) it knows."""

    def __init__(self) -> None:
        self._hosts: dict[Origin, Federation] = {}
        self.transport = MockTransport(self._route)

    def add(self, fed: Federation) -> Federation:
        self._hosts[origin(fed.base_url)] = fed
        return fed

    def federation(self, base_url: str, **options: Any) -> Federation:
        """A federation on this network: memory storage, inline handlers, this transport."""
        options.setdefault("storage", "memory://")
        options.setdefault("inline", True)
        options.setdefault(
            "client", Client(self.transport, policy=AddressPolicy(allow_loopback=True))
        )
        return self.add(Federation(base_url, **options))

    async def _route(self, request: HttpRequest) -> HttpResponse:
        fed = self._hosts.get(origin(request.url))
        if fed is None:
            return HttpResponse(502, {"Content-Type": "text/plain"}, b"no such host", request.url)
        response = await fed.handle(
            Request.build(request.method, request.url, dict(request.headers), request.body or b"")
        )
        return HttpResponse(response.status, response.headers, response.body, request.url)
