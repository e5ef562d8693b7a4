"""Plain property values: how strings, numbers, dates and raw JSON are checked.

Readers take ``(value, depth, source)`` and return the Python value or raise
``VocabularyError``; writers take ``(value, sink)`` and return JSON. A value
object (``{"@value": ...}``, which pyld's compaction can produce) reads as
its value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from activitypub.errors import VocabularyError
from activitypub.vocab._datetime import format_datetime, parse_datetime

if TYPE_CHECKING:
    from activitypub.vocab._context import Defs

__all__ = ["MAX_DEPTH", "PUBLIC", "LangMap", "Many", "check_json", "collect_terms"]

T = TypeVar("T")

Many: TypeAlias = T | list[T]
"""A property value that may be one item or an array of them, as sent."""

LangMap: TypeAlias = dict[str, str]
"""A language map (``contentMap``): language tag to text."""

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a document may have."""

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_PUBLIC_ALIASES = frozenset({"as:Public", "Public", PUBLIC})
_ADDRESSING = frozenset({"to", "cc", "bto", "bcc", "audience"})

Reader: TypeAlias = Callable[[Any, int, "_Source"], Any]
Writer: TypeAlias = Callable[[Any, "_Sink"], Any]


class Unusual(Exception):
    """Raised while reading when a key or type needs JSON-LD compaction first."""


class _Source:
    """What one parse shares across its nodes.

    ``defs`` are the source's own term definitions; ``checking`` says whether
    keys that only JSON-LD processing can read (``as:name``, ``@id``, a nested
    ``@context``) stop the fast path; ``outline`` reads only the properties
    that say who did what to which object (see ``read_outline``).
    """

    __slots__ = ("checking", "defs", "outline")

    def __init__(self, defs: Defs | None, *, checking: bool = False, outline: bool = False) -> None:
        self.defs = defs
        self.checking = checking
        self.outline = outline


class _Sink:
    """What one serialisation collects: term names used and definitions to keep.

    ``root`` is the node being written as the document (the others are
    embedded in it).
    """

    __slots__ = ("defs", "root", "terms")

    def __init__(self, root: object = None) -> None:
        self.terms: set[str] = set()
        self.defs: list[Defs] = []
        self.root = root


# -- plain values --------------------------------------------------------------


def _fail(expected: str, value: Any) -> VocabularyError:
    return VocabularyError(f"expected {expected}, got {type(value).__name__}")


def _read_text(value: Any, depth: int, src: _Source) -> Any:
    if value is None or type(value) is str:
        return value
    if type(value) is dict and "@value" in value:
        return _read_text(value["@value"], depth, src)
    raise _fail("a string", value)


def _read_texts(value: Any, depth: int, src: _Source) -> Any:
    if value is None or type(value) is str:
        return value
    if type(value) is list and all(type(v) is str for v in value):
        return list(value)
    raise _fail("a string or an array of strings", value)


def _read_bool(value: Any, depth: int, src: _Source) -> Any:
    if value is None or value is True or value is False:
        return value
    if type(value) is dict and "@value" in value:
        return _read_bool(value["@value"], depth, src)
    raise _fail("a boolean", value)


def _read_int(value: Any, depth: int, src: _Source) -> Any:
    if value is None or type(value) is int:
        return value
    if type(value) is dict and "@value" in value:
        return _read_int(value["@value"], depth, src)
    raise _fail("an integer", value)


def _read_float(value: Any, depth: int, src: _Source) -> Any:
    if value is None or type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    if type(value) is dict and "@value" in value:
        return _read_float(value["@value"], depth, src)
    raise _fail("a number", value)


def _read_datetime(value: Any, depth: int, src: _Source) -> Any:
    if value is None:
        return None
    if type(value) is str:
        return parse_datetime(value)
    if type(value) is dict and "@value" in value:
        return _read_datetime(value["@value"], depth, src)
    raise _fail("a date-time string", value)


def _read_datetime_or_bool(value: Any, depth: int, src: _Source) -> Any:
    if value is True or value is False:
        return value
    return _read_datetime(value, depth, src)


def _read_langmap(value: Any, depth: int, src: _Source) -> Any:
    if value is None:
        return None
    if type(value) is dict:
        for tag, text in value.items():
            if type(tag) is not str or type(text) is not str:
                raise VocabularyError("a language map must map strings to strings")
        return dict(value)
    raise _fail("a language map", value)


def _read_json(value: Any, depth: int, src: _Source) -> Any:
    check_json(value, depth)
    return value


def _read_type(value: Any, depth: int, src: _Source) -> Any:
    if value is None or type(value) is str:
        return value
    if type(value) is list and all(type(v) is str for v in value):
        return list(value)
    raise _fail("a type name or an array of them", value)


def _write_plain(value: Any, sink: _Sink) -> Any:
    return value


def _write_list(value: Any, sink: _Sink) -> Any:
    return list(value) if isinstance(value, list) else value


def _write_langmap(value: Any, sink: _Sink) -> Any:
    return dict(value)


def _write_datetime(value: Any, sink: _Sink) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


def _write_type(value: Any, sink: _Sink) -> Any:
    if isinstance(value, list):
        sink.terms.update(value)
        return list(value)
    sink.terms.add(value)
    return value


def _write_json(value: Any, sink: _Sink) -> Any:
    collect_terms(value, sink.terms)
    return value


def check_json(value: Any, depth: int) -> None:
    """Refuse what is not plain JSON or nests deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise VocabularyError(f"nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return
    if kind is float:
        if not math.isfinite(value):
            raise VocabularyError("not a finite number")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise VocabularyError("object keys must be strings")
            check_json(item, depth + 1)
        return
    if kind is list:
        for item in value:
            check_json(item, depth + 1)
        return
    raise VocabularyError(f"not a JSON value: {kind.__name__}")


def collect_terms(value: Any, terms: set[str]) -> None:
    """Add the keys and type names used in raw JSON to ``terms``."""
    if type(value) is dict:
        terms.update(value)
        kind = value.get("type")
        if type(kind) is str:
            terms.add(kind)
        elif type(kind) is list:
            terms.update(k for k in kind if type(k) is str)
        for item in value.values():
            if type(item) is dict or type(item) is list:
                collect_terms(item, terms)
    elif type(value) is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                collect_terms(item, terms)
