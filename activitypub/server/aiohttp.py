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
        length = request.content_length
        if length is not None and length > fed.max_body:
            return _to_aiohttp(Response.error(413, "body too large"))
        if length is not None:  # aiohttp reads exactly that many bytes
            try:
                body = await request.content.readexactly(length) if length else b""
            except asyncio.IncompleteReadError:
                return _to_aiohttp(Response.error(400, "body shorter than its Content-Length"))
        else:  # chunked: counted as it comes
            buffer = bytearray()
            async for chunk in request.content.iter_chunked(65536):
                buffer += chunk
                if len(buffer) > fed.max_body:
                    return _to_aiohttp(Response.error(413, "body too large"))
            body = bytes(buffer)
        ours = Request(
            method=request.method,
            url=f"{scheme}://{request.host}{request.path_qs}",
            headers=request.headers,
            body=body,
            remote=request.remote,
        )
        return _to_aiohttp(await fed.handle(ours))

    return handle


def _to_aiohttp(response: Response) -> web.Response:
    return web.Response(
        status=response.status, body=response.body or None, headers=response.headers or None
    )


def aiohttp_app(fed: Federation) -> web.Application:
    """An application answering every path through ``fed``; mount it or run it."""
    app = web.Application(client_max_size=fed.max_body + 1)

    async def start(_: web.Application) -> None:
        await fed.start()

    async def stop(_: web.Application) -> None:
        await fed.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", aiohttp_handler(fed))
    return app
