"""Linked Data signatures (RsaSignature2017): real captured activities, apsig both ways,
tampering, offline contexts and the canonicalisation time budget."""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apsig import LDSignature
from pyld import jsonld as pyld

from activitypub.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    JsonLdLimitError,
    JsonLdTimeoutError,
    MalformedSignatureError,
    ProofError,
    UnknownContextError,
    UnsupportedAlgorithmError,
)
from activitypub.jsonld import SECURITY_V1, DocumentLoader, bundled_context, default_loader
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures import ldsig
from activitypub.signatures.ldsig import (
    IDENTITY_V1,
    VerifiedLDSignature,
    create_ld_signature,
    ld_signature_creator,
    verify_ld_signature,
)

FIXTURES = Path(__file__).parent / "fixtures"
LDSIG = FIXTURES / "signatures" / "ldsig"
REAL = FIXTURES / "real"
AS = "https://www.w3.org/ns/activitystreams"
KEY_ID = "https://relay.example/actor#main-key"


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def actor_key(path: Path) -> PublicKey:
    key = load(path)["publicKey"]
    return PublicKey.from_pem(key["publicKeyPem"], id=key["id"])


@pytest.fixture(scope="module")
def rsa() -> PrivateKey:
    return PrivateKey.generate("rsa", id=KEY_ID)


@pytest.fixture
def note() -> dict[str, Any]:
    return {
        "@context": [AS, SECURITY_V1, {"sensitive": "as:sensitive"}],
        "id": "https://relay.example/notes/1",
        "type": "Note",
        "attributedTo": "https://relay.example/actor",
        "content": "<p>Grüße \U0001f600</p>",
        "sensitive": False,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "published": "2024-05-06T07:08:09Z",
    }


# -- real signatures ---------------------------------------------------------------


def test_real_mastodon_follow_verifies() -> None:
    # A Follow signed by mastodon.cloud in 2018, with the actor's real key.
    document = load(LDSIG / "mastodon-follow.json")
    key = actor_key(LDSIG / "mastodon-actor.json")
    assert ld_signature_creator(document) == key.id
    result = verify_ld_signature(document, key)
    assert result == VerifiedLDSignature(
        creator="https://mastodon.cloud/users/transmute#main-key",
        created=datetime(2018, 12, 22, 18, 23, 12, tzinfo=UTC),
    )


def test_real_friendica_create_verifies() -> None:
    # Friendica signs the same way, with an extra "nonce" in the options.
    document = load(REAL / "friendica" / "create_note.json")
    key = actor_key(REAL / "friendica" / "person_1.json")
    assert "nonce" in document["signature"]
    assert verify_ld_signature(document, key).creator == key.id


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(type="Undo"),
        lambda d: d.update(object="https://evil.example/u/mallory"),
        lambda d: d.update(to=["https://www.w3.org/ns/activitystreams#Public"]),
        lambda d: d["signature"].update(created="2018-12-22T18:23:13Z"),
        lambda d: d["signature"].update(creator="https://evil.example/users/m#main-key"),
        lambda d: d["signature"].update(nonce="added"),
        lambda d: d["@context"][2].update(object={"@id": "https://evil.example/o", "@type": "@id"}),
    ],
)
def test_real_mastodon_follow_tampered(tamper: Any) -> None:
    document = load(LDSIG / "mastodon-follow.json")
    key = actor_key(LDSIG / "mastodon-actor.json")
    tamper(document)
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(document, key)


def test_wrong_rsa_key(rsa: PrivateKey) -> None:
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(load(LDSIG / "mastodon-follow.json"), rsa.public_key)


def test_non_rsa_key() -> None:
    document = load(LDSIG / "mastodon-follow.json")
    ed = PrivateKey.generate("ed25519")
    with pytest.raises(AlgorithmMismatchError):
        verify_ld_signature(document, ed.public_key)
    with pytest.raises(AlgorithmMismatchError):
        create_ld_signature({"@context": AS, "type": "Note"}, ed, KEY_ID)


# -- our own signatures -----------------------------------------------------------


def test_sign_then_verify(rsa: PrivateKey, note: dict[str, Any]) -> None:
    snapshot = copy.deepcopy(note)
    signed = create_ld_signature(note, rsa, KEY_ID, created="2024-05-06T07:08:10Z")
    assert note == snapshot
    assert signed["signature"]["type"] == "RsaSignature2017"
    assert set(signed["signature"]) == {"type", "creator", "created", "signatureValue"}
    received = json.loads(json.dumps(signed))
    before = copy.deepcopy(received)
    assert verify_ld_signature(received, rsa.public_key) == VerifiedLDSignature(
        KEY_ID, datetime(2024, 5, 6, 7, 8, 10, tzinfo=UTC)
    )
    assert received == before
    received["content"] = "<p>changed</p>"
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(received, rsa.public_key)


def test_resigning_replaces_signature(rsa: PrivateKey, note: dict[str, Any]) -> None:
    once = create_ld_signature(note, rsa, KEY_ID)
    twice = create_ld_signature(once, rsa, KEY_ID, created=datetime(2030, 1, 1, tzinfo=UTC))
    assert twice["signature"]["created"] == "2030-01-01T00:00:00Z"
    verify_ld_signature(twice, rsa.public_key)


def test_undefined_terms_are_not_signed(rsa: PrivateKey, note: dict[str, Any]) -> None:
    # A property of the scheme, documented: terms the context does not define
    # vanish in canonicalisation, so they are not protected.
    signed = create_ld_signature(note, rsa, KEY_ID)
    signed["notInAnyContext"] = "added later"
    verify_ld_signature(signed, rsa.public_key)


def _independent_hash(options: dict[str, Any], document: dict[str, Any]) -> bytes:
    """Mastodon's recipe with pyld directly, options under the identity v1 *URL*."""

    def loader(url: str, _options: Any = None) -> dict[str, Any]:
        doc = bundled_context(url)
        assert doc is not None, url
        return {"contextUrl": None, "documentUrl": url, "document": doc}

    def digest(value: dict[str, Any]) -> str:
        nquads = pyld.normalize(
            value,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
        )
        return hashlib.sha256(nquads.encode()).hexdigest()

    return (digest({**options, "@context": IDENTITY_V1}) + digest(document)).encode()


def test_identity_context_hashes_like_independent_pyld(
    rsa: PrivateKey, note: dict[str, Any]
) -> None:
    signed = create_ld_signature(note, rsa, KEY_ID)
    options = {k: v for k, v in signed["signature"].items() if k not in ("type", "signatureValue")}
    options["nonce"] = "n"  # a term only the identity context defines
    data = _independent_hash(options, note)
    assert ldsig._signed_bytes(options, note, None, 5.0) == data


def test_identity_context_is_bundled_and_used_offline() -> None:
    assert bundled_context(IDENTITY_V1)["@context"]["creator"] == {
        "@id": "dc:creator",
        "@type": "@id",
    }
    verify_ld_signature(
        load(LDSIG / "mastodon-follow.json"), actor_key(LDSIG / "mastodon-actor.json")
    )


# -- apsig (independent implementation) both ways ---------------------------------

_APSIG_OPTIONS_CONTEXT = "https://w3c-ccg.github.io/security-vocab/contexts/security-v1.jsonld"


@pytest.fixture
def offline_pyld() -> Iterator[None]:
    """apsig calls pyld with its global loader: point it at bundled contexts only."""

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        if url == _APSIG_OPTIONS_CONTEXT:
            url = SECURITY_V1
        return default_loader(url, options)

    previous = pyld.get_document_loader()
    pyld.set_document_loader(loader)
    try:
        yield
    finally:
        pyld.set_document_loader(previous)


def test_apsig_signs_we_verify(rsa: PrivateKey, note: dict[str, Any], offline_pyld: None) -> None:
    theirs = LDSignature().sign(
        copy.deepcopy(note), KEY_ID, rsa.crypto_key, created=datetime(2024, 1, 2, 3, 4, 5)
    )
    result = verify_ld_signature(json.loads(json.dumps(theirs)), rsa.public_key)
    assert result.creator == KEY_ID
    assert result.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_we_sign_apsig_verifies(rsa: PrivateKey, note: dict[str, Any], offline_pyld: None) -> None:
    ours = create_ld_signature(note, rsa, KEY_ID)
    assert LDSignature().verify(copy.deepcopy(ours), rsa.public_key.crypto_key) == KEY_ID
    ours["content"] = "changed"
    assert LDSignature().verify(copy.deepcopy(ours), rsa.public_key.crypto_key) is None


# -- malformed, unsupported, missing ---------------------------------------------------


def test_no_signature(rsa: PrivateKey, note: dict[str, Any]) -> None:
    with pytest.raises(ProofError):
        ld_signature_creator(note)
    with pytest.raises(ProofError):
        verify_ld_signature(note, rsa.public_key)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("type", "Ed25519Signature2018", UnsupportedAlgorithmError),
        ("type", None, UnsupportedAlgorithmError),
        ("creator", None, MalformedSignatureError),
        ("creator", ["https://a.example#k"], MalformedSignatureError),
        ("signatureValue", None, MalformedSignatureError),
        ("signatureValue", "not base64!", MalformedSignatureError),
        ("signatureValue", 42, MalformedSignatureError),
        ("created", "last tuesday", MalformedSignatureError),
        ("created", 1514764800, MalformedSignatureError),
    ],
)
def test_malformed_signature(field: str, value: Any, error: type[Exception]) -> None:
    document = load(LDSIG / "mastodon-follow.json")
    if value is None:
        del document["signature"][field]
    else:
        document["signature"][field] = value
    key = actor_key(LDSIG / "mastodon-actor.json")
    with pytest.raises(error):
        verify_ld_signature(document, key)


def test_signature_not_an_object() -> None:
    document = load(LDSIG / "mastodon-follow.json")
    document["signature"] = "abc"
    with pytest.raises(MalformedSignatureError):
        ld_signature_creator(document)


def test_document_without_context_is_refused(rsa: PrivateKey) -> None:
    # Without @context nothing would be signed: refuse rather than accept anything.
    document = {"type": "Delete", "actor": "https://a.example/u", "signature": {}}
    document["signature"] = {
        "type": "RsaSignature2017",
        "creator": KEY_ID,
        "signatureValue": "AAAA",
    }
    with pytest.raises(MalformedSignatureError):
        verify_ld_signature(document, rsa.public_key)
    with pytest.raises(ProofError):
        create_ld_signature({"type": "Note"}, rsa, KEY_ID)


def test_signature_value_with_line_breaks_is_read() -> None:
    document = load(LDSIG / "mastodon-follow.json")
    value = document["signature"]["signatureValue"]
    document["signature"]["signatureValue"] = "\n".join(
        value[i : i + 64] for i in range(0, len(value), 64)
    )
    verify_ld_signature(document, actor_key(LDSIG / "mastodon-actor.json"))


# -- offline and bounded ---------------------------------------------------------------


def test_unknown_remote_context_is_refused_offline(rsa: PrivateKey, note: dict[str, Any]) -> None:
    signed = create_ld_signature(note, rsa, KEY_ID)
    signed["@context"] = [*signed["@context"], "https://unknown.example/ns/context.jsonld"]
    with pytest.raises(UnknownContextError):
        verify_ld_signature(signed, rsa.public_key, loader=DocumentLoader())


def test_prefetched_context_is_used(rsa: PrivateKey) -> None:
    loader = DocumentLoader()
    url = "https://custom.example/ns"
    loader.add(url, {"@context": {"mood": "https://custom.example/ns#mood"}})
    document = {"@context": [AS, url], "type": "Note", "mood": "happy"}
    signed = create_ld_signature(document, rsa, KEY_ID, loader=loader)
    verify_ld_signature(signed, rsa.public_key, loader=loader)
    signed["mood"] = "sad"
    with pytest.raises(InvalidSignatureError):
        verify_ld_signature(signed, rsa.public_key, loader=loader)


def _blank_node_bomb(n: int) -> dict[str, Any]:
    """n blank nodes that all look alike (a complete graph): URDNA2015 tries n! orders."""
    nodes = [
        {"@id": f"_:b{i}", "p": [{"@id": f"_:b{j}"} for j in range(n) if j != i]} for i in range(n)
    ]
    return {
        "@context": {"p": {"@id": "https://bomb.example/p", "@type": "@id"}},
        "@graph": nodes,
        "signature": {
            "type": "RsaSignature2017",
            "creator": KEY_ID,
            "created": "2024-01-01T00:00:00Z",
            "signatureValue": "AAAA",
        },
    }


def test_blank_node_bomb_is_stopped_fast(rsa: PrivateKey) -> None:
    start = time.monotonic()
    with pytest.raises(JsonLdTimeoutError):
        verify_ld_signature(_blank_node_bomb(10), rsa.public_key, timeout=0.3)
    assert time.monotonic() - start < 2.0


def test_huge_blank_node_bomb_is_refused_by_size(rsa: PrivateKey) -> None:
    start = time.monotonic()
    with pytest.raises((JsonLdLimitError, JsonLdTimeoutError)):
        verify_ld_signature(_blank_node_bomb(80), rsa.public_key, timeout=1.0)
    assert time.monotonic() - start < 3.0


def test_no_time_budget(rsa: PrivateKey) -> None:
    with pytest.raises(JsonLdTimeoutError):
        verify_ld_signature(load(LDSIG / "mastodon-follow.json"), rsa.public_key, timeout=0)
