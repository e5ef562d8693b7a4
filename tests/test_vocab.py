"""Construction, serialisation, ``@context`` building, helpers and unusual contexts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from activitypub.errors import VocabularyError
from activitypub.jsonld import AS_CONTEXT, MULTIKEY_V1, SECURITY_V1, expand
from activitypub.vocab import (
    PUBLIC,
    Activity,
    Actor,
    Article,
    Create,
    CryptographicKey,
    Emoji,
    Endpoints,
    Hashtag,
    Image,
    Link,
    Mention,
    Multikey,
    Note,
    Object,
    Page,
    Person,
    Question,
    as_list,
    dumps,
    first,
    format_datetime,
    id_of,
    ids_of,
    is_public,
    parse,
    parse_datetime,
)

AS = "https://www.w3.org/ns/activitystreams#"
ALICE = "https://example.com/users/alice"


def values(expanded: list[Any], prop: str) -> list[Any]:
    return [v.get("@id", v.get("@value")) for v in expanded[0].get(prop, [])]


# -- construction and serialisation ------------------------------------------------


def test_construct_by_keyword_and_serialise() -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    article = Article(
        id="https://example.com/a/1",
        name="Title",
        content="<p>Body</p>",
        attributed_to=ALICE,
        to=[PUBLIC],
        published=when,
    )
    assert article.type == "Article"
    assert article.to_json() == {
        "@context": AS_CONTEXT,
        "id": "https://example.com/a/1",
        "type": "Article",
        "attributedTo": ALICE,
        "content": "<p>Body</p>",
        "name": "Title",
        "published": "2024-05-01T12:30:00Z",
        "to": [PUBLIC],
    }


def test_constructed_object_expands_to_the_right_triples() -> None:
    note = Note(
        id="https://example.com/n/1",
        content="hi",
        attributed_to=ALICE,
        cc=ALICE,
        sensitive=True,
        in_reply_to=Note(id="https://example.com/n/0"),
    )
    expanded = expand(note.to_json())
    assert expanded[0]["@type"] == [AS + "Note"]
    assert values(expanded, AS + "content") == ["hi"]
    assert values(expanded, AS + "attributedTo") == [ALICE]
    assert values(expanded, AS + "cc") == [ALICE]
    assert values(expanded, AS + "sensitive") == [True]
    assert values(expanded, AS + "inReplyTo") == ["https://example.com/n/0"]


def test_context_is_exactly_what_is_used() -> None:
    assert Note(content="x").to_json()["@context"] == AS_CONTEXT

    person = Person(
        id=ALICE,
        inbox=ALICE + "/inbox",
        public_key=CryptographicKey(id=ALICE + "#main-key", owner=ALICE, public_key_pem="PEM"),
    )
    assert person.to_json()["@context"] == [AS_CONTEXT, SECURITY_V1]

    emoji = Note(content=":blob:", tag=[Emoji(name=":blob:", icon=Image(url="https://e/b.png"))])
    assert emoji.to_json()["@context"] == [
        AS_CONTEXT,
        {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"},
    ]

    mastodon = Person(id=ALICE, discoverable=True, manually_approves_followers=False)
    context = mastodon.to_json()["@context"]
    assert context[0] == AS_CONTEXT and SECURITY_V1 not in context
    assert set(context[1]) == {"toot", "discoverable", "manuallyApprovesFollowers"}


def test_multikey_actor() -> None:
    key = Multikey(id=ALICE + "#ed25519", controller=ALICE, public_key_multibase="z6Mkabc")
    person = Person(id=ALICE, assertion_method=[key])
    doc = person.to_json()
    assert MULTIKEY_V1 in doc["@context"]
    assert doc["assertionMethod"][0]["type"] == "Multikey"
    expanded = expand(doc)
    [method] = expanded[0]["https://w3id.org/security#assertionMethod"]
    assert method["@id"] == ALICE + "#ed25519"
    assert parse(doc) == person


def test_nested_objects_carry_no_context() -> None:
    create = Create(actor=ALICE, object=Note(content="x", tag=[Hashtag(name="#a", href="h")]))
    doc = create.to_json()
    assert "@context" in doc
    assert "@context" not in doc["object"]
    assert "@context" not in doc["object"]["tag"][0]


def test_unset_fields_are_omitted_and_type_is_set() -> None:
    assert Note().to_json() == {"@context": AS_CONTEXT, "type": "Note"}
    assert Actor(id=ALICE).to_json() == {"@context": AS_CONTEXT, "id": ALICE}


def test_to_bytes_and_dumps() -> None:
    note = Note(content="é")
    assert note.to_bytes() == dumps(note)
    assert b'"content":"\xc3\xa9"' in note.to_bytes()


def test_repr_shows_what_is_set() -> None:
    assert repr(Note(content="x")) == "Note(type='Note', content='x')"


# -- reading -------------------------------------------------------------------------


def test_type_list_picks_the_known_type_and_keeps_the_rest() -> None:
    page = parse({"type": ["Page", "lemmy:Something"], "id": "https://x/p/1", "name": "t"})
    assert isinstance(page, Page)
    assert page.type == ["Page", "lemmy:Something"]
    assert page.to_json()["type"] == ["Page", "lemmy:Something"]


def test_unknown_types_read_as_the_nearest_generic_class() -> None:
    activity = parse({"type": "Lock", "actor": ALICE, "object": "https://x/p/1"})
    assert type(activity) is Activity and activity.type == "Lock"
    actor = parse({"type": "Bot", "id": ALICE, "inbox": ALICE + "/inbox"})
    assert type(actor) is Actor and actor.inbox == ALICE + "/inbox"
    thing = parse({"type": "Widget", "name": "w"})
    assert type(thing) is Object and thing.to_json()["type"] == "Widget"


def test_as_prefixed_type_name_is_known() -> None:
    assert isinstance(parse({"type": "as:Note"}), Note)


def test_embedded_links_and_iris() -> None:
    note = parse(
        {
            "type": "Note",
            "url": [
                {"type": "Link", "href": "https://x/1", "mediaType": "text/html"},
                "https://x/2",
            ],
            "attachment": {"href": "https://x/3"},
            "attributedTo": [{"type": "Person", "id": ALICE}],
        }
    )
    assert isinstance(note, Note)
    assert isinstance(note.url, list) and isinstance(note.url[0], Link)
    assert note.url[1] == "https://x/2"
    assert isinstance(note.attachment, Link)  # no type, but an href
    assert isinstance(first(note.attributed_to), Person)
    assert id_of(note.attributed_to) == ALICE
    assert ids_of(note.url) == ["https://x/1", "https://x/2"]


def test_helpers() -> None:
    assert as_list(None) == [] and as_list("a") == ["a"] and as_list(["a"]) == ["a"]
    assert first(None) is None and first([]) is None and first(["a", "b"]) == "a"
    assert id_of(None) is None and id_of("x") == "x" and id_of(Note(id="y")) == "y"
    assert id_of(Mention(href="https://m")) == "https://m"
    assert is_public([ALICE, PUBLIC]) and is_public("as:Public") and is_public("Public")
    assert not is_public([ALICE]) and not is_public(None)


def test_public_forms_read_as_public() -> None:
    note = parse({"type": "Note", "to": ["as:Public", ALICE], "cc": "Public"})
    assert isinstance(note, Note)
    assert note.to == [PUBLIC, ALICE] and note.cc == PUBLIC


def test_language_map_beside_plain_value() -> None:
    note = parse({"type": "Note", "content": "hi", "contentMap": {"en": "hi", "de": "hallo"}})
    assert isinstance(note, Note)
    assert note.content == "hi" and note.content_map == {"en": "hi", "de": "hallo"}


def test_question() -> None:
    poll = parse(
        {
            "type": "Question",
            "oneOf": [
                {"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 3}}
            ],
            "closed": "2024-01-01T00:00:00Z",
            "votersCount": 3,
        }
    )
    assert isinstance(poll, Question)
    assert poll.voters_count == 3 and isinstance(poll.closed, datetime)
    assert isinstance(first(poll.one_of), Note)
    assert parse({"type": "Question", "closed": True}).to_json()["closed"] is True


def test_endpoints_and_source() -> None:
    actor = parse({"type": "Person", "endpoints": {"sharedInbox": "https://x/inbox", "x": 1}})
    assert isinstance(actor, Person) and isinstance(actor.endpoints, Endpoints)
    assert actor.endpoints.shared_inbox == "https://x/inbox" and actor.endpoints.extra == {"x": 1}
    note = parse({"type": "Note", "source": "plain text"})  # Pleroma sends a string
    assert isinstance(note, Note) and note.source == "plain text"


def test_from_json_checks_the_class() -> None:
    assert isinstance(Note.from_json({"type": "Note"}), Note)
    assert isinstance(Note.from_json({"type": "Thing"}), Note)
    with pytest.raises(VocabularyError):
        Note.from_json({"type": "Person"})
    key = CryptographicKey.from_json({"id": "k", "owner": "o", "publicKeyPem": "p"})
    assert key.public_key_pem == "p"


def test_unknown_inline_terms_survive() -> None:
    doc = {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"ex": "https://example.org/ns#", "mood": "ex:mood", "unused": "ex:unused"},
        ],
        "type": "Note",
        "mood": "happy",
    }
    out = parse(doc).to_json()
    assert out["@context"] == [AS_CONTEXT, {"ex": "https://example.org/ns#", "mood": "ex:mood"}]
    assert values(expand(out), "https://example.org/ns#mood") == ["happy"]


# -- unusual contexts read like the usual form ---------------------------------------

USUAL = {
    "@context": "https://www.w3.org/ns/activitystreams",
    "id": "https://example.com/n/1",
    "type": "Note",
    "content": "hi",
    "attributedTo": ALICE,
    "to": [PUBLIC],
}

UNUSUAL: dict[str, dict[str, Any]] = {
    "as-prefixes": {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://example.com/n/1",
        "type": "as:Note",
        "as:content": "hi",
        "as:attributedTo": {"id": ALICE},
        "as:to": {"id": "as:Public"},
    },
    "full-iris": {
        "@context": "https://www.w3.org/ns/activitystreams",
        "@id": "https://example.com/n/1",
        "@type": AS + "Note",
        AS + "content": "hi",
        AS + "attributedTo": {"@id": ALICE},
        AS + "to": [{"@id": PUBLIC}],
    },
    "vocab": {
        "@context": {"@vocab": AS, "id": "@id", "type": "@type"},
        "id": "https://example.com/n/1",
        "type": "Note",
        "content": "hi",
        "attributedTo": {"id": ALICE},
        "to": {"id": PUBLIC},
    },
    "redefined-alias": {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            {"body": "as:content", "author": {"@id": "as:attributedTo", "@type": "@id"}},
        ],
        "id": "https://example.com/n/1",
        "type": "Note",
        "body": "hi",
        "author": ALICE,
        "to": PUBLIC,
    },
    "expanded": {
        "@id": "https://example.com/n/1",
        "@type": [AS + "Note"],
        AS + "content": [{"@value": "hi"}],
        AS + "attributedTo": [{"@id": ALICE}],
        AS + "to": [{"@id": PUBLIC}],
    },
}


@pytest.mark.parametrize("name", UNUSUAL)
def test_unusual_context_reads_like_the_usual_form(name: str) -> None:
    usual = parse(USUAL)
    odd = parse(UNUSUAL[name])
    assert isinstance(odd, Note)
    assert (odd.id, odd.content, id_of(odd.attributed_to)) == (usual.id, "hi", ALICE)
    assert as_list(odd.to) == [PUBLIC]
    assert odd.extra == {}


# -- date-times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-02-26T12:35:34.292626Z", datetime(2021, 2, 26, 12, 35, 34, 292626, tzinfo=UTC)),
        ("2021-02-26T12:35:34Z", datetime(2021, 2, 26, 12, 35, 34, tzinfo=UTC)),
        ("2021-02-26T12:35:34.123456789Z", datetime(2021, 2, 26, 12, 35, 34, 123456, tzinfo=UTC)),
        ("2021-02-26T12:35:34.5+02:00", datetime(2021, 2, 26, 10, 35, 34, 500000, tzinfo=UTC)),
        ("2021-02-26 12:35:34", datetime(2021, 2, 26, 12, 35, 34, tzinfo=UTC)),
        ("2021-02-26", datetime(2021, 2, 26, tzinfo=UTC)),
        ("2021-02-26T12:35-0130", datetime(2021, 2, 26, 14, 5, tzinfo=UTC)),
    ],
)
def test_datetimes_servers_send(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2021-13-01T00:00:00Z",
        "2021-02-30",
        "1612345678",
        "2021-02-26T12:35:34+25:00",
    ],
)
def test_garbage_datetimes_are_refused(text: str) -> None:
    with pytest.raises(VocabularyError):
        parse({"type": "Note", "published": text})


def test_datetimes_are_written_in_utc_with_z() -> None:
    tz = timezone(timedelta(hours=-5))
    assert format_datetime(datetime(2024, 1, 1, 7, tzinfo=tz)) == "2024-01-01T12:00:00Z"
    assert format_datetime(datetime(2024, 1, 1, 7, 0, 0, 120000)) == "2024-01-01T07:00:00.120Z"
    assert format_datetime(datetime(2024, 1, 1, 7, 0, 0, 123456)) == "2024-01-01T07:00:00.123456Z"
