"""One canonical way to compare hosts and origins.

Mastodon once normalised domains by deleting every ``/`` and so took
``mastodon.so/cial`` for ``mastodon.social`` (CVE-2023-42451). Every origin
check in this library goes through :func:`origin`, which parses the URL and
compares scheme, IDNA-lowered host and effective port, never raw strings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from activitypub.errors import ParseError

__all__ = ["Origin", "host_of", "origin", "same_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"


def origin(url: str) -> Origin:
    """Parse an http(s) URL's origin; raises ParseError for anything else.

    User info (``https://b.example@a.example/``) is refused outright: no
    ActivityPub id has it, and it is the classic way to disguise a host.
    """
    if not isinstance(url, str) or len(url) > 8192:
        raise ParseError("not a URL")
    # Only what precedes the path decides the origin: parse (and memoise) that
    # part, so a host's many distinct ids share one entry.
    start = url.find("://")
    if start > 0:
        end = url.find("/", start + 3)
        if end > 0:
            return _parse_origin(url[:end])
    return _parse_origin(url)


@lru_cache(maxsize=8192)
def _parse_origin(url: str) -> Origin:
    """:func:`origin`'s parse, memoised: an inbox request asks about the same
    few URLs a dozen times. Failures raise, and are not cached."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ParseError(f"bad URL {url[:200]!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ParseError(f"not an http(s) URL: {url[:200]!r}")
    if "@" in parts.netloc:
        raise ParseError("URLs with user info are not accepted")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ParseError(f"URL without a host: {url[:200]!r}")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise ParseError(f"bad host name in {url[:200]!r}") from None
    return Origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])


def host_of(url: str) -> str:
    """The host (with ``:port`` when not the scheme's default), as peers write it in handles."""
    o = origin(url)
    return o.host if _DEFAULT_PORTS[o.scheme] == o.port else f"{o.host}:{o.port}"


def same_origin(a: str, b: str) -> bool:
    """True when both parse and share scheme, host and port; False for any unparsable URL."""
    try:
        return origin(a) == origin(b)
    except ParseError:
        return False
