"""The request and response the core speaks, whatever framework carries them.

Adapters (aiohttp, ASGI) translate to and from these and nothing more, so the
same end-to-end tests run through both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["AP_CONTENT_TYPE", "Request", "Response"]

AP_CONTENT_TYPE = "application/activity+json"


@dataclass(slots=True)
class Request:
    """An incoming request; ``url`` is absolute as the client addressed it."""

    method: str
    url: str
    headers: CIMultiDictProxy[str]
    body: bytes = b""
    remote: str | None = None

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        body: bytes = b"",
        remote: str | None = None,
    ) -> Request:
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        return cls(method.upper(), url, CIMultiDictProxy(CIMultiDict(items)), body, remote)

    @property
    def path(self) -> str:
        url = self.url
        start = url.find("://")
        # The usual absolute URL, with nothing urlsplit would strip (tabs, line
        # breaks, outer spaces): cut out the path without parsing it all.
        if start > 0 and url.isprintable() and url[0] != " " and url[-1] != " ":
            slash = url.find("/", start + 3)
            if slash < 0:
                return "/"
            end = len(url)
            for mark in ("?", "#"):
                found = url.find(mark, slash)
                if 0 <= found < end:
                    end = found
            if "?" not in url[start:slash] and "#" not in url[start:slash]:
                return url[slash:end]
        return urlsplit(url).path or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    def query_param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, content_type: str = AP_CONTENT_TYPE) -> Response:
        import json

        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": content_type})

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """Errors are JSON ``{"error": ...}``, as Mastodon and Lemmy answer them."""
        return cls.json({"error": message}, status, "application/json")

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})
