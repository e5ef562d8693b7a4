"""Every real federation document parses into the right class and survives a round trip.

The round trip is checked on meaning, not bytes: the original (read as
servers read it, with the default context under its own) and our output are
expanded with pyld and canonicalised, and must give the same statements.
Literals are compared by value: our context fixes datatypes (a date is an
``xsd:dateTime`` written with ``Z``), where a source may tag them otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activitypub.jsonld import DEFAULT_CONTEXT, canonicalize, expand, needs_compaction
from activitypub.vocab import (
    PUBLIC,
    Accept,
    Announce,
    Application,
    Article,
    Collection,
    Create,
    CryptographicKey,
    Delete,
    Emoji,
    Endpoints,
    Event,
    Flag,
    Follow,
    Group,
    Image,
    Language,
    Mention,
    Node,
    Note,
    OrderedCollection,
    Page,
    Person,
    PropertyValue,
    Source,
    Tombstone,
    Undo,
    Video,
    format_datetime,
    parse,
    parse_datetime,
)

FIXTURES = Path(__file__).parent / "fixtures" / "real"
PATHS = sorted(FIXTURES.rglob("*.json"))


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _literals_by_value(node: Any) -> Any:
    if isinstance(node, list):
        return [_literals_by_value(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "@value" in node:
        value, kind = node["@value"], node.get("@type", "")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = json.dumps(value)
        elif isinstance(kind, str) and kind.endswith("#dateTime"):
            value = format_datetime(parse_datetime(value))
        return {"@value": value}
    return {key: _literals_by_value(value) for key, value in node.items()}


def statements(doc: dict[str, Any]) -> set[str]:
    return set(canonicalize(_literals_by_value(expand(doc))).splitlines())


def as_servers_read(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with the default context beneath its own (undeclared
    ``sensitive`` still means as:sensitive, as every server reads it)."""
    context = doc.get("@context")
    if context is None:
        return doc
    own = context if isinstance(context, list) else [context]
    return {**doc, "@context": [*DEFAULT_CONTEXT, *own]}


@pytest.mark.parametrize("path", PATHS, ids=_name)
def test_round_trip_keeps_every_statement(path: Path) -> None:
    original = json.loads(path.read_bytes())
    out = parse(path.read_bytes()).to_json()
    assert statements(out) == statements(as_servers_read(original))


@pytest.mark.parametrize("path", PATHS, ids=_name)
def test_embedded_round_trip_keeps_every_statement(path: Path) -> None:
    """Embedded whole, as an Accept embeds the Follow it accepts, a received
    document has no @context of its own: ours must cover its terms, and stay
    valid JSON-LD.  Its own signatures are left out (they sign its bytes)."""
    original = json.loads(path.read_bytes())
    accept = Accept(id="https://example.org/accepts/1", actor="https://example.org/users/a")
    accept.object = parse(original)
    out = accept.to_json()
    unsigned = {k: v for k, v in original.items() if k not in ("proof", "signature")}
    named = {s for s in statements(as_servers_read(unsigned)) if "_:" not in s}
    assert named <= statements(out)


@pytest.mark.parametrize("path", PATHS, ids=_name)
def test_round_trip_is_stable(path: Path) -> None:
    once = parse(path.read_bytes()).to_json()
    assert parse(once).to_json() == once


@pytest.mark.parametrize("path", PATHS, ids=_name)
def test_json_shape_is_kept_on_the_fast_path(path: Path) -> None:
    """Single values stay single, arrays stay arrays, unknown keys stay."""
    original = json.loads(path.read_bytes())
    if needs_compaction(original):
        pytest.skip("read through pyld compaction, which reshapes arrays")
    out = parse(original).to_json()
    for key, value in original.items():
        if key == "@context" or value is None:  # null is "no value" and is omitted
            continue
        assert key in out
        assert isinstance(out[key], list) == isinstance(value, list), key


EXPECTED: dict[str, type[Node]] = {
    "discourse/group.json": Group,
    "friendica/page_2.json": Article,
    "lemmy/accept.json": Accept,
    "lemmy/comment.json": Note,
    "lemmy/group.json": Group,
    "lemmy/group_followers.json": Collection,
    "lemmy/group_outbox.json": OrderedCollection,
    "lemmy/instance.json": Application,
    "lemmy/page.json": Page,
    "lemmy/report_page.json": Flag,
    "lemmy/tombstone.json": Tombstone,
    "lemmy/undo_delete_private_message.json": Undo,
    "mastodon/delete.json": Delete,
    "mastodon/follow.json": Follow,
    "mastodon/person.json": Person,
    "mobilizon/event.json": Event,
    "peertube/video.json": Video,
}


@pytest.mark.parametrize(("name", "cls"), EXPECTED.items())
def test_type_picks_the_class(name: str, cls: type[Node]) -> None:
    assert type(parse((FIXTURES / name).read_bytes())) is cls


def load(name: str) -> Any:
    return parse((FIXTURES / name).read_bytes())


def test_lemmy_group() -> None:
    group = load("lemmy/group.json")
    assert isinstance(group, Group)
    assert group.posting_restricted_to_mods is False
    assert group.attributed_to == "https://enterprise.lemmy.ml/c/tenforward/moderators"
    assert isinstance(group.source, Source) and group.source.media_type == "text/markdown"
    assert isinstance(group.endpoints, Endpoints)
    assert group.endpoints.shared_inbox == "https://enterprise.lemmy.ml/inbox"
    assert isinstance(group.public_key, CryptographicKey)
    assert group.public_key.owner == group.id
    assert isinstance(group.language, list) and isinstance(group.language[0], Language)
    assert group.language[0].identifier == "fr"
    assert isinstance(group.icon, Image)
    assert group.published == parse_datetime("2019-06-02T16:43:50.799554Z")
    assert group.extra == {"description": "A description of ten forward."}


def test_lemmy_moderators() -> None:
    # Lemmy names its moderators collection in attributedTo; others use moderators
    group = Group(id="https://x.example/c/a", moderators="https://x.example/c/a/moderators")
    assert parse(group.to_json()) == group


def test_mastodon_person() -> None:
    person = load("mastodon/person.json")
    assert isinstance(person, Person)
    assert isinstance(person.public_key, CryptographicKey)
    assert person.public_key.public_key_pem is not None
    assert person.public_key.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert (
        person.featured == "https://masto.qa.urbanwildlife.biz/users/mastodon/collections/featured"
    )
    assert person.manually_approves_followers is False
    assert person.discoverable is False
    assert person.tag == [] and person.attachment == []
    assert person.extra == {
        "devices": "https://masto.qa.urbanwildlife.biz/users/mastodon/collections/devices"
    }


def test_profile_fields_and_emoji() -> None:
    person = load("wordpress/person.json")
    assert isinstance(person, Person)
    assert isinstance(person.attachment, list)
    assert all(isinstance(field, PropertyValue) for field in person.attachment)
    assert isinstance(person.attachment[0], PropertyValue)
    assert person.attachment[0].name == "Blog"
    assert "pfefferle.org" in (person.attachment[0].value or "")

    pleroma = load("pleroma/person.json")
    assert isinstance(pleroma.tag, list)
    emoji = pleroma.tag[0]
    assert isinstance(emoji, Emoji)
    assert emoji.name == ":anarchy:"
    assert isinstance(emoji.icon, Image)


def test_announce_create_page() -> None:
    announce = load("lemmy/announce_create_page.json")
    assert isinstance(announce, Announce)
    assert isinstance(announce.object, Create)
    page = announce.object.object
    assert isinstance(page, Page)
    assert page.comments_enabled is True
    assert page.stickied is False
    assert page.audience == "http://enterprise.lemmy.ml/u/main"
    assert announce.to == [PUBLIC]


def test_mastodon_create_note() -> None:
    create = load("mastodon/create_note.json")
    assert isinstance(create, Create)
    note = create.object
    assert isinstance(note, Note)
    assert note.summary is None
    assert note.sensitive is False
    assert note.content_map is not None and set(note.content_map) == {"en"}
    assert isinstance(note.tag, list) and isinstance(note.tag[0], Mention)
    assert note.tag[0].href == "https://mamot.fr/users/retiolus"
    assert isinstance(note.replies, Collection)
    assert note.extra["atomUri"] == note.id


def test_unknown_types_keep_their_name() -> None:
    lock = load("lemmy/lock_note.json")  # Lemmy's own activity type
    assert type(lock).__name__ == "Activity"
    assert lock.type == "Lock"
    page = load("lemmy/page.json")
    assert isinstance(page.tag, list)
    community_tag = page.tag[0]
    assert community_tag.type == "CommunityPostTag"
    assert community_tag.extra == {"preferredUsername": "news"}
