"""Case-insensitive reading of request headers in whatever shape the server hands them over.

A plain ``dict`` is the hot case: its key tuple is lower-cased once per distinct
tuple (a :class:`_Shape`) so that each request costs dict look-ups only. Other
shapes (multidicts, ``httpx.Headers``, ASGI pairs) are merged into a getter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from activitypub.errors import MissingComponentError
from activitypub.signatures.cavage._common import Headers

if TYPE_CHECKING:
    from activitypub.signatures.cavage._coverage import _Plan
    from activitypub.signatures.cavage._signing_string import _Builder


def _clean(value: Any) -> str:
    """One header value as a string; repeated values joined with ", " (draft §2.3)."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1").strip()
    elif isinstance(value, list | tuple):
        text = ", ".join([_clean(v) for v in value])
    else:
        raise TypeError(f"header value of type {type(value).__name__}")
    return text


class _Shape:
    """The names of a plain ``dict`` of headers, lower-cased, seen once per distinct key tuple.

    ``index`` maps each lower-cased name to the dict's own key; ``builders``
    holds, per :class:`_Plan`, the signing-string builder for dicts of this
    shape (``None`` where there is none; see ``_fast_builder``); ``sign_keys``
    are the keys of ``date``, ``host`` and ``digest`` (``None`` when absent),
    the headers a signer may have to add.
    """

    __slots__ = ("builders", "index", "sign_keys")

    def __init__(self, index: dict[str, str]) -> None:
        self.index = index
        self.builders: dict[_Plan, _Builder | None] = {}
        self.sign_keys = (index.get("date"), index.get("host"), index.get("digest"))


# One entry per tuple of header names seen in a plain dict (``None``: not all
# str, or two differ only in case). Real traffic repeats a few shapes.
_SHAPES: dict[tuple[Any, ...], _Shape | None] = {}
_NOT_SEEN: Final = _Shape({})


def _dict_shape(headers: dict[Any, Any]) -> _Shape | None:
    keys = tuple(headers)
    shape = _SHAPES.get(keys, _NOT_SEEN)
    if shape is not _NOT_SEEN:
        return shape
    shape = None
    if all(key.__class__ is str for key in keys):
        index = {key.lower(): key for key in keys}
        if len(index) == len(keys):
            shape = _Shape(index)
    if len(_SHAPES) < 1024 and sum(len(key) for key in (shape.index if shape else ())) < 4096:
        _SHAPES[keys] = shape
    return shape


def _lookup(headers: Headers) -> tuple[Callable[[str], Any], _Shape | None]:
    """:func:`_header_getter`, and the :class:`_Shape` of ``headers`` if it is a plain dict."""
    if type(headers) is dict:
        shape = _dict_shape(headers)
        if shape is not None:
            index = shape.index
            dict_headers = headers

            def get(name: str) -> Any:
                key = index.get(name)
                return None if key is None else dict_headers[key]

            return get, shape
    return _header_getter(headers), None


def _header_getter(headers: Headers) -> Callable[[str], Any]:
    """A case-insensitive lookup ``name -> value`` (repeated fields joined).

    The value of a plain ``dict`` is returned as it is in the dict: where it is
    used, anything but a ``str`` goes through :func:`_clean`. Other shapes give
    cleaned strings.
    """
    if type(headers) is dict:
        # The common case: no two keys differing only in case. Values are
        # stripped where they are used and line breaks are caught on the whole
        # signing string (_build).
        shape = _dict_shape(headers)
        if shape is not None:
            return _lookup(headers)[0]
    getall = getattr(headers, "getall", None)
    if getall is not None and type(headers).__name__.startswith("CI"):
        # aiohttp's CIMultiDict(Proxy): case-insensitive and multi-valued already.
        def get_multi(name: str) -> str | None:
            values = getall(name, None)
            if values is None:
                return None
            if len(values) == 1 and values[0].__class__ is str:
                return values[0]  # stripped where used
            return _clean(values)

        return get_multi
    merged: dict[str, list[Any]] = {}
    multi_items = getattr(headers, "multi_items", None)  # httpx.Headers: one pair per field line
    if multi_items is not None:
        items = multi_items()
    else:
        items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        name = (key.decode("latin-1") if isinstance(key, bytes) else key).lower()
        if isinstance(value, list | tuple):
            merged.setdefault(name, []).extend(value)
        else:
            merged.setdefault(name, []).append(value)

    def get_merged(name: str) -> str | None:
        values = merged.get(name)
        return None if values is None else _clean(values if len(values) > 1 else values[0])

    return get_merged


def _find_header(get: Callable[[str], Any]) -> str:
    """The signature of a request: ``Signature``, else ``Authorization: Signature ...``."""
    value: Any = get("signature")
    if value is None:
        auth = get("authorization")
        if auth is not None and auth.__class__ is not str:
            auth = _clean(auth)
        if auth is None or auth[:10].lower() != "signature ":
            raise MissingComponentError("the request has no Signature header")
        value = "Signature " + auth[10:]
    elif value.__class__ is not str:
        value = _clean(value)
    text: str = value
    return text
