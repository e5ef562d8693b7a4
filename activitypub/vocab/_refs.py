"""Helpers for properties that hold an IRI, an embedded object, or an array of either.

Servers choose freely between ``"actor": "https://..."``, ``"actor": {...}``
and ``"actor": [...]``; these read all three the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from activitypub.vocab._node import PUBLIC, Many, Node

if TYPE_CHECKING:
    from activitypub.vocab._core import Ref

__all__ = ["PUBLIC", "as_list", "first", "id_of", "ids_of", "is_public"]

T = TypeVar("T")
N = TypeVar("N", bound=Node)

_PUBLIC_FORMS = frozenset({PUBLIC, "as:Public", "Public"})


@overload
def as_list(value: Many[str] | None) -> list[str]: ...
@overload
def as_list(value: Many[Ref] | None) -> list[Ref]: ...
@overload
def as_list(value: Many[str | N] | None) -> list[str | N]: ...
@overload
def as_list(value: Many[T] | None) -> list[T]: ...
def as_list(value: Any) -> list[Any]:
    """The value as a list: ``[]`` for None, ``[value]`` for a single value."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


@overload
def first(value: Many[str] | None) -> str | None: ...
@overload
def first(value: Many[Ref] | None) -> Ref | None: ...
@overload
def first(value: Many[str | N] | None) -> str | N | None: ...
@overload
def first(value: Many[T] | None) -> T | None: ...
def first(value: Any) -> Any:
    """The value, or the first item of an array (None when empty or unset)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def id_of(value: str | Node | Sequence[str | Node] | None) -> str | None:
    """The IRI a reference points at: the string itself, or an embedded object's ``id``.

    For an array, the first item's; for a Link without an ``id``, its ``href``.
    """
    loose: Any = value
    kind = type(loose)
    if kind is str or loose is None:  # the usual cases first: no ABC check
        return cast(str | None, loose)
    item: Any
    if kind is list or (
        kind is not dict and isinstance(loose, Sequence) and not isinstance(loose, str)
    ):
        if not loose:
            return None
        item = loose[0]
    else:
        item = loose
    if item is None or isinstance(item, str):
        return item
    if isinstance(item, Node):
        if item.id is not None:
            return item.id
        href = item.__dict__.get("href")
        return href if isinstance(href, str) else None
    return None


def ids_of(value: str | Node | Iterable[str | Node] | None) -> list[str]:
    """The IRI of every item (items without one are skipped)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str | Node) else list(value)
    out = []
    for item in items:
        iri = id_of(item)
        if iri is not None:
            out.append(iri)
    return out


def is_public(value: str | Node | Iterable[str | Node] | None) -> bool:
    """Whether an addressing value (``to``, ``cc``, ...) includes the public collection."""
    return any(iri in _PUBLIC_FORMS for iri in ids_of(value))
