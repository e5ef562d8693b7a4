"""Which endpoint answers a request: one table, matched in order."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from activitypub.federation import documents, inbox, wellknown
from activitypub.federation.http import Request, Response

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["route"]

_NODEINFO = re.compile(r"/nodeinfo/(?P<version>2\.[01])")


async def route(fed: Federation, request: Request) -> Response:
    path = request.path
    paths = fed.paths
    if request.method == "POST":
        if path == paths.shared_inbox:
            return await inbox.receive(fed, request, None)
        identifier = paths.match_inbox(path)
        if identifier is not None:
            if await fed.storage.get_local_actor(identifier) is None:
                return Response.error(404, "no such inbox")
            return await inbox.receive(fed, request, identifier)
        return Response.error(405 if _known_get(fed, path) else 404, "not an inbox")
    if request.method not in ("GET", "HEAD"):
        return Response.error(405, "method not allowed")

    if path == "/.well-known/webfinger":
        return await wellknown.webfinger(fed, request)
    if path == "/.well-known/nodeinfo":
        return await wellknown.nodeinfo_links(fed, request)
    if path in ("/.well-known/host-meta", "/.well-known/host-meta.json"):
        return await wellknown.host_meta(fed, request)
    m = _NODEINFO.fullmatch(path)
    if m:
        return await wellknown.nodeinfo(fed, request, m["version"])

    identifier = paths.match_actor(path)
    if identifier is not None:
        return await documents.serve_actor(fed, request, identifier)
    collection = paths.match_collection(path)
    if collection is not None:
        return await documents.serve_collection(fed, request, *collection)
    for template, dispatcher in fed.object_dispatchers():
        params = _match(template, path)
        if params is not None:
            obj = await dispatcher(request, params)
            if obj is None:
                return Response.error(404, "not found")
            return await documents.serve_object(fed, request, obj)
    stored = await fed.storage.get_object(fed.base_url + path)
    if stored is not None and stored.local is not None:
        return await documents.serve_object(fed, request, stored)
    return Response.error(404, "not found")


def _known_get(fed: Federation, path: str) -> bool:
    return fed.paths.match_actor(path) is not None or fed.paths.match_collection(path) is not None


_TEMPLATES: dict[str, re.Pattern[str]] = {}


def _match(template: str, path: str) -> dict[str, str] | None:
    pattern = _TEMPLATES.get(template)
    if pattern is None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/?#]+)", re.escape(template))
        pattern = _TEMPLATES[template] = re.compile(regex)
    m = pattern.fullmatch(path)
    return m.groupdict() if m else None
