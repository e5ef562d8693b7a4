"""What ``to_json`` writes as ``@context`` for received documents stays valid JSON-LD.

Fedify 2.x sends documents under Data Integrity v1 (a context whose terms are
``@protected``), often with identity/v1, DID and Multikey contexts, and
signs them twice: a FEP-8b32 ``proof`` and an RsaSignature2017
``signature``.  Writing such a document back (or embedding it, as an Accept
embeds the Follow it accepts) once named Data Integrity v2 next to the
source's v1; a JSON-LD processor refuses that ("tried to redefine a
protected term") and Fedify answered 400.

Every case here is expanded offline with pyld: parsing and writing back must
keep every statement (read as servers read the original), and embedding
must expand too.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from test_vocab_fixtures import _literals_by_value, as_servers_read

from activitypub import vocab
from activitypub.jsonld import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1,
    DATA_INTEGRITY_V2,
    IDENTITY_V1,
    MULTIKEY_V1,
    SECURITY_V1,
    SECURITY_V2,
    DocumentLoader,
    canonicalize,
    context_for,
    expand,
)
from activitypub.jsonld.contexts import DID_V1, bundled_file

HOST = "https://fedify.example"
ALICE = f"{HOST}/users/alice"
BOB = "https://us.example/users/bob"

# Contexts Fedify names that we do not bundle; served by a test loader so that
# the originals expand too (contents abridged from the FEPs).
FEP_EF61 = "https://w3id.org/fep/ef61"
GTS_NS = "https://gotosocial.org/ns"
FEP_7AA9 = "https://w3id.org/fep/7aa9"
LOADER = DocumentLoader()
LOADER.add(
    FEP_EF61,
    {
        "@context": {
            "gateways": {
                "@id": "https://w3id.org/fep/ef61#gateways",
                "@type": "@id",
                "@container": "@list",
            }
        }
    },
)
LOADER.add(
    GTS_NS,
    {
        "@context": {
            "gts": "https://gotosocial.org/ns#",
            "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
            "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
        }
    },
)
LOADER.add(FEP_7AA9, {"@context": {"FeaturedCollection": f"{FEP_7AA9}#FeaturedCollection"}})

PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-jcs-2022",
    "verificationMethod": f"{ALICE}#ed25519-key",
    "proofPurpose": "assertionMethod",
    "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKVRd",
    "created": "2025-06-01T12:00:00Z",
}
SIGNATURE = {
    "type": "RsaSignature2017",
    "creator": f"{ALICE}#main-key",
    "created": "2025-06-01T12:00:00Z",
    "signatureValue": "kJq0Pt0Yl3mGH0WdVbKzTFTkd4FPI0Hm1rDqeAP1R6M=",
}
CREATE_TERMS = {
    "toot": "http://joinmastodon.org/ns#",
    "misskey": "https://misskey-hub.net/ns#",
    "fedibird": "http://fedibird.com/ns#",
    "sensitive": "as:sensitive",
    "votersCount": {
        "@id": "toot:votersCount",
        "@type": "http://www.w3.org/2001/XMLSchema#nonNegativeInteger",
    },
    "Emoji": "toot:Emoji",
    "Hashtag": "as:Hashtag",
    "ChatMessage": "http://litepub.social/ns#ChatMessage",
    "quoteUrl": "as:quoteUrl",
    "_misskey_quote": "misskey:_misskey_quote",
    "quoteUri": "fedibird:quoteUri",
    "emojiReactions": {"@id": "fedibird:emojiReactions", "@type": "@id"},
}
PERSON_TERMS = {
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "Emoji": "toot:Emoji",
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "misskey": "https://misskey-hub.net/ns#",
    "_misskey_followedMessage": "misskey:_misskey_followedMessage",
    "isCat": "misskey:isCat",
}
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
FEDIFY_ACTIVITY = [IDENTITY_V1, AS_CONTEXT, SECURITY_V1, DATA_INTEGRITY_V1, DID_V1, MULTIKEY_V1]


def follow(context: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "@context": context,
        "id": f"{HOST}/follows/01JXYZ",
        "type": "Follow",
        "actor": ALICE,
        "object": BOB,
        **extra,
    }


def create(context: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "@context": context,
        "id": f"{HOST}/notes/01JXYZ#create",
        "type": "Create",
        "actor": ALICE,
        "published": "2025-06-01T12:00:00Z",
        "to": "https://www.w3.org/ns/activitystreams#Public",
        "cc": [f"{ALICE}/followers", BOB],
        "object": {
            "id": f"{HOST}/notes/01JXYZ",
            "type": "Note",
            "attributedTo": ALICE,
            "content": '<p>Hi <a href="https://us.example/@bob">@bob</a> #fedify</p>',
            "contentMap": {"en": '<p>Hi <a href="https://us.example/@bob">@bob</a> #fedify</p>'},
            "sensitive": False,
            "published": "2025-06-01T12:00:00Z",
            "url": f"{HOST}/@alice/01JXYZ",
            "to": "as:Public",
            "cc": [f"{ALICE}/followers", BOB],
            "tag": [
                {"type": "Mention", "href": BOB, "name": "@bob@us.example"},
                {"type": "Hashtag", "href": f"{HOST}/tags/fedify", "name": "#fedify"},
                {
                    "type": "Emoji",
                    "id": f"{HOST}/emojis/blobcat",
                    "name": ":blobcat:",
                    "icon": {"type": "Image", "url": f"{HOST}/e/blobcat.png"},
                },
            ],
            "quoteUrl": f"{HOST}/notes/01JXYY",
            "emojiReactions": f"{HOST}/notes/01JXYZ/reactions",
            "replies": {
                "id": f"{HOST}/notes/01JXYZ/replies",
                "type": "OrderedCollection",
                "totalItems": 0,
            },
        },
        **extra,
    }


def person(context: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "@context": context,
        "id": ALICE,
        "type": "Person",
        "preferredUsername": "alice",
        "name": "Alice",
        "summary": "<p>hello</p>",
        "inbox": f"{ALICE}/inbox",
        "outbox": f"{ALICE}/outbox",
        "followers": f"{ALICE}/followers",
        "following": f"{ALICE}/following",
        "featured": f"{ALICE}/featured",
        "endpoints": {"type": "as:Endpoints", "sharedInbox": f"{HOST}/inbox"},
        "manuallyApprovesFollowers": False,
        "discoverable": True,
        "indexable": True,
        "publicKey": {
            "id": f"{ALICE}#main-key",
            "type": "CryptographicKey",
            "owner": ALICE,
            "publicKeyPem": PEM,
        },
        "assertionMethod": [
            {
                "id": f"{ALICE}#main-key",
                "type": "Multikey",
                "controller": ALICE,
                "publicKeyMultibase": "z4MXj1wBzi9jUstyPMS4jQqB6KdJaiatPkAtVtGc6bQEQEEsKTic",
            },
            {
                "id": f"{ALICE}#ed25519-key",
                "type": "Multikey",
                "controller": ALICE,
                "publicKeyMultibase": "z6MkekwC6R9bj9ErToB7AiZJfyCSDhaZe1UxhDbCqJrhqpS5",
            },
        ],
        "attachment": [
            {"type": "PropertyValue", "name": "Web", "value": '<a href="https://a.example">a</a>'}
        ],
        "alsoKnownAs": ["https://old.example/users/alice"],
        "isCat": False,
        **extra,
    }


Make = Callable[..., dict[str, Any]]
SHAPES: dict[str, tuple[Make, list[Any]]] = {
    "follow": (follow, [AS_CONTEXT, DATA_INTEGRITY_V1]),
    "follow-identity": (follow, [AS_CONTEXT, DATA_INTEGRITY_V1, IDENTITY_V1]),
    "follow-fedify-default": (follow, FEDIFY_ACTIVITY),
    "create": (create, [AS_CONTEXT, DATA_INTEGRITY_V1, CREATE_TERMS]),
    "create-identity": (create, [IDENTITY_V1, AS_CONTEXT, DATA_INTEGRITY_V1, CREATE_TERMS]),
    "person": (
        person,
        [AS_CONTEXT, SECURITY_V1, DATA_INTEGRITY_V1, DID_V1, MULTIKEY_V1, PERSON_TERMS],
    ),
    "person-fep": (
        person,
        [
            AS_CONTEXT,
            FEP_EF61,
            SECURITY_V1,
            DATA_INTEGRITY_V1,
            DID_V1,
            MULTIKEY_V1,
            GTS_NS,
            FEP_7AA9,
            PERSON_TERMS,
        ],
    ),
}
SIGNED: dict[str, dict[str, Any]] = {
    "unsigned": {},
    "proof": {"proof": PROOF},
    "signature": {"signature": SIGNATURE},
    "both": {"proof": PROOF, "signature": SIGNATURE},
}
CASES = [
    pytest.param(shape, signed, id=f"{shape}-{signed}")
    for shape, signed in itertools.product(SHAPES, SIGNED)
]


def document(shape: str, signed: str) -> dict[str, Any]:
    make, context = SHAPES[shape]
    return make(copy.deepcopy(context), **copy.deepcopy(SIGNED[signed]))


def meaning(doc: dict[str, Any]) -> set[str]:
    """``statements`` with the test loader, for the contexts we do not bundle."""
    return set(canonicalize(_literals_by_value(expand(doc, loader=LOADER))).splitlines())


_INTEGRITY_FILES = ("data-integrity-v1.jsonld", "data-integrity-v2.jsonld")


def integrity_contexts(doc: dict[str, Any]) -> list[str]:
    context = doc["@context"]
    urls = context if isinstance(context, list) else [context]
    return [url for url in urls if isinstance(url, str) and bundled_file(url) in _INTEGRITY_FILES]


@pytest.mark.parametrize(("shape", "signed"), CASES)
def test_the_originals_are_valid(shape: str, signed: str) -> None:
    expand(document(shape, signed), loader=LOADER)


@pytest.mark.parametrize(("shape", "signed"), CASES)
def test_round_trip_expands_to_the_same_statements(shape: str, signed: str) -> None:
    original = document(shape, signed)
    out = vocab.parse(original).to_json()
    assert meaning(out) == meaning(as_servers_read(original))


@pytest.mark.parametrize(("shape", "signed"), CASES)
def test_round_trip_names_one_data_integrity_version(shape: str, signed: str) -> None:
    out = vocab.parse(document(shape, signed)).to_json()
    assert len(integrity_contexts(out)) <= 1
    assert DATA_INTEGRITY_V2 not in integrity_contexts(out)  # the source used v1


@pytest.mark.parametrize(("shape", "signed"), CASES)
def test_round_trip_keeps_the_signatures_of_the_document(shape: str, signed: str) -> None:
    original = document(shape, signed)
    out = vocab.parse(original).to_json()
    for key in ("proof", "signature"):
        assert (key in original) == any(k in out for k in (key, f"sec:{key}"))


@pytest.mark.parametrize(("shape", "signed"), CASES)
def test_embedded_in_an_accept_expands(shape: str, signed: str) -> None:
    """Nested nodes have no @context: the Accept's must cover the Follow's terms."""
    original = document(shape, signed)
    received = vocab.parse(original)
    accept = vocab.Accept(id="https://us.example/accepts/1", actor=BOB, object=received)
    out = accept.to_json()
    embedded = out["object"]
    assert not {"proof", "signature", "sec:proof", "sec:signature"} & embedded.keys()
    # Everything the received document said, its signatures aside, is said
    # again inside the Accept.
    unsigned = {k: v for k, v in original.items() if k not in ("proof", "signature")}
    inner = meaning(as_servers_read(unsigned))
    whole = meaning(out)
    subject = f"<{original['id']}>"
    assert {s for s in inner if s.startswith(subject)} <= whole


def test_follow_from_fedify_is_written_back_under_its_own_contexts() -> None:
    original = follow([AS_CONTEXT, DATA_INTEGRITY_V1], proof=PROOF, signature=SIGNATURE)
    out = vocab.parse(original).to_json()
    assert out["@context"] == [AS_CONTEXT, DATA_INTEGRITY_V1, SECURITY_V1]
    assert out["proof"] == PROOF
    assert out["signature"] == SIGNATURE


def test_accept_of_a_signed_follow_drops_its_signatures() -> None:
    received = vocab.parse(
        follow([AS_CONTEXT, DATA_INTEGRITY_V1], proof=PROOF, signature=SIGNATURE)
    )
    out = vocab.Accept(id="https://us.example/accepts/1", actor=BOB, object=received).to_json()
    assert out["@context"] == AS_CONTEXT
    assert out["object"] == {
        "id": f"{HOST}/follows/01JXYZ",
        "type": "Follow",
        "actor": ALICE,
        "object": BOB,
    }
    # the received node itself is untouched: written alone, it is signed again
    assert received.to_json()["proof"] == PROOF


def test_carried_contexts_keep_the_source_order() -> None:
    original = document("person-fep", "both")
    out = vocab.parse(original).to_json()
    written = [url for url in out["@context"] if isinstance(url, str)]
    source = [url for url in original["@context"] if isinstance(url, str)]
    assert written == [url for url in source if url in written]
    assert written[0] == AS_CONTEXT


def test_new_documents_with_a_proof_use_data_integrity_v2() -> None:
    note = vocab.Note(id="https://us.example/notes/1", content="hi", extra={"proof": PROOF})
    out = note.to_json()
    assert integrity_contexts(out) == [DATA_INTEGRITY_V2]
    expand(out)


def test_a_v2_source_stays_v2() -> None:
    original = follow([AS_CONTEXT, DATA_INTEGRITY_V2], proof=PROOF)
    out = vocab.parse(original).to_json()
    assert integrity_contexts(out) == [DATA_INTEGRITY_V2]
    assert meaning(out) == meaning(original)


def test_sources_with_different_versions_embedded_together() -> None:
    """The document's own Data Integrity version wins; the other is not named."""
    inner = vocab.parse(follow([AS_CONTEXT, DATA_INTEGRITY_V1, {"x": "https://x.example/x"}], x=1))
    outer = vocab.parse(
        {
            "@context": [AS_CONTEXT, DATA_INTEGRITY_V2, {"y": "https://y.example/y"}],
            "id": "https://us.example/announces/1",
            "type": "Announce",
            "actor": BOB,
            "object": f"{HOST}/follows/01JXYZ",
            "y": 2,
            "proof": PROOF,
        }
    )
    assert isinstance(outer, vocab.Announce)
    outer.object = inner
    out = outer.to_json()
    assert integrity_contexts(out) == [DATA_INTEGRITY_V2]
    expanded = json.dumps(expand(out))
    assert "https://x.example/x" in expanded and "https://y.example/y" in expanded


# -- context_for with carried contexts ----------------------------------------------

_BUNDLED = [
    AS_CONTEXT,
    SECURITY_V1,
    SECURITY_V2,
    DATA_INTEGRITY_V1,
    DATA_INTEGRITY_V2,
    MULTIKEY_V1,
    DID_V1,
    IDENTITY_V1,
    "https://purl.archive.org/socialweb/webfinger",
    "https://join-lemmy.org/context.json",
    "https://pleroma.example/schemas/litepub-0.1.jsonld",
    "https://mbin.example/contexts",
]
_TERMS = [
    {"id", "type"},
    {"proof", "DataIntegrityProof", "cryptosuite", "proofValue"},
    {"Multikey", "publicKeyMultibase", "assertionMethod", "controller"},
    {"signature", "publicKey", "publicKeyPem"},
    {"proof", "signature", "Multikey", "assertionMethod", "alsoKnownAs", "sensitive"},
]
_EXTRA: list[dict[str, Any] | None] = [
    None,
    {"proof": {"@id": "https://w3id.org/security#proof", "@type": "@id"}},
    {"alsoKnownAs": "as:alsoKnownAs", "controller": "https://example.org/ns#controller"},
]


def _random_cases(count: int) -> list[tuple[list[str], set[str], dict[str, Any] | None]]:
    rnd = random.Random(0x8B32)
    return [
        (rnd.sample(_BUNDLED, rnd.randint(1, 6)), rnd.choice(_TERMS), rnd.choice(_EXTRA))
        for _ in range(count)
    ]


def test_context_for_is_valid_whatever_the_carried_contexts() -> None:
    """Any mix and order of bundled contexts (which alone may clash: v1 and v2,
    security v2 after Data Integrity) comes out as a context pyld accepts."""
    for remote, terms, extra in _random_cases(400):
        context = context_for(terms | {"id", "type"}, remote=remote, extra=extra)
        try:
            expand({"@context": context, "id": "https://example.org/1", "type": "Note"})
        except Exception as exc:  # pragma: no cover - reported with its inputs
            pytest.fail(f"{remote} {sorted(terms)} {extra} -> {context}: {exc}")


def test_context_for_keeps_the_carried_order() -> None:
    remote = [IDENTITY_V1, AS_CONTEXT, DATA_INTEGRITY_V1, DID_V1]
    assert context_for({"proof", "signature"}, remote=remote) == [
        IDENTITY_V1,
        AS_CONTEXT,
        DATA_INTEGRITY_V1,
        DID_V1,
        SECURITY_V1,
    ]


def test_context_for_names_one_data_integrity_version() -> None:
    remote = [AS_CONTEXT, DATA_INTEGRITY_V2, DATA_INTEGRITY_V1]
    assert context_for({"proof"}, remote=remote) == [AS_CONTEXT, DATA_INTEGRITY_V2]
    assert context_for({"proof"}, remote=remote, data_integrity=DATA_INTEGRITY_V1) == [
        AS_CONTEXT,
        DATA_INTEGRITY_V1,
    ]
    assert context_for({"proof"}) == [AS_CONTEXT, DATA_INTEGRITY_V2]


def test_context_for_moves_a_redefinition_before_the_protection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No two bundled contexts clash but Data Integrity v1 and v2, so stand-ins
    show the rule: an unprotected context redefining a protected term goes
    before the context protecting it; a protected one is left out."""
    from activitypub.jsonld import writing

    guarded = {"term": {"@id": "https://example.org/guarded"}}
    other = {"term": {"@id": "https://example.org/other"}}
    definitions = {"p:": guarded, "q:": guarded, "x:": other, "y:": other}
    protected = {"p:": guarded, "y:": other}
    monkeypatch.setattr(writing, "_definitions", lambda url: definitions.get(url, {}))
    monkeypatch.setattr(writing, "_protected", lambda url: protected.get(url, {}))
    assert writing._protect(["p:", "q:", "x:"]) == ["x:", "p:", "q:"]
    assert writing._protect(["p:", "y:"]) == ["p:"]


def test_context_for_leaves_protected_terms_to_their_context() -> None:
    extra = {"controller": "https://example.org/ns#controller"}
    context = context_for({"controller"}, remote=[AS_CONTEXT, DID_V1], extra=extra)
    assert context == [AS_CONTEXT, DID_V1]
