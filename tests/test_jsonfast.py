"""jsonfast.loads returns exactly what json.loads returns, and raises where it raises."""

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
