"""aiohttp adapter: translate requests and responses, nothing more.

``aiohttp_app(fed)`` is a complete application (it starts and stops the
federation with the app); ``aiohttp_handler(fed)`` is one handler to route
from an existing application, e.g. for the federation's paths only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from activitypub.federation.federation import Federation
from activitypub.federation.http import Request, Response
from activitypub.urls import origin

__all__ = ["aiohttp_app", "aiohttp_handler"]


def aiohttp_handler(fed: Federation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    scheme = origin(fed.base_url).scheme

    async def handle(request: web.Request) -> web.StreamResponse:
        ours = await _read_request(fed, scheme, request)
        if isinstance(ours, Response):
            return _to_aiohttp(ours)
        return _to_aiohttp(await fed.handle(ours))

    return handle


async def _read_request(fed: Federation, scheme: str, request: web.Request) -> Request | Response:
    """Our :class:`Request` of an aiohttp one, its body read within ``fed.max_body``;
    or the error to answer (413 too large, 400 cut short)."""
    length = request.content_length
    if length is not None and length > fed.max_body:
        return Response.error(413, "body too large")
    if length is not None:  # aiohttp reads exactly that many bytes
        try:
            body = await request.content.readexactly(length) if length else b""
        except asyncio.IncompleteReadError:
            return Response.error(400, "body shorter than its Content-Length")
    else:  # chunked: counted as it comes
        buffer = bytearray()
        async for chunk in request.content.iter_chunked(65536):
            buffer += chunk
            if len(buffer) > fed.max_body:
                return Response.error(413, "body too large")
        body = bytes(buffer)
    return Request(
        method=request.method,
        url=f"{scheme}://{request.host}{request.path_qs}",
        headers=request.headers,
        body=body,
        remote=request.remote,
    )


def _to_aiohttp(response: Response) -> web.Response:
    return web.Response(
        status=response.status, body=response.body or None, headers=response.headers or None
    )


def aiohttp_app(fed: Federation) -> web.Application:
    """An application answering every path through ``fed``; mount it or run it."""
    return _app(fed, aiohttp_handler(fed))


def _app(
    fed: Federation, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.Application:
    """An application answering every path with ``handler``; ``fed`` starts and stops with it."""
    app = web.Application(client_max_size=fed.max_body + 1)

    async def start(_: web.Application) -> None:
        await fed.start()

    async def stop(_: web.Application) -> None:
        await fed.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app
