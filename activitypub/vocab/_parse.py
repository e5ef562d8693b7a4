"""Reading documents into classes and writing them back, ``@context`` included.

Documents under the usual contexts are read straight from their compact
JSON (the fast path). One whose context could make a familiar key mean
something else (``@vocab``, a redefined term, prefixed keys) is first
compacted with pyld against our context, so both forms read the same.

Terms we do not model keep working across a round trip: their definitions
from the source's inline ``@context`` (and any remote context besides the
standard ones) are written back, but only those the output still uses.
"""

from __future__ import annotations

import contextlib
import functools
import json
from typing import Any, TypeVar

from activitypub.errors import JsonLdError, UnknownContextError, VocabularyError
from activitypub.jsonld import context_for, is_usual_context, normalize
from activitypub.vocab._context import Defs, known_terms, read_defs
from activitypub.vocab._node import Node, build
from activitypub.vocab._values import MAX_DEPTH, Unusual, _Sink, _Source

__all__ = ["dumps", "parse", "parse_plain", "read_outline"]

N = TypeVar("N", bound=Node)

_EMPTY = _Source(None)
_CHECKING = _Source(None, checking=True)
_OUTLINING = _Source(None, checking=True, outline=True)
_OUTLINED = _Source(None, outline=True)


def _reject_constant(name: str) -> Any:
    raise VocabularyError(f"{name} is not valid JSON")


def _loads(data: bytes | str) -> Any:
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except VocabularyError:
        raise
    except RecursionError:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
        raise VocabularyError(f"not JSON: {exc}") from None


def _read_compacted(data: dict[str, Any], cls: type[Node]) -> Node:
    """The slow path: compact with pyld against our context, then read by name."""
    try:
        data = normalize(data)
    except UnknownContextError:
        pass  # read by name, as servers that do not process JSON-LD do
    except JsonLdError as exc:
        raise VocabularyError(f"cannot read the document's @context: {exc}") from exc
    except RecursionError:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels") from None
    context = data.get("@context")
    src = _Source(read_defs(context)) if context is not None else _EMPTY
    return build(data, (cls,), 0, src, strict=True)


def read_document(data: Any, cls: type[N], *, compact: bool = True) -> N | None:
    """Read one top-level JSON object as ``cls`` (or the subclass its type names).

    A document that reads differently as JSON-LD is compacted first; with
    ``compact=False`` the answer for it is None instead (so that a caller can
    compact it beside its event loop).
    """
    if isinstance(data, bytes | bytearray | str):
        data = _loads(bytes(data) if isinstance(data, bytearray) else data)
    if type(data) is not dict:
        raise VocabularyError(f"a document must be a JSON object, not {type(data).__name__}")
    context = data.get("@context")
    try:
        usual = is_usual_context(context)
    except RecursionError:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels") from None
    node: Node | None = None
    if usual:
        src = _Source(read_defs(context), checking=True) if context is not None else _CHECKING
        with contextlib.suppress(Unusual):  # then it is compacted, or None
            node = build(data, (cls,), 0, src, strict=True)
    if node is None:
        if not compact:
            return None
        node = _read_compacted(data, cls)
    assert isinstance(node, cls)
    return node


def parse_plain(data: dict[str, Any]) -> Node | None:
    """:func:`parse` of a decoded document that reads as plain JSON; None when
    it must be compacted first (:func:`activitypub.jsonld.normalize`), which
    is the caller's to do where it does not block anything."""
    from activitypub.vocab._core import Object

    return read_document(data, Object, compact=False)


def read_outline(data: dict[str, Any], *, compacted: bool = False) -> Node | None:
    """The outline of a decoded document: only ``id``, ``type``, ``actor``,
    ``object`` and ``attributedTo``, at every level, the rest left unread.

    What an inbox needs to accept or refuse an activity (who did what to
    which object) at a fraction of a full read, which the worker does later.
    None when the document (as far as the outline goes) reads differently as
    JSON-LD: compact it (:func:`activitypub.jsonld.normalize`) and outline that
    with ``compacted=True`` (its keys are read by name, unchecked).
    """
    from activitypub.vocab._core import Object

    context = data.get("@context")
    if compacted:
        return build(data, (Object,), 0, _OUTLINED, strict=True)
    try:
        if not is_usual_context(context):
            return None
        # no definitions kept: an outline is for deciding, never written back
        return build(data, (Object,), 0, _OUTLINING, strict=True)
    except Unusual:
        return None
    except RecursionError:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels") from None


def parse(data: bytes | str | dict[str, Any]) -> Node:
    """Read an ActivityStreams document into the class its ``type`` names.

    Accepts the request body (bytes or str) or already-decoded JSON. Any
    input that is not a usable document raises ``VocabularyError``.
    """
    from activitypub.vocab._core import Object

    node = read_document(data, Object)
    assert node is not None
    return node


def write_document(node: Node) -> dict[str, Any]:
    """``node`` as compact JSON under an ``@context`` of exactly the terms it uses.

    Embedded nodes have no ``@context`` of their own: the definitions of every
    source involved are merged, the document's own first (its definitions
    and its order of contexts win), and the one context must cover them all.
    """
    sink = _Sink(node)
    body = node._dump(sink)
    terms = sink.terms
    for term in list(terms):
        prefix, colon, _ = term.partition(":")
        if colon and prefix:
            terms.add(prefix)
    own = node.__dict__.get("_defs")
    merged = Defs.merge(sorted(sink.defs, key=lambda defs: defs is not own))
    kept = merged.used_by(terms, known_terms())
    extra = json.dumps(kept.terms, sort_keys=True) if kept.terms else ""
    context = _context(frozenset(terms), extra, kept.remote, merged.integrity)
    return {"@context": _copy(context), **body}


@functools.lru_cache(maxsize=512)
def _context(
    terms: frozenset[str], extra: str, remote: tuple[str, ...], integrity: str | None
) -> Any:
    """The ``@context`` for these terms; cached, as most documents look alike."""
    return context_for(
        terms,
        extra=json.loads(extra) if extra else None,
        data_integrity=integrity,
        remote=remote,
    )


def _copy(context: Any) -> Any:
    """A copy deep enough that callers may edit the result (contexts nest little)."""
    if isinstance(context, list):
        return [_copy(entry) for entry in context]
    if isinstance(context, dict):
        return {key: _copy(value) for key, value in context.items()}
    return context


def dumps(node: Node) -> bytes:
    """``node.to_json()`` as compact UTF-8 JSON."""
    return json.dumps(
        write_document(node), ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode()
