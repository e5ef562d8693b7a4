"""jsonfast.loads returns exactly what json.loads returns, and raises where it raises;
jsonfast.dumps_compact writes what decodes to json.dumps's meaning, or leaves it to json."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub import jsonfast

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@given(_VALUES, st.booleans())
def test_same_as_the_standard_library(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    for data in (text, text.encode("utf-8", "surrogatepass")):
        assert same(jsonfast.loads(data), json.loads(data))


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 123456789012345678901234567890}',  # beyond 64 bits: orjson makes a float
        b'{"a": -18446744073709551617}',
        b'{"a": NaN, "b": Infinity}',
        b'{"a": "\\ud800"}',  # a lone surrogate, escaped
        b'\xef\xbb\xbf{"a": 1}',  # a byte order mark
        '{"a": "caf\u00e9"}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',  # the last duplicate wins
        b"[" * 2000 + b"]" * 2000,  # deeper than orjson goes
    ],
)
def test_what_orjson_reads_differently_is_read_by_the_standard_library(body: bytes) -> None:
    try:
        expected = json.loads(body)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            jsonfast.loads(body)
        return
    assert same(jsonfast.loads(body), expected)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": }', b"\xff\xfe\x00", b"{} x"])
def test_errors_are_the_standard_library_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(ValueError):
        jsonfast.loads(body)


_ANY_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
_DUMPABLE = st.recursive(
    _SCALARS | _ANY_FLOATS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


def _reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(_DUMPABLE)
def test_dumps_compact_decodes_to_what_json_dumps_does(value: Any) -> None:
    reference = _reference(value)
    text = jsonfast.dumps_compact(value)
    if text is None:  # left to the standard library: it must be a case orjson cannot do
        assert (
            "NaN" in reference
            or "Infinity" in reference
            or any(0xD800 <= ord(c) <= 0xDFFF for c in reference)
            or _has_big_int(value)
        ), reference
        return
    assert same(json.loads(text), json.loads(reference))


def _has_big_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_big_int(v) for v in value)
    return False


@pytest.mark.parametrize(
    "value",
    [
        {"n": float("nan")},
        {"a": [1, {"b": float("-inf")}], "c": None},
        {"s": "\ud800"},
        {1: "not a string key"},
        {"big": 2**70},
        json.loads("[" * 300 + "]" * 300),
    ],
)
def test_dumps_compact_leaves_to_json_what_orjson_would_change(value: Any) -> None:
    """orjson writes NaN as null and refuses the rest: none of it may slip through."""
    assert jsonfast.dumps_compact(value) is None


def test_dumps_compact_refuses_what_json_refuses() -> None:
    """A dataclass or a datetime is not JSON for json.dumps: not for us either."""
    import dataclasses
    import datetime

    @dataclasses.dataclass
    class Point:
        x: int

    for value in ({"p": Point(1)}, {"t": datetime.datetime(2026, 1, 1)}):
        assert jsonfast.dumps_compact(value) is None
        with pytest.raises(TypeError):
            from activitypub.storage._database import dump_json

            dump_json(value)
