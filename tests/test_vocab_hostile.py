"""Odd and hostile input raises VocabularyError and nothing else."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitypub.errors import ParseError, VocabularyError
from activitypub.vocab import (
    MAX_DEPTH,
    Article,
    Hashtag,
    Mention,
    Note,
    Object,
    Person,
    PropertyValue,
    parse,
)
from activitypub.vocab._node import _CLASSES, _TYPES


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"type": "Note", "inReplyTo": value}
    return value


HOSTILE: dict[str, Any] = {
    "list at top": [{"type": "Note"}],
    "number at top": 3,
    "null at top": None,
    "string JSON": b'"Note"',
    "broken JSON": b'{"type": "Note"',
    "not UTF-8": b'{"type": "\xff"}',
    "NaN": b'{"type": "Note", "width": NaN}',
    "huge integer": b'{"totalItems": ' + b"9" * 5000 + b"}",
    "number as id": {"type": "Note", "id": 5},
    "dict as published": {"type": "Note", "published": {"at": "now"}},
    "number as type": {"type": 7},
    "number in type list": {"type": ["Note", 7]},
    "bool as content": {"type": "Note", "content": True},
    "list as name": {"type": "Note", "name": ["a", "b"]},
    "number in to": {"type": "Note", "to": [1]},
    "nested list in tag": {"type": "Note", "tag": [["x"]]},
    "bad language map": {"type": "Note", "contentMap": {"en": 1}},
    "string as totalItems": {"type": "Collection", "totalItems": "5"},
    "bool as totalItems": {"type": "Collection", "totalItems": True},
    "garbage date": {"type": "Note", "updated": "soon"},
    "list as endpoints": {"type": "Person", "endpoints": ["x"]},
    "number as context": {"@context": 5, "type": "Note"},
    "bad context entry": {"@context": ["https://www.w3.org/ns/activitystreams", 5]},
    "deep objects": nested(MAX_DEPTH + 5),
    "deep extra": {"type": "Note", "x": json.loads("[" * 200 + "]" * 200)},
    "deep JSON text": b"[" * 100_000 + b"]" * 100_000,
    "deep object text": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "non-str key": {"type": "Note", 5: "x"},
    "non-JSON value": {"type": "Note", "x": {1, 2}},
    "infinite float": {"type": "Place", "latitude": float("inf")},
    "link at top": {"type": "Link", "href": "https://x"},
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_raises_vocabulary_error(name: str) -> None:
    with pytest.raises(VocabularyError):
        parse(HOSTILE[name])


def test_vocabulary_error_is_a_parse_error() -> None:
    assert issubclass(VocabularyError, ParseError)


def test_error_names_the_property() -> None:
    with pytest.raises(VocabularyError, match=r"object: tag: \[1\]: href"):
        parse({"type": "Create", "object": {"type": "Note", "tag": ["x", {"href": 1}]}})


def test_nesting_just_under_the_limit_is_fine() -> None:
    assert isinstance(parse(nested(MAX_DEPTH - 2)), Note)


# -- property tests --------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["https://x.example/a", "2024-01-01T00:00:00Z", "Note", "as:Public"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["type", "id", "href", "name", "actor", "object", "x"])
            | st.text(max_size=8),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)

PROPERTY_NAMES = sorted({name for cls in _CLASSES.values() for name in cls._READ} | {"@context"})
TYPE_NAMES = sorted(_TYPES)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    kind=st.sampled_from(TYPE_NAMES),
    props=st.dictionaries(st.sampled_from(PROPERTY_NAMES), json_values, max_size=4),
)
def test_random_property_values_raise_only_vocabulary_error(
    kind: str, props: dict[str, Any]
) -> None:
    doc = {"type": kind, **props}
    try:
        obj = parse(doc)
    except VocabularyError:
        return
    out = obj.to_json()
    json.dumps(out, allow_nan=False)
    try:
        again = parse(out)
    except VocabularyError:  # e.g. a random @context that pyld rejects on the way back
        return
    assert type(again) is type(obj)


@settings(max_examples=200, deadline=None)
@given(data=json_values)
def test_random_documents_raise_only_vocabulary_error(data: Any) -> None:
    with contextlib.suppress(VocabularyError):
        parse(data)
    with contextlib.suppress(VocabularyError):
        parse(json.dumps(data))


texts = st.none() | st.text(max_size=30)
iris = st.none() | st.sampled_from(["https://a.example/1", "https://b.example/2"])
moments = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
tags = st.lists(
    st.builds(Mention, href=iris, name=texts) | st.builds(Hashtag, href=iris, name=texts),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    cls=st.sampled_from([Note, Article, Object]),
    content=texts,
    name=texts,
    sensitive=st.none() | st.booleans(),
    published=moments,
    to=st.none()
    | iris
    | st.lists(
        st.sampled_from(["https://a.example/1", "https://www.w3.org/ns/activitystreams#Public"]),
        max_size=2,
    ),
    tag=st.none() | tags,
    content_map=st.none()
    | st.dictionaries(st.sampled_from(["en", "de", "fr"]), st.text(max_size=10)),
)
def test_generated_objects_round_trip(
    cls: type[Object],
    content: str | None,
    name: str | None,
    sensitive: bool | None,
    published: datetime | None,
    to: Any,
    tag: Any,
    content_map: dict[str, str] | None,
) -> None:
    obj = cls(
        content=content,
        name=name,
        sensitive=sensitive,
        published=published,
        to=to,
        tag=tag,
        content_map=content_map,
    )
    doc = obj.to_json()
    assert parse(doc) == obj
    assert parse(obj.to_bytes()).to_json() == doc


def test_profile_field_round_trip() -> None:
    person = Person(
        id="https://a.example/u", attachment=[PropertyValue(name="Web", value="<a>x</a>")]
    )
    assert parse(person.to_json()) == person
