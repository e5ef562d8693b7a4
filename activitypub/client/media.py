"""Media types: which responses are ActivityStreams documents.

ActivityPub §3.2 names two types: ``application/activity+json`` and
``application/ld+json; profile="https://www.w3.org/ns/activitystreams"``.
Anything else (``application/json``, ``text/html``, an image) is not an
ActivityStreams document, even if it parses: accepting it would let any
upload of JSON on a server pose as one of its objects.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["AP_ACCEPT", "AS_PROFILE", "is_activity_json", "parse_media_type"]

AS_PROFILE: Final = "https://www.w3.org/ns/activitystreams"
#: What we ask for when fetching: both names, as Mastodon does.
AP_ACCEPT: Final = f'application/activity+json, application/ld+json; profile="{AS_PROFILE}"'

_PARAM_RE: Final = re.compile(
    r";[ \t]*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\]|\\.)*)"|([!#$%&\'*+.^_`|~0-9A-Za-z-]+))[ \t]*'
)
_TYPE_RE: Final = re.compile(
    r"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*"
)


def parse_media_type(value: str) -> tuple[str, dict[str, str]] | None:
    """``type/subtype`` (lower-cased) and its parameters (names lower-cased), or ``None``."""
    m = _TYPE_RE.match(value)
    if m is None:
        return None
    params: dict[str, str] = {}
    pos = m.end()
    while pos < len(value):
        p = _PARAM_RE.match(value, pos)
        if p is None:
            return None
        name, quoted, token = p.groups()
        params[name.lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        pos = p.end()
    return m.group(1).lower(), params


def is_activity_json(value: str) -> bool:
    """True for either ActivityStreams media type; ``profile`` is a space-separated list."""
    parsed = parse_media_type(value)
    if parsed is None:
        return False
    media_type, params = parsed
    if media_type == "application/activity+json":
        return True
    return media_type == "application/ld+json" and AS_PROFILE in params.get("profile", "").split()
