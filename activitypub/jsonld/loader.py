"""An offline document loader for pyld, with opt-in asynchronous prefetching.

pyld resolves remote contexts by calling its loader synchronously, in the
middle of processing, while this library is asynchronous and its outgoing HTTP
client (with its SSRF and size guards) lives elsewhere.  So the loader never
does I/O itself: it serves bundled contexts, contexts registered with
``add()``, and contexts that ``await prefetch(document, fetch)`` fetched ahead
of time through the application's own client.  Anything else raises
``UnknownContextError``; parsing a document never touches the network.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from pyld.context_resolver import ContextResolver

from ..errors import JsonLdError, JsonLdLimitError, UnknownContextError
from .contexts import bundled_context

__all__ = ["DocumentLoader", "Fetch", "default_loader"]

Fetch = Callable[[str], Awaitable[Mapping[str, Any]]]
"""Fetches one remote context document: ``await fetch(url) -> parsed JSON``."""

MAX_REMOTE_CONTEXTS = 8
"""Remote contexts one ``prefetch`` may fetch (nested ones included)."""

MAX_CONTEXT_DEPTH = 16
"""How deeply ``@context`` values (lists, scoped contexts) may nest."""

MAX_DEPTH = 64
"""How deeply a document's objects and arrays may nest (real ones stay under 15)."""


class _LRU(OrderedDict[str, Any]):
    """The mapping pyld's ContextResolver caches into, bounded."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


class DocumentLoader:
    """A pyld ``documentLoader``: ``loader(url, options) -> RemoteDocument``.

    ``capacity`` bounds the cache of added and prefetched contexts (least
    recently used ones are dropped first); bundled contexts are always served.
    """

    def __init__(self, *, capacity: int = 256) -> None:
        self._capacity = capacity
        self._extra: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        # pyld's resolved-context cache is global by default; one per loader
        # keeps what one loader prefetched from leaking into another.
        self._resolved = _LRU(maxsize=capacity)

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        document = self.get(url)
        if document is None:
            raise UnknownContextError(
                f"remote JSON-LD context {url!r} is not bundled and was not prefetched"
            )
        return {"contextUrl": None, "documentUrl": url, "document": document}

    def get(self, url: str) -> Any | None:
        """The parsed context document for ``url`` if this loader can serve it."""
        document = bundled_context(url)
        if document is not None:
            return document
        with self._lock:
            document = self._extra.get(url)
            if document is not None:
                self._extra.move_to_end(url)
        return document

    def knows(self, url: str) -> bool:
        return self.get(url) is not None

    def add(self, url: str, document: Mapping[str, Any]) -> None:
        """Register a context document (a JSON object holding ``@context``)."""
        if not isinstance(document, Mapping) or "@context" not in document:
            raise JsonLdError(f"context document for {url!r} has no @context")
        _check_depth(document["@context"], url)
        with self._lock:
            self._extra[url] = copy.deepcopy(dict(document))
            self._extra.move_to_end(url)
            while len(self._extra) > self._capacity:
                self._extra.popitem(last=False)
            self._resolved.clear()

    async def prefetch(self, document: Any, fetch: Fetch) -> list[str]:
        """Fetch the remote contexts ``document`` needs that this loader lacks.

        Walks every ``@context`` in the document and in the fetched contexts
        (bounded by ``MAX_REMOTE_CONTEXTS`` and ``MAX_CONTEXT_DEPTH``) and
        returns the URLs fetched.  Bundled contexts are never fetched.
        """
        fetched: list[str] = []
        pending = [url for url in _context_urls(document) if not self.knows(url)]
        seen: set[str] = set()
        while pending:
            url = pending.pop(0)
            if url in seen or self.knows(url):
                continue
            seen.add(url)
            if len(fetched) >= MAX_REMOTE_CONTEXTS:
                raise JsonLdLimitError(f"more than {MAX_REMOTE_CONTEXTS} remote contexts needed")
            try:
                remote = await fetch(url)
            except JsonLdError:
                raise
            except Exception as exc:
                raise UnknownContextError(f"could not fetch context {url!r}: {exc}") from exc
            self.add(url, remote)
            fetched.append(url)
            pending.extend(u for u in _context_urls(remote) if u not in seen)
        return fetched

    def pyld_options(self) -> dict[str, Any]:
        """Options that make one pyld call use this loader and its own cache."""
        return {
            "documentLoader": self,
            "contextResolver": ContextResolver(self._resolved, self),
            "processingMode": "json-ld-1.1",
        }


def _check_depth(context: Any, where: str) -> None:
    for _ in _walk_contexts(context, where):
        pass


def _walk_contexts(context: Any, where: str, depth: int = 0) -> Iterator[str]:
    """Yield remote context URLs inside a ``@context`` value, refusing deep nesting."""
    if depth > MAX_CONTEXT_DEPTH:
        raise JsonLdError(f"@context nested more than {MAX_CONTEXT_DEPTH} deep in {where!r}")
    if isinstance(context, str):
        yield context
    elif isinstance(context, list):
        for item in context:
            yield from _walk_contexts(item, where, depth + 1)
    elif isinstance(context, Mapping):
        for key, value in context.items():
            if key == "@import" and isinstance(value, str):
                yield value
            elif isinstance(value, Mapping) and "@context" in value:
                yield from _walk_contexts(value["@context"], where, depth + 1)


def _context_urls(document: Any) -> list[str]:
    """Remote context URLs named anywhere in ``document``, in document order."""
    urls: list[str] = []
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise JsonLdLimitError(f"document nested more than {MAX_DEPTH} deep")
        if isinstance(node, Mapping):
            if "@context" in node:
                urls.extend(_walk_contexts(node["@context"], "document"))
            stack.extend((v, depth + 1) for k, v in node.items() if k != "@context")
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return list(dict.fromkeys(urls))


default_loader = DocumentLoader()
"""The loader used when none is given; ``add``/``prefetch`` on it are process-wide."""
