"""ASGI adapter (Starlette, FastAPI, Django, any ASGI server).

The body is read chunk by chunk and refused with 413 as soon as it passes the
limit, so an oversized request never sits in memory whole. Lifespan events
start and stop the federation when the server sends them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from activitypub.federation.federation import Federation
from activitypub.federation.http import Request, Response
from activitypub.urls import origin

__all__ = ["asgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def asgi_app(fed: Federation) -> ASGIApp:
    default_scheme = origin(fed.base_url).scheme

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(fed, receive, send)
            return
        if scope["type"] != "http":
            return
        headers = CIMultiDict(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])
        )
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > fed.max_body:
            await _send(send, Response.error(413, "body too large"))
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > fed.max_body:
                await _send(send, Response.error(413, "body too large"))
                return
            if not message.get("more_body", False):
                break
        # Newer servers and Starlette include root_path in path; older ones do not.
        path, root = scope["path"], scope.get("root_path", "")
        if root and not path.startswith(root):
            path = root + path
        query = scope.get("query_string", b"").decode("latin-1")
        host = headers.get("Host") or fed.host
        url = f"{scope.get('scheme', default_scheme)}://{host}{path}" + (
            f"?{query}" if query else ""
        )
        client = scope.get("client")
        request = Request(
            method=scope["method"],
            url=url,
            headers=CIMultiDictProxy(headers),
            body=bytes(body),
            remote=client[0] if client else None,
        )
        await _send(send, await fed.handle(request))

    return app


async def _send(send: Send, response: Response) -> None:
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _lifespan(fed: Federation, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await fed.start()
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await fed.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
