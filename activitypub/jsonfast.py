"""Decoding and encoding JSON fast, with the standard library's results.

orjson decodes an inbox body about three times faster than :mod:`json`, and
the decoding is a fixed cost of every request. Where the two could differ,
the standard library decides: orjson reads integers beyond 64 bits as floats,
so a body with a run of 19 or more digits (the only way to write one; the
digits may as well be inside a string) goes to :func:`json.loads`, as does
everything orjson refuses that :mod:`json` reads (``NaN``, lone surrogates,
a byte order mark, UTF-16 and UTF-32 bodies, nesting past orjson's limit).

Encoding (:func:`dumps_compact`) is about five times faster with orjson; its
text may differ from :func:`json.dumps`'s only in how a float is spelled
(``1e16`` for ``1e+16``), never in what it decodes to.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps_compact", "loads"]

# Every digit made a "0", then one substring search: far cheaper than a
# regular expression, which tries a 19-digit match at every digit.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def loads(data: bytes | str) -> Any:
    """What ``json.loads(data)`` returns (and raises), sooner."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _LONG_RUN not in raw.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library reads it, or says why not
    return json.loads(data)


# Types orjson would encode where json raises TypeError, or encode its own way
# (subclasses of str, int, dict, list): all go to the standard library.
_PASSTHROUGH = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def dumps_compact(data: Any) -> str | None:
    """``json.dumps(data, ensure_ascii=False, separators=(",", ":"))`` by
    orjson, or ``None`` where only :mod:`json` gives that meaning (or its
    error): integers beyond 64 bits, lone surrogates, keys that are not
    strings, NaN and infinities (orjson writes ``null``), subclasses, deep nesting."""
    try:
        text = orjson.dumps(data, option=_PASSTHROUGH)
    except (orjson.JSONEncodeError, TypeError):
        return None
    if b"null" in text and _non_finite(data):
        return None
    return text.decode()


def _non_finite(data: Any) -> bool:
    """Whether a float NaN or infinity is anywhere in ``data``. Only exact
    types get here (orjson hands subclasses back, and we give up on them)."""
    stack = [data]
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        cls = value.__class__
        if cls is str:
            continue
        if cls is float:
            if value - value != 0.0:  # NaN and the infinities
                return True
        elif cls is dict:
            extend(value.values())
        elif cls is list or cls is tuple:
            extend(value)
    return False
