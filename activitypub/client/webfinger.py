"""WebFinger (RFC 7033) as the Fediverse uses it: ``@user@host`` to an actor IRI.

Only the pure parts live here (handles, JRD links); the request is
:meth:`Client.webfinger <activitypub.client.Client.webfinger>`. The answer
comes from a server that may be hostile, so the ``self`` link is taken only
with an ActivityStreams media type, and its ``href`` still goes through the
address policy before anything fetches it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from yarl import URL

from activitypub.client.media import is_activity_json
from activitypub.errors import WebFingerError

__all__ = ["JRD_ACCEPT", "parse_handle", "resource_host", "self_link"]

JRD_ACCEPT: Final = "application/jrd+json, application/json"

_USER_RE: Final = re.compile(r"[^\s@/?#]+")
_HOST_RE: Final = re.compile(r"[^\s@/?#\\]+")


def parse_handle(handle: str) -> tuple[str, str]:
    """``(user, host)`` of ``user@host``, ``@user@host`` or ``acct:user@host``.

    ``host`` may carry a port (``localhost:8080``) and is lower-cased.
    """
    text = handle.strip()
    if text[:5].lower() == "acct:":
        text = text[5:]
    elif text.startswith("@"):
        text = text[1:]
    user, at, host = text.partition("@")
    if not at or _USER_RE.fullmatch(user) is None or _HOST_RE.fullmatch(host) is None:
        raise WebFingerError(f"not a user@host handle: {handle[:200]!r}")
    return user, host.lower()


def resource_host(resource: str) -> str:
    """The host (with port, if any) to ask about ``resource``: an ``acct:`` URI or a URL."""
    if resource[:5].lower() == "acct:":
        return parse_handle(resource)[1]
    try:
        url = URL(resource)
    except ValueError:
        url = URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise WebFingerError(f"not an acct: URI or http(s) URL: {resource[:200]!r}")
    return url.raw_authority.rpartition("@")[2]


def self_link(jrd: Mapping[str, Any]) -> str:
    """The ``href`` of the first ``rel="self"`` link with an ActivityStreams type."""
    links = jrd.get("links")
    if not isinstance(links, list):
        raise WebFingerError("the JRD has no links")
    for link in links:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and isinstance(link.get("type"), str)
            and is_activity_json(link["type"])
            and isinstance(link.get("href"), str)
        ):
            href: str = link["href"]
            return href
    raise WebFingerError("the JRD has no self link to an ActivityPub actor")
