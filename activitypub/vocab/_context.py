"""What a source document's ``@context`` defines beyond ours, kept for round trips.

A server may define terms we do not model (``atomUri``, PeerTube's ``uuid``)
inline in its context, or bring them in with a context URL of its own. The
properties survive in ``extra``; this module keeps the definitions they need
and picks, when writing, only those the output still uses.

The context URLs are kept in the source's order, the standard ones
included: where ActivityStreams or a protected context (Data Integrity,
Multikey, DID) stood decides what a term means, and the writer
(:func:`activitypub.jsonld.context_for`) keeps that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any

from activitypub.errors import VocabularyError
from activitypub.jsonld import AS_CONTEXT, EXTENSION_TERMS, SECURITY_V1
from activitypub.jsonld.contexts import bundled_context
from activitypub.jsonld.writing import integrity_context

__all__ = ["Defs", "known_terms", "read_defs"]

_PREFIXED = re.compile(r"([A-Za-z_][\w.-]*):(?!//)")
_KEPT_KEYWORDS = ("@language", "@base", "@direction")
_MISSING = object()
_FIXED = object()


@dataclass(frozen=True)
class Defs:
    """What a source ``@context`` defined: inline terms, remote URLs, their terms."""

    terms: dict[str, Any] = field(default_factory=dict)
    remote: tuple[str, ...] = ()
    remote_terms: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def merge(cls, parts: Iterable[Defs]) -> Defs:
        """One set of definitions; the first part's win, and its URLs come first."""
        terms: dict[str, Any] = {}
        remote: list[str] = []
        remote_terms: list[Mapping[str, Any]] = []
        for part in parts:
            for term, definition in part.terms.items():
                terms.setdefault(term, definition)
            for url, defined in zip(part.remote, part.remote_terms, strict=True):
                if url not in remote:
                    remote.append(url)
                    remote_terms.append(defined)
        return cls(terms, tuple(remote), tuple(remote_terms))

    @property
    def integrity(self) -> str | None:
        """The Data Integrity context the source named first (v1 or v2), if any."""
        return integrity_context(self.remote)

    def used_by(self, used: Set[str], ours: Mapping[str, Any]) -> Defs:
        """The definitions (and prefixes they rely on) that ``used`` terms need.

        A term we define too is kept only where the source defined it
        differently (say, without ``"@type": "@id"``), so it reads back the
        same. Terms only a remote context defines bring back that context.
        """
        keep: dict[str, Any] = {}
        todo = [term for term in used if self._differs(term, ours)]
        while todo:
            term = todo.pop()
            if term in keep:
                continue
            definition = self._lookup(term)
            keep[term] = definition
            todo.extend(p for p in _prefixes(definition) if self._differs(p, ours, prefix=True))
        for keyword in _KEPT_KEYWORDS:
            if keyword in self.terms:
                keep[keyword] = self.terms[keyword]
        uncovered = any(
            term not in ours and term not in keep and not term.startswith("@") and "/" not in term
            for term in used
        )
        return Defs(keep, self.remote, self.remote_terms) if uncovered else Defs(keep)

    def _lookup(self, term: str) -> Any:
        if term in self.terms:
            return self.terms[term]
        for defined in reversed(self.remote_terms):
            if term in defined:
                return defined[term]
        return _MISSING

    def _differs(self, term: str, ours: Mapping[str, Any], *, prefix: bool = False) -> bool:
        mine = ours.get(term, _MISSING)
        if mine is _FIXED:
            return False
        theirs = self._lookup(term)
        if theirs is _MISSING:
            return False
        if mine is _MISSING:  # unknown to us: from a remote context only as a prefix
            return prefix or term in self.terms
        return bool(mine != theirs)


def _prefixes(definition: Any) -> list[str]:
    if isinstance(definition, str):
        return _PREFIXED.findall(definition)
    if isinstance(definition, dict):
        found: list[str] = []
        for key in ("@id", "@type", "@reverse"):
            value = definition.get(key)
            if isinstance(value, str):
                found.extend(_PREFIXED.findall(value))
        return found
    return []


def read_defs(context: Any) -> Defs | None:
    """Collect what ``context`` defines; None when it is only the standard contexts.

    ``remote`` lists every context URL in the source's order, ActivityStreams
    and security v1 included (the writer names those only where needed).
    """
    entries = context if isinstance(context, list) else [context]
    terms: dict[str, Any] = {}
    remote: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            if entry not in remote:
                remote.append(entry)
        elif isinstance(entry, dict):
            terms.update(entry)
        elif entry is not None:
            raise VocabularyError("@context: expected a URL or an object")
    if not terms and all(url in (AS_CONTEXT, SECURITY_V1) for url in remote):
        return None
    return Defs(terms, tuple(remote), tuple(_terms_at(url) for url in remote))


@cache
def _terms_at(url: str) -> Mapping[str, Any]:
    """The term definitions of a bundled context (empty if it is not bundled)."""
    document = bundled_context(url)
    context = document.get("@context") if isinstance(document, dict) else None
    terms: dict[str, Any] = {}
    for entry in context if isinstance(context, list) else [context]:
        if isinstance(entry, dict):
            terms.update(entry)
    return MappingProxyType(terms)


@cache
def known_terms() -> Mapping[str, Any]:
    """Every term our context defines, with its definition where a source may vary it.

    ActivityStreams and security terms map to a marker: a source cannot
    usefully redefine those, so their definitions are never carried over.
    """
    terms: dict[str, Any] = {}
    for url in (AS_CONTEXT, SECURITY_V1):
        document = bundled_context(url)
        context = document.get("@context") if isinstance(document, dict) else None
        if isinstance(context, dict):
            terms.update(dict.fromkeys(context, _FIXED))
    terms.update(EXTENSION_TERMS)
    return MappingProxyType(terms)
