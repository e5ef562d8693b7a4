"""Deciding whether a document can be read as plain JSON, and making it so.

Most Fediverse documents use the ActivityStreams context plus a handful of
well-known extension terms; for those, reading keys by name gives the same
statements as JSON-LD processing, at a fraction of the cost.  ``is_usual_context``
and ``needs_compaction`` detect the rest, and ``normalize`` compacts them
against ``DEFAULT_CONTEXT`` so that both kinds read the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any

from pyld import jsonld as pyld

from ..errors import ActivityPubError
from .contexts import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1,
    DATA_INTEGRITY_V2,
    DEFAULT_CONTEXT,
    EXTENSION_PREFIXES,
    MULTIKEY_V1,
    SECURITY_V1,
    SECURITY_V2,
    WEBFINGER_CONTEXT,
    bundled_file,
)
from .loader import MAX_DEPTH, DocumentLoader
from .processing import compact
from .writing import context_for

__all__ = ["is_usual_context", "needs_compaction", "normalize"]

# A private loader: only bundled contexts can make a context "usual".
_BUNDLED_ONLY = DocumentLoader()
_PROCESSOR = pyld.JsonLdProcessor()
_SOURCES: tuple[Any, ...] = (
    [AS_CONTEXT],
    [SECURITY_V1],
    [SECURITY_V2],
    [DATA_INTEGRITY_V1],
    [DATA_INTEGRITY_V2],
    [MULTIKEY_V1],
    [WEBFINGER_CONTEXT],
    DEFAULT_CONTEXT,
)
_ALLOWED_LANGUAGES = (None, "und")  # "und" is BCP 47 for "undetermined" (Pleroma sends it)

Signature = tuple[Any, ...]


def _active_context(context: Any) -> dict[str, Any]:
    options = _BUNDLED_ONLY.pyld_options()
    options["base"] = ""
    initial = _PROCESSOR.process_context(None, None, options)
    active: dict[str, Any] = _PROCESSOR.process_context(initial, context, options)
    return active


def _signature(definition: Mapping[str, Any]) -> Signature:
    """What a term definition means for reading: IRI, direction, structure.

    Value coercion (``@type``) and ``@list`` versus ``@set`` are ignored: they
    change literal datatypes and ordering, not what a plain-JSON reader sees.
    """
    kind = definition.get("@type")
    scoped = definition.get("@context")
    return (
        definition.get("@id"),
        bool(definition.get("reverse")),
        frozenset(definition.get("@container", ())) - {"@set", "@list"},
        kind if kind in ("@vocab", "@json", "@none") else None,
        definition.get("@language", "-"),
        definition.get("@direction", "-"),
        definition.get("@nest"),
        definition.get("@index"),
        None if scoped is None else json.dumps(scoped, sort_keys=True),
    )


@cache
def _known() -> tuple[dict[str, frozenset[Signature]], frozenset[str], Any]:
    known: dict[str, set[Signature]] = {}
    iris: set[str] = set()
    for source in _SOURCES:
        for term, definition in _active_context(source)["mappings"].items():
            if definition.get("_prefix"):
                continue
            known.setdefault(term, set()).add(_signature(definition))
            if isinstance(definition.get("@id"), str):
                iris.add(definition["@id"])
    reference = _active_context(DEFAULT_CONTEXT)
    return {t: frozenset(s) for t, s in known.items()}, frozenset(iris), reference.get("@vocab")


def is_usual_context(ctx: Any) -> bool:
    """True when ``ctx`` means what a plain-JSON reader of the document assumes.

    That is: absent, or bundled well-known contexts plus inline definitions
    that agree with ours (same IRI and structure for every term we know; new
    terms may be added if they do not alias an IRI we know).  ``@vocab``,
    ``@base``, a default language other than "und", a direction, redefined or
    scoped terms, keyword aliases and remote contexts we do not bundle all make
    it unusual.  Results are cached per distinct context.
    """
    global _RECENT
    if ctx is None:
        return True
    for seen, verdict in _RECENT:
        if ctx == seen:
            return verdict
    try:
        key = json.dumps(ctx, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return False
    verdict = _is_usual(key)
    if _plain(ctx, 0):
        # a private copy; rebinding the tuple is atomic (normalize runs in threads too)
        _RECENT = ((json.loads(key), verdict), *_RECENT[: _RECENT_SIZE - 1])
    return verdict


# The last few contexts judged, compared by equality before anything is
# encoded: senders repeat their context on every activity. Only contexts of
# strings, objects and arrays go here, because equality alone would let
# ``1`` or ``1.0`` pass for ``true``; with those leaves, equal means identical.
_RECENT: tuple[tuple[Any, bool], ...] = ()
_RECENT_SIZE = 16


def _plain(ctx: Any, depth: int) -> bool:
    if isinstance(ctx, str) or ctx is None:
        return True
    if depth > 8:
        return False
    if isinstance(ctx, list):
        return all(_plain(item, depth + 1) for item in ctx)
    if isinstance(ctx, dict):
        return all(_plain(v, depth + 1) for v in ctx.values())
    return False


@lru_cache(maxsize=512)
def _is_usual(key: str) -> bool:
    ctx = json.loads(key)
    if not _only_bundled_urls(ctx, 0):
        return False
    try:
        active = _active_context(ctx)
    except (ActivityPubError, pyld.JsonLdError, RecursionError, ValueError, TypeError):
        return False
    known, known_iris, vocab = _known()
    if active.get("@vocab") != vocab or active.get("@base") or active.get("@direction"):
        return False
    if active.get("@language") not in _ALLOWED_LANGUAGES:
        return False
    mappings: Mapping[str, Mapping[str, Any]] = active["mappings"]
    if any(term not in mappings for term in _as_terms()):
        return False
    for term, definition in mappings.items():
        if definition.get("_prefix"):
            continue
        accepted = known.get(term)
        if accepted is not None:
            if _signature(definition) not in accepted:
                return False
        elif (
            "@context" in definition
            or str(definition.get("@id", "")).startswith("@")
            or definition.get("@id") in known_iris
        ):
            return False
    return True


def _only_bundled_urls(ctx: Any, depth: int) -> bool:
    if depth > 8:
        return False
    if isinstance(ctx, str):
        return bundled_file(ctx) is not None
    if isinstance(ctx, list):
        return all(_only_bundled_urls(item, depth + 1) for item in ctx)
    if isinstance(ctx, dict):
        return "@import" not in ctx and "@vocab" not in ctx and "@base" not in ctx
    return ctx is None


@cache
def _as_terms() -> frozenset[str]:
    mappings = _active_context([AS_CONTEXT])["mappings"]
    return frozenset(t for t, d in mappings.items() if not d.get("_prefix"))


# Prefixes and namespaces a ``type`` value may be written with that compaction
# would rewrite to a plain term.
_COMPACTABLE_TYPE_PREFIXES = (
    "as:",
    "sec:",
    *(f"{p}:" for p in EXTENSION_PREFIXES),
    "https://www.w3.org/ns/activitystreams#",
    "http://www.w3.org/ns/activitystreams#",
    "https://w3id.org/security#",
    *EXTENSION_PREFIXES.values(),
)


def needs_compaction(doc: Any) -> bool:
    """True unless reading ``doc``'s keys by name gives its JSON-LD meaning.

    Checks the context (and every nested ``@context``) with
    ``is_usual_context``, then looks for keys that are compact or absolute IRIs
    (``as:name``), keywords used directly (``@id``, ``@value``), and ``type``
    values written as IRIs of terms we know.  Costs one cached lookup plus one
    pass over the document.
    """
    if not isinstance(doc, Mapping):
        return True
    root_ctx = doc.get("@context")
    if not is_usual_context(root_ctx):
        return True
    stack: list[tuple[Any, Any, int]] = [(doc, root_ctx, 0)]
    prefixes = _COMPACTABLE_TYPE_PREFIXES
    while stack:
        node, ctx, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, list):
            stack.extend((item, ctx, depth + 1) for item in node if isinstance(item, dict | list))
            continue
        if depth and "@context" in node:
            ctx = _combined(ctx, node["@context"])
            if not is_usual_context(ctx):
                return True
        for key, value in node.items():
            if key[:1] == "@":
                if key != "@context":
                    return True
                continue
            if ":" in key:
                return True
            if key == "type":
                if isinstance(value, str):
                    if value.startswith(prefixes):
                        return True
                elif isinstance(value, list) and any(
                    isinstance(v, str) and v.startswith(prefixes) for v in value
                ):
                    return True
            elif isinstance(value, dict | list):
                stack.append((value, ctx, depth + 1))
    return False


def _combined(outer: Any, inner: Any) -> list[Any]:
    base = DEFAULT_CONTEXT if outer is None else outer
    return [*_as_list(base), *_as_list(inner)]


def _as_list(ctx: Any) -> list[Any]:
    return list(ctx) if isinstance(ctx, list) else [ctx]


def normalize(doc: Any, *, loader: DocumentLoader | None = None) -> Any:
    """``doc`` itself if it reads as plain JSON, else its compaction against
    ``DEFAULT_CONTEXT`` with a minimal ``@context`` the fast reader accepts.

    Either way the caller reads keys by name and gets the JSON-LD meaning.
    """
    if not needs_compaction(doc):
        return doc
    compacted = compact(doc, DEFAULT_CONTEXT, loader=loader)
    compacted.pop("@context", None)
    _spell_out_public(compacted)
    context = context_for(_keys(compacted))
    return {"@context": context, **compacted}


_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_ADDRESSING = ("to", "cc", "bto", "bcc", "audience")


def _spell_out_public(doc: Any) -> None:
    """Write the public collection as its full IRI, as senders do.

    Compaction abbreviates it to ``as:Public``; both mean the same, but every
    reader compares addressing against the full IRI.
    """
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key in _ADDRESSING:
                if value == "as:Public":
                    node[key] = _PUBLIC
                elif isinstance(value, list):
                    node[key] = value = [_PUBLIC if v == "as:Public" else v for v in value]
            if isinstance(value, dict | list):
                stack.append(value)


def _keys(doc: Any) -> Iterable[str]:
    keys: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(node)
            kind = node.get("type")
            keys.update(
                k for k in (kind if isinstance(kind, list) else [kind]) if isinstance(k, str)
            )
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return keys
