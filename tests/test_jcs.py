"""RFC 8785 (JCS): the RFC's own examples, hypothesis properties, and V8 as an oracle."""

from __future__ import annotations

import json
import math
import random
import shutil
import struct
import subprocess
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub.errors import ParseError
from activitypub.jcs import MAX_DEPTH, canonicalize


def canon(value: Any) -> str:
    return canonicalize(value).decode("utf-8")


# -- RFC 8785 examples -------------------------------------------------------


def test_rfc8785_section_3_2_2_example() -> None:
    # The input of RFC 8785 section 3.2.2, parsed as JSON.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],'
        '"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canon(json.loads(text)) == expected


def test_rfc8785_section_3_2_3_sorting_utf16() -> None:
    # Keys sort by UTF-16 code units: the emoji's surrogate pair (D83D) sorts
    # before U+FB33 although its code point is larger.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [v for v in json.loads(canon(value)).values()]
    assert order == [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]


def test_rfc8785_section_3_2_4_utf8_output() -> None:
    # Section 3.2.4: the output is UTF-8, non-ASCII characters are not escaped.
    assert canonicalize({"Euro": "€"}) == b'{"Euro":"\xe2\x82\xac"}'


# RFC 8785 Appendix B: IEEE 754 bit patterns and their serialisation.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canon(value) == expected


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_rejected(bits: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    with pytest.raises(ParseError):
        canonicalize({"n": value})


# -- other edges -------------------------------------------------------------


def test_literals_and_integers() -> None:
    assert canon([True, False, None, 0, -1, 2**53 - 1, -(2**53 - 1)]) == (
        "[true,false,null,0,-1,9007199254740991,-9007199254740991]"
    )
    assert canon(1.0) == "1"
    assert canon(-0.0) == "0"
    assert canon(1e21) == "1e+21"
    assert canon(1e20) == "100000000000000000000"
    assert canon(1e-7) == "1e-7"


def test_large_integers_are_read_as_doubles() -> None:
    # As JavaScript's JSON.parse reads them (RFC 8785 models numbers as doubles).
    assert canon(2**53) == "9007199254740992"
    assert canon(2**53 + 1) == "9007199254740992"
    assert canon(-(10**20)) == "-100000000000000000000"
    assert canon(10**21) == "1e+21"
    # 1e20's canonical form parses back as an int; it must canonicalise the same.
    assert canon(json.loads(canon(1e20))) == canon(1e20)
    with pytest.raises(ParseError):
        canonicalize({"huge": 10**400})


def test_string_escaping_is_minimal() -> None:
    controls = "".join(chr(i) for i in range(0x20))
    out = canon(controls + '"\\/\u007f\u2028é')
    assert out.startswith('"\\u0000\\u0001')
    assert "\\b\\t\\n\\u000b\\f\\r" in out
    assert out.endswith('\\u001f\\"\\\\/\u007f\u2028é"')


def test_rejects_non_json() -> None:
    for bad in (b"bytes", {1: "x"}, {"s": {1, 2}}, object(), {"x": float("nan")}):
        with pytest.raises(ParseError):
            canonicalize(bad)


def test_rejects_lone_surrogates() -> None:
    with pytest.raises(ParseError):
        canonicalize({"k": "\ud800"})
    with pytest.raises(ParseError):
        canonicalize({"\udc00": 1})


def test_depth_bounded() -> None:
    ok: Any = []
    for _ in range(MAX_DEPTH - 1):
        ok = [ok]
    canonicalize(ok)
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ParseError):
        canonicalize(deep)


def test_accepts_any_mapping_and_sequence() -> None:
    value = MappingProxyType({"b": (1, 2), "a": OrderedDict([("y", 1), ("x", 2)])})
    assert canon(value) == '{"a":{"x":2,"y":1},"b":[1,2]}'


def test_does_not_mutate() -> None:
    value = {"b": [3, {"d": 1, "c": 2}], "a": 1}
    before = json.dumps(value)
    canonicalize(value)
    assert json.dumps(value) == before


# -- properties --------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
safe_ints = st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
doubles_as_ints = finite.filter(lambda f: f.is_integer() and abs(f) < 1e300).map(int)
text = st.text(st.characters(blacklist_categories=["Cs"]))
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | doubles_as_ints | finite | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """JSON equality where numbers compare as doubles (1 == 1.0, -0.0 == 0)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


@settings(max_examples=300)
@given(json_values)
def test_parse_of_canonical_is_the_value(value: Any) -> None:
    assert _same(json.loads(canonicalize(value)), value)


@settings(max_examples=300)
@given(json_values)
def test_idempotent(value: Any) -> None:
    once = canonicalize(value)
    assert canonicalize(json.loads(once)) == once


@settings(max_examples=200)
@given(st.dictionaries(text, json_values, max_size=8), st.randoms(use_true_random=False))
def test_key_order_independent(value: dict[str, Any], rnd: random.Random) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert canonicalize(dict(items)) == canonicalize(value)


@settings(max_examples=300)
@given(finite)
def test_floats_round_trip_exactly(value: float) -> None:
    assert float(json.loads(canonicalize(value))) == value or value == 0


# -- V8 as an oracle for number serialisation ----------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_numbers_match_ecmascript() -> None:
    rnd = random.Random(8785)
    values: list[float] = []
    while len(values) < 20_000:
        (x,) = struct.unpack(">d", rnd.getrandbits(64).to_bytes(8, "big"))
        if math.isfinite(x):
            values.append(x)
        values.append(rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-25, 25))
    script = (
        "const l=require('fs').readFileSync(0,'utf8').trim().split('\\n');"
        "process.stdout.write(l.map(h=>JSON.stringify(Buffer.from(h,'hex')"
        ".readDoubleBE(0))).join('\\n'))"
    )
    stdin = "\n".join(struct.pack(">d", v).hex() for v in values)
    result = subprocess.run(
        ["node", "-e", script], input=stdin, capture_output=True, text=True, check=True
    )
    expected = result.stdout.split("\n")
    assert len(expected) == len(values)
    mismatches = [(v, e) for v, e in zip(values, expected, strict=True) if canon(v) != e]
    assert mismatches == []
