"""Usual-context detection, normalisation to the fast-path form, and context_for."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from activitypub import jsonld
from activitypub.jsonld import AS_CONTEXT, SECURITY_V1

REAL = Path(__file__).parent / "fixtures" / "real"
AS = "https://www.w3.org/ns/activitystreams#"


def load(name: str) -> Any:
    return json.loads((REAL / name).read_text("utf-8"))


def usual_note() -> dict[str, Any]:
    return {
        "@context": [AS_CONTEXT, {"sensitive": "as:sensitive"}],
        "id": "https://social.example/notes/1",
        "type": "Note",
        "name": "A title",
        "content": "<p>Hello</p>",
        "attributedTo": "https://social.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "sensitive": False,
    }


# The same statements, written in ways a plain-JSON reader would misread.
UNUSUAL_VARIANTS: dict[str, dict[str, Any]] = {
    "prefixed keys": {
        "@context": [AS_CONTEXT, {"sensitive": "as:sensitive"}],
        "@id": "https://social.example/notes/1",
        "@type": "as:Note",
        "as:name": "A title",
        "as:content": "<p>Hello</p>",
        "as:attributedTo": {"@id": "https://social.example/users/alice"},
        "as:to": {"@id": "as:Public"},
        "as:sensitive": False,
    },
    "absolute IRIs": {
        "@id": "https://social.example/notes/1",
        "@type": f"{AS}Note",
        f"{AS}name": "A title",
        f"{AS}content": "<p>Hello</p>",
        f"{AS}attributedTo": {"@id": "https://social.example/users/alice"},
        f"{AS}to": {"@id": f"{AS}Public"},
        f"{AS}sensitive": False,
    },
    "@vocab": {
        "@context": {"@vocab": AS, "id": "@id", "type": "@type"},
        "id": "https://social.example/notes/1",
        "type": "Note",
        "name": "A title",
        "content": "<p>Hello</p>",
        "attributedTo": {"id": "https://social.example/users/alice"},
        "to": {"id": f"{AS}Public"},
        "sensitive": False,
    },
    "renamed terms": {
        "@context": [
            AS_CONTEXT,
            {
                "headline": "as:name",
                "body": "as:content",
                "author": {"@id": "as:attributedTo", "@type": "@id"},
                "audienceOf": {"@id": "as:to", "@type": "@id"},
                "nsfw": "as:sensitive",
            },
        ],
        "id": "https://social.example/notes/1",
        "type": "Note",
        "headline": "A title",
        "body": "<p>Hello</p>",
        "author": "https://social.example/users/alice",
        "audienceOf": "https://www.w3.org/ns/activitystreams#Public",
        "nsfw": False,
    },
}


def test_mastodon_document_is_left_alone() -> None:
    doc = load("mastodon/create_note.json")
    before = copy.deepcopy(doc)
    assert not jsonld.needs_compaction(doc)
    assert jsonld.normalize(doc) is doc
    assert doc == before


@pytest.mark.parametrize(
    "name", ["mastodon/person.json", "lemmy/group.json", "pleroma/note.json", "mbin/instance.json"]
)
def test_usual_real_documents(name: str) -> None:
    doc = load(name)
    assert jsonld.is_usual_context(doc.get("@context"))
    assert not jsonld.needs_compaction(doc)


@pytest.mark.parametrize("variant", sorted(UNUSUAL_VARIANTS))
def test_unusual_document_is_compacted_and_reads_the_same(variant: str) -> None:
    doc = UNUSUAL_VARIANTS[variant]
    usual = usual_note()
    assert jsonld.needs_compaction(doc)
    normalized = jsonld.normalize(doc)
    for key in ("id", "type", "name", "content", "attributedTo", "sensitive"):
        assert normalized[key] == usual[key], key
    assert normalized["to"] in (usual["to"], usual["to"][0])
    assert not jsonld.needs_compaction(normalized)
    # same statements, whichever way they were written
    assert jsonld.canonicalize(doc) == jsonld.canonicalize(usual)
    assert jsonld.canonicalize(normalized) == jsonld.canonicalize(usual)


def test_redefined_known_term_is_not_read_by_name() -> None:
    doc = {
        "@context": [AS_CONTEXT, {"name": "http://schema.org/name"}],
        "type": "Note",
        "name": "not the AS name",
    }
    assert not jsonld.is_usual_context(doc["@context"])
    normalized = jsonld.normalize(doc)
    assert "name" not in normalized
    assert normalized["http://schema.org/name"] == "not the AS name"


@pytest.mark.parametrize(
    "ctx",
    [
        None,
        AS_CONTEXT,
        [AS_CONTEXT, SECURITY_V1],
        [AS_CONTEXT, {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"}],
        [AS_CONTEXT, {"myExtension": "https://new.example/ns#myExtension"}],
        [AS_CONTEXT, "https://pl.example/schemas/litepub-0.1.jsonld", {"@language": "und"}],
        [AS_CONTEXT, SECURITY_V1, jsonld.DATA_INTEGRITY_V2, {"Hashtag": "as:Hashtag"}],
        [AS_CONTEXT, {"featured": "toot:featured", "toot": "http://joinmastodon.org/ns#"}],
        jsonld.DEFAULT_CONTEXT,
    ],
)
def test_usual_contexts(ctx: Any) -> None:
    assert jsonld.is_usual_context(ctx)


@pytest.mark.parametrize(
    "ctx",
    [
        [AS_CONTEXT, {"@vocab": "https://evil.example/"}],
        [AS_CONTEXT, {"@base": "https://evil.example/"}],
        [AS_CONTEXT, {"@language": "en"}],
        [AS_CONTEXT, {"@direction": "rtl"}],
        [AS_CONTEXT, {"content": "https://evil.example/content"}],
        [AS_CONTEXT, {"toot": "https://evil.example/#", "Emoji": "toot:Emoji"}],
        [AS_CONTEXT, {"uri": "@id"}],
        [AS_CONTEXT, {"title": "as:name"}],
        [AS_CONTEXT, {"Box": {"@id": "https://x.example/Box", "@context": {"name": "ex:n"}}}],
        [AS_CONTEXT, {"contentMap": {"@id": "as:content", "@container": "@index"}}],
        [AS_CONTEXT, {"actor": {"@reverse": "as:actor"}}],
        [AS_CONTEXT, "https://unknown.example/context.jsonld"],
        [AS_CONTEXT, {"@import": "https://unknown.example/context.jsonld"}],
        [SECURITY_V1],  # no ActivityStreams at all
        [{"@protected": True, "name": "as:name"}, AS_CONTEXT],  # pyld refuses
        42,
    ],
)
def test_unusual_contexts(ctx: Any) -> None:
    assert not jsonld.is_usual_context(ctx)


def test_nested_unusual_context_is_noticed() -> None:
    doc = load("mastodon/create_note.json")
    doc["object"]["@context"] = {"content": "https://evil.example/content"}
    assert jsonld.needs_compaction(doc)


def test_nested_usual_context_is_fine() -> None:
    doc = load("mastodon/create_note.json")
    doc["object"]["@context"] = copy.deepcopy(doc["@context"])
    assert not jsonld.needs_compaction(doc)


@pytest.mark.parametrize(
    "tweak",
    [
        lambda d: d["object"].update({"@type": "Note"}),
        lambda d: d["object"].update({"toot:discoverable": True}),
        lambda d: d["object"].update({"type": "as:Note"}),
        lambda d: d["object"].update({"content": {"@value": "x", "@language": "en"}}),
        lambda d: d["object"]["tag"][0].update({"type": f"{AS}Mention"}),
    ],
)
def test_unusual_keys_at_any_depth(tweak: Any) -> None:
    doc = load("mastodon/create_note.json")
    tweak(doc)
    assert jsonld.needs_compaction(doc)


# -- context_for -------------------------------------------------------------


def test_context_for_only_as_is_a_string() -> None:
    assert jsonld.context_for(["id", "type", "name", "content", "to", "Note"]) == AS_CONTEXT


def test_context_for_security_terms() -> None:
    assert jsonld.context_for(["type", "publicKey", "publicKeyPem", "owner"]) == [
        AS_CONTEXT,
        SECURITY_V1,
    ]


def test_context_for_extension_terms() -> None:
    assert jsonld.context_for(["type", "tag", "Emoji"]) == [
        AS_CONTEXT,
        {"toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji"},
    ]


def test_context_for_integrity_and_multikey() -> None:
    ctx = jsonld.context_for(["proof", "DataIntegrityProof", "cryptosuite", "created"])
    assert ctx == [AS_CONTEXT, jsonld.DATA_INTEGRITY_V2]
    ctx = jsonld.context_for(["assertionMethod", "Multikey", "publicKeyMultibase", "controller"])
    assert ctx[:2] == [AS_CONTEXT, jsonld.MULTIKEY_V1]
    assert ctx[2] == {"assertionMethod": jsonld.EXTENSION_TERMS["assertionMethod"]}


def test_context_for_carries_extra_definitions() -> None:
    extra = {"colour": "https://remote.example/ns#colour", "shade": "toot:shade"}
    ctx = jsonld.context_for(["name", "colour", "shade"], extra=extra)
    assert ctx == [AS_CONTEXT, {"toot": "http://joinmastodon.org/ns#", **extra}]


def actor_with_extensions() -> dict[str, Any]:
    return {
        "id": "https://social.example/users/alice",
        "type": "Person",
        "preferredUsername": "alice",
        "discoverable": True,
        "manuallyApprovesFollowers": False,
        "featured": "https://social.example/users/alice/featured",
        "movedTo": "https://other.example/users/alice",
        "attachment": [{"type": "PropertyValue", "name": "Web", "value": "<a>x</a>"}],
        "tag": [
            {"type": "Hashtag", "name": "#tag", "href": "https://social.example/tags/tag"},
            {
                "type": "Emoji",
                "name": ":blob:",
                "icon": {"type": "Image", "url": "https://x/b.png"},
            },
        ],
        "publicKey": {
            "id": "https://social.example/users/alice#main-key",
            "owner": "https://social.example/users/alice",
            "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n...",
        },
    }


def _terms(doc: Any) -> set[str]:
    found: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.update(node)
            if isinstance(node.get("type"), str):
                found.add(node["type"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_context_for_reads_like_default_context() -> None:
    body = actor_with_extensions()
    ctx = jsonld.context_for(_terms(body))
    assert isinstance(ctx, list)
    assert ctx[:2] == [AS_CONTEXT, SECURITY_V1]
    assert set(ctx[2]) == {
        "toot",
        "schema",
        "discoverable",
        "manuallyApprovesFollowers",
        "featured",
        "movedTo",
        "PropertyValue",
        "value",
        "Hashtag",
        "Emoji",
    }
    built = {"@context": ctx, **body}
    default = {"@context": jsonld.DEFAULT_CONTEXT, **body}
    assert jsonld.canonicalize(built) == jsonld.canonicalize(default)
    assert jsonld.is_usual_context(ctx)
    assert not jsonld.needs_compaction(built)


def test_normalized_document_has_minimal_context() -> None:
    normalized = jsonld.normalize(UNUSUAL_VARIANTS["prefixed keys"])
    assert normalized["@context"] == [AS_CONTEXT, {"sensitive": "as:sensitive"}]
