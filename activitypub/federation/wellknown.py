"""Discovery endpoints: WebFinger (RFC 7033), host-meta (RFC 6415), NodeInfo 2.1 / 2.0.

Mastodon and Lemmy find actors through WebFinger; Lemmy also polls NodeInfo
daily and stops delivering to instances whose NodeInfo fails for three days.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote
from xml.sax.saxutils import escape

from activitypub.federation.http import Request, Response
from activitypub.federation.paths import INSTANCE_ACTOR

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["host_meta", "nodeinfo", "nodeinfo_links", "webfinger"]

_AP = "application/activity+json"
_NODEINFO = {
    "2.1": "http://nodeinfo.diaspora.software/ns/schema/2.1",
    "2.0": "http://nodeinfo.diaspora.software/ns/schema/2.0",
}


async def webfinger(fed: Federation, request: Request) -> Response:
    resource = request.query_param("resource")
    if not resource:
        return Response.error(400, "resource parameter required")
    identifier = await _resolve(fed, resource)
    if identifier is None:
        return Response.error(404, "no such resource")
    actor = await fed.storage.get_local_actor(identifier)
    if actor is None:
        return Response.error(404, "no such resource")
    username = fed.host if identifier == INSTANCE_ACTOR else identifier
    actor_id = fed.actor_id(identifier)
    jrd = {
        "subject": f"acct:{username}@{fed.host}",
        "aliases": [actor_id],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": actor_id},
            {
                "rel": "self",
                "type": _AP,
                "href": actor_id,
                "properties": {"https://www.w3.org/ns/activitystreams#type": actor.actor_type},
            },
        ],
    }
    response = Response.json(jrd, content_type="application/jrd+json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def _resolve(fed: Federation, resource: str) -> str | None:
    """``acct:name@host`` (our host only) or an actor URL to an identifier."""
    resource = unquote(resource)
    if resource.startswith("acct:"):
        name, _, host = resource[5:].lstrip("@").rpartition("@")
        if host.lower() != fed.host.lower() or not name:
            return None
        return INSTANCE_ACTOR if name.lower() == fed.host.lower() else name
    if resource.startswith(("https://", "http://")):
        return fed.local_identifier(resource)
    return None


async def host_meta(fed: Federation, request: Request) -> Response:
    template = f"{fed.base_url}/.well-known/webfinger?resource={{uri}}"
    wants_json = request.path.endswith(".json") or "json" in request.headers.get("Accept", "")
    if wants_json:
        return Response.json(
            {"links": [{"rel": "lrdd", "template": template}]}, content_type="application/json"
        )
    xrd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{escape(template, {chr(34): "&quot;"})}"/>\n'
        "</XRD>\n"
    )
    return Response.text(200, xrd, "application/xrd+xml")


async def nodeinfo_links(fed: Federation, request: Request) -> Response:
    links = [
        {"rel": schema, "href": f"{fed.base_url}/nodeinfo/{version}"}
        for version, schema in _NODEINFO.items()
    ]
    return Response.json({"links": links}, content_type="application/json")


async def nodeinfo(fed: Federation, request: Request, version: str) -> Response:
    if version not in _NODEINFO:
        return Response.error(404, "unknown NodeInfo version")
    users = len(
        [a for a in await fed.storage.list_local_actors() if a.identifier != INSTANCE_ACTOR]
    )
    name, software_version = fed.software
    software = {"name": name, "version": software_version}
    document = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": fed.open_registrations,
        "usage": {"users": {"total": users}},
        "metadata": {},
    }
    profile = f'application/json; profile="{_NODEINFO[version]}#"'
    return Response.json(document, content_type=profile)
