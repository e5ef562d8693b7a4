"""FEP-8b32 object integrity proofs (eddsa-jcs-2022): vectors, apsig cross-checks, tampering."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apsig import ProofSigner, ProofVerifier
from hypothesis import given, settings
from hypothesis import strategies as st

from activitypub.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    ParseError,
    ProofError,
    SignatureExpiredError,
    UnsupportedAlgorithmError,
)
from activitypub.jcs import canonicalize
from activitypub.jsonld import expand
from activitypub.keys import PrivateKey, PublicKey, base58btc_encode
from activitypub.signatures import proofs
from activitypub.signatures.proofs import (
    VerifiedProof,
    create_proof,
    proof_verification_method,
    verify_proof,
)

FIXTURES = Path(__file__).parent / "fixtures" / "signatures"
W3C = FIXTURES / "vc-di-eddsa"
FEP = FIXTURES / "fep-8b32"
KEY_ID = "https://server.example/users/alice#ed25519-key"
CREATED = "2023-02-24T23:36:38Z"


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def keypair() -> tuple[PrivateKey, PublicKey]:
    pair = load(W3C / "keyPair.json")
    return (
        PrivateKey.from_multibase(pair["privateKeyMultibase"]),
        PublicKey.from_multibase(pair["publicKeyMultibase"]),
    )


@pytest.fixture(scope="module")
def secret(keypair: tuple[PrivateKey, PublicKey]) -> PrivateKey:
    return keypair[0]


@pytest.fixture(scope="module")
def public(keypair: tuple[PrivateKey, PublicKey]) -> PublicKey:
    return keypair[1]


@pytest.fixture
def signed(secret: PrivateKey) -> dict[str, Any]:
    return create_proof(load(FEP / "unsigned-create.json"), secret, KEY_ID, created=CREATED)


# -- W3C vc-di-eddsa test vectors (eddsa-jcs-2022) -----------------------------


def test_w3c_vector_verifies(public: PublicKey) -> None:
    document = load(W3C / "signedJCS.json")
    result = verify_proof(document, public)
    assert result == VerifiedProof(
        verification_method=document["proof"]["verificationMethod"],
        created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
        purpose="assertionMethod",
    )


def test_w3c_vector_intermediate_values() -> None:
    config = load(W3C / "proofConfigJCS.json")
    unsigned = load(W3C / "unsigned.json")
    assert canonicalize(config) == (W3C / "proofCanonJCS.txt").read_bytes().strip()
    assert canonicalize(unsigned) == (W3C / "canonDocJCS.txt").read_bytes().strip()
    combined = (
        hashlib.sha256(canonicalize(config)).digest()
        + hashlib.sha256(canonicalize(unsigned)).digest()
    )
    assert combined.hex() == (W3C / "combinedHashJCS.txt").read_text().strip()


def test_w3c_vector_reproduced(secret: PrivateKey) -> None:
    expected = load(W3C / "signedJCS.json")
    method = expected["proof"]["verificationMethod"]
    result = create_proof(load(W3C / "unsigned.json"), secret, method, created=CREATED)
    assert result["proof"]["proofValue"] == (W3C / "sigBTC58JCS.txt").read_text().strip()
    assert result == expected  # key order aside, the whole document matches


# -- FEP-8b32 test vectors -------------------------------------------------------


def test_fep_8b32_signing_vector(signed: dict[str, Any]) -> None:
    assert signed == load(FEP / "signed-create.json")


def test_fep_8b32_verifying_vector() -> None:
    actor = load(FEP / "actor.json")
    (method,) = actor["assertionMethod"]
    key = PublicKey.from_multibase(method["publicKeyMultibase"], id=method["id"])
    document = load(FEP / "signed-create.json")
    assert proof_verification_method(document) == method["id"]
    assert verify_proof(document, key).verification_method == method["id"]


def test_legacy_proof_without_context_verifies(public: PublicKey) -> None:
    # Earlier FEP-8b32 revision: the proof carries no @context, yet its config hash did.
    document = load(FEP / "legacy-signed-create.json")
    assert "@context" not in document["proof"]
    assert verify_proof(document, public).created == datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)
    document["object"]["content"] = "Goodbye world"
    with pytest.raises(InvalidSignatureError):
        verify_proof(document, public)


def test_proof_without_context_on_document_without_context(
    secret: PrivateKey, public: PublicKey
) -> None:
    document = {"type": "Note", "content": "no context at all"}
    result = create_proof(document, secret, KEY_ID)
    assert "@context" not in result["proof"]
    verify_proof(result, public)


def test_obsolete_cryptosuite_name_is_unsupported(public: PublicKey) -> None:
    document = load(FEP / "obsolete-jcs-eddsa-2022.json")
    with pytest.raises(UnsupportedAlgorithmError):
        verify_proof(document, public)
    with pytest.raises(UnsupportedAlgorithmError):
        proof_verification_method(document)


# -- apsig (independent implementation) both ways ------------------------------


def test_apsig_signs_we_verify(secret: PrivateKey, public: PublicKey) -> None:
    signer = ProofSigner(secret.to_multibase())
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": KEY_ID,
        "proofPurpose": "assertionMethod",
        "created": "2025-01-02T03:04:05Z",
    }
    document = load(FEP / "unsigned-create.json")
    document["object"]["content"] = "Grüße, 世界 \U0001f600 <b>&amp;</b>"
    document["object"]["tag"] = [{"type": "Hashtag", "name": "#x"}, 1e21, -0.5, None]
    theirs = signer.sign(copy.deepcopy(document), options)
    result = verify_proof(json.loads(json.dumps(theirs)), public)
    assert result.verification_method == KEY_ID


def test_we_sign_apsig_verifies(secret: PrivateKey, public: PublicKey) -> None:
    document = load(FEP / "unsigned-create.json")
    document["object"]["content"] = "Grüße, 世界 \U0001f600"
    ours = create_proof(document, secret, KEY_ID)
    verifier = ProofVerifier(public.to_multibase())
    # apsig's verifier mutates its input: give it a copy.
    assert verifier.verify_proof(copy.deepcopy(ours), raise_on_fail=True) == KEY_ID
    ours["object"]["content"] = "changed"
    assert verifier.verify_proof(copy.deepcopy(ours)) is None


# -- tampering --------------------------------------------------------------------


def _tamper_content(d: dict[str, Any]) -> None:
    d["object"]["content"] = "Hello world!"


def _tamper_add_member(d: dict[str, Any]) -> None:
    d["cc"] = ["https://evil.example/"]


def _tamper_drop_member(d: dict[str, Any]) -> None:
    del d["id"]


def _tamper_context(d: dict[str, Any]) -> None:
    d["@context"] = [*d["@context"], {"x": "https://evil.example/x"}]
    d["proof"]["@context"] = d["@context"]


def _tamper_created(d: dict[str, Any]) -> None:
    d["proof"]["created"] = "2023-02-24T23:36:39Z"


def _tamper_method(d: dict[str, Any]) -> None:
    d["proof"]["verificationMethod"] = "https://evil.example/users/mallory#key"


def _tamper_number(d: dict[str, Any]) -> None:
    d["object"]["location"]["latitude"] = 25.273963


def _tamper_signature_bytes(d: dict[str, Any]) -> None:
    value = d["proof"]["proofValue"]
    d["proof"]["proofValue"] = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_content,
        _tamper_add_member,
        _tamper_drop_member,
        _tamper_context,
        _tamper_created,
        _tamper_method,
        _tamper_number,
        _tamper_signature_bytes,
    ],
)
def test_tampering_is_detected(signed: dict[str, Any], public: PublicKey, tamper: Any) -> None:
    verify_proof(signed, public)
    tamper(signed)
    with pytest.raises((InvalidSignatureError, MalformedSignatureError)) as info:
        verify_proof(signed, public)
    if tamper is not _tamper_signature_bytes:
        assert info.type is InvalidSignatureError


def test_proof_context_must_prefix_document_context(
    signed: dict[str, Any], public: PublicKey
) -> None:
    signed["@context"] = list(reversed(signed["@context"]))
    with pytest.raises(InvalidSignatureError):
        verify_proof(signed, public)


def test_wrong_key(signed: dict[str, Any]) -> None:
    other = PrivateKey.generate("ed25519").public_key
    with pytest.raises(InvalidSignatureError):
        verify_proof(signed, other)


def test_non_ed25519_keys(signed: dict[str, Any]) -> None:
    rsa = PrivateKey.generate("rsa")
    with pytest.raises(AlgorithmMismatchError):
        verify_proof(signed, rsa.public_key)
    with pytest.raises(AlgorithmMismatchError):
        verify_proof(signed, PrivateKey.generate("ec-p256").public_key)
    with pytest.raises(AlgorithmMismatchError):
        create_proof(load(FEP / "unsigned-create.json"), rsa, KEY_ID)


# -- malformed and unsupported proofs --------------------------------------------


def test_no_proof(public: PublicKey) -> None:
    document = load(FEP / "unsigned-create.json")
    with pytest.raises(ProofError):
        verify_proof(document, public)
    with pytest.raises(ProofError):
        proof_verification_method(document)


def test_multiple_proofs_are_refused(signed: dict[str, Any], public: PublicKey) -> None:
    proof = signed["proof"]
    signed["proof"] = [proof, proof]
    with pytest.raises(ProofError):
        proof_verification_method(signed)
    with pytest.raises(ProofError):
        verify_proof(signed, public)
    signed["proof"] = []
    with pytest.raises(ProofError):
        verify_proof(signed, public)


def test_single_proof_in_a_list_is_accepted(signed: dict[str, Any], public: PublicKey) -> None:
    signed["proof"] = [signed["proof"]]
    assert verify_proof(signed, public).verification_method == KEY_ID


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("type", "Ed25519Signature2020", UnsupportedAlgorithmError),
        ("type", None, UnsupportedAlgorithmError),
        ("cryptosuite", "eddsa-rdfc-2022", UnsupportedAlgorithmError),
        ("cryptosuite", None, UnsupportedAlgorithmError),
        ("verificationMethod", None, MalformedSignatureError),
        ("verificationMethod", {"id": KEY_ID}, MalformedSignatureError),
        ("verificationMethod", "", MalformedSignatureError),
        ("proofPurpose", None, MalformedSignatureError),
        ("proofPurpose", "authentication", ProofError),
        ("proofValue", None, MalformedSignatureError),
        ("proofValue", 12, MalformedSignatureError),
        ("proofValue", "uNotBase58btc", MalformedSignatureError),
        ("proofValue", "z0OIl", MalformedSignatureError),  # not in the base58 alphabet
        ("proofValue", "z" + "2" * 40, MalformedSignatureError),  # too short
        ("proofValue", "z" + "2" * 99, MalformedSignatureError),  # too long
        ("created", "yesterday", MalformedSignatureError),
        ("created", "2023-02-24", MalformedSignatureError),
        ("created", 1677281798, MalformedSignatureError),
        ("expires", "2023-13-01T00:00:00Z", MalformedSignatureError),
    ],
)
def test_malformed_fields(
    signed: dict[str, Any], public: PublicKey, field: str, value: Any, error: type[Exception]
) -> None:
    if value is None:
        del signed["proof"][field]
    else:
        signed["proof"][field] = value
    with pytest.raises(error):
        verify_proof(signed, public)


def test_proof_not_an_object(signed: dict[str, Any], public: PublicKey) -> None:
    signed["proof"] = "z3sXax"
    with pytest.raises(MalformedSignatureError):
        verify_proof(signed, public)


def test_malformed_is_a_parse_error_too(signed: dict[str, Any], public: PublicKey) -> None:
    signed["proof"]["proofValue"] = "not multibase"
    with pytest.raises(ParseError):
        verify_proof(signed, public)


def test_other_purpose_on_request(secret: PrivateKey, public: PublicKey) -> None:
    # The proof purpose is signed, so a verifier asking for another purpose
    # cannot be satisfied by an assertionMethod proof.
    document = create_proof({"type": "Note"}, secret, KEY_ID)
    with pytest.raises(ProofError):
        verify_proof(document, public, purpose="authentication")


def test_expires(secret: PrivateKey, public: PublicKey) -> None:
    # create_proof sets no expiry; a hand-built proof with "expires" is honoured.
    document = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Note"}
    proof = {
        "@context": document["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "verificationMethod": KEY_ID,
        "proofPurpose": "assertionMethod",
        "created": "2024-01-01T00:00:00Z",
        "expires": "2024-01-02T00:00:00Z",
    }
    signature = secret.sign(proofs._hash_data(proof, document), "ed25519")
    secured = {**document, "proof": {**proof, "proofValue": "z" + base58btc_encode(signature)}}
    before = datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert verify_proof(secured, public, now=before).verification_method == KEY_ID
    with pytest.raises(SignatureExpiredError):
        verify_proof(secured, public, now=before + timedelta(days=1))
    with pytest.raises(SignatureExpiredError):
        verify_proof(secured, public)  # now


def test_unserialisable_document(secret: PrivateKey, public: PublicKey) -> None:
    with pytest.raises(ParseError):
        create_proof({"type": "Note", "x": float("nan")}, secret, KEY_ID)
    document = create_proof({"type": "Note"}, secret, KEY_ID)
    document["x"] = float("inf")
    with pytest.raises(ParseError):
        verify_proof(document, public)


def test_embedded_signed_object(secret: PrivateKey, public: PublicKey) -> None:
    # FEP-8b32's "signed activity with embedded signed object".
    create = load(FEP / "unsigned-create.json")
    note = {"@context": create["@context"], **create["object"]}
    create["object"] = create_proof(note, secret, KEY_ID)
    signed = create_proof(create, secret, KEY_ID)
    verify_proof(signed, public)
    verify_proof(signed["object"], public)
    signed["object"]["content"] = "changed"
    with pytest.raises(InvalidSignatureError):
        verify_proof(signed, public)
    with pytest.raises(InvalidSignatureError):
        verify_proof(signed["object"], public)


# -- Linked Data signatures alongside --------------------------------------------


def test_ld_signature_is_ignored_when_verifying(signed: dict[str, Any], public: PublicKey) -> None:
    signed["signature"] = {
        "type": "RsaSignature2017",
        "creator": "https://server.example/users/alice#main-key",
        "signatureValue": "AAAA",
    }
    verify_proof(signed, public)


def test_create_refuses_existing_proof_or_signature(
    signed: dict[str, Any], secret: PrivateKey
) -> None:
    with pytest.raises(ProofError):
        create_proof(signed, secret, KEY_ID)
    unsigned = load(FEP / "unsigned-create.json")
    unsigned["signature"] = {"type": "RsaSignature2017"}
    with pytest.raises(ProofError):
        create_proof(unsigned, secret, KEY_ID)


# -- creation details ----------------------------------------------------------------


def test_created_defaults_to_now(secret: PrivateKey, public: PublicKey) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = verify_proof(create_proof({"type": "Note"}, secret, KEY_ID), public)
    assert result.created is not None
    assert before <= result.created <= datetime.now(UTC)


def test_created_accepts_aware_datetimes_only(secret: PrivateKey) -> None:
    tz = datetime(2024, 5, 6, 9, 8, 7, 654321, tzinfo=UTC).astimezone(timezone(timedelta(hours=2)))
    document = create_proof({"type": "Note"}, secret, KEY_ID, created=tz)
    assert document["proof"]["created"] == "2024-05-06T09:08:07Z"
    with pytest.raises(ValueError):
        create_proof({"type": "Note"}, secret, KEY_ID, created=datetime(2024, 1, 1))
    with pytest.raises(ValueError):
        create_proof({"type": "Note"}, secret, KEY_ID, created="May 6th")


def test_created_fraction_and_offset_parsed(secret: PrivateKey, public: PublicKey) -> None:
    document = create_proof(
        {"type": "Note"}, secret, KEY_ID, created="2024-05-06T11:08:07.123456789+02:00"
    )
    assert verify_proof(document, public).created == datetime(
        2024, 5, 6, 9, 8, 7, 123456, tzinfo=UTC
    )


def test_inputs_are_not_mutated(secret: PrivateKey, public: PublicKey) -> None:
    document = load(FEP / "unsigned-create.json")
    snapshot = copy.deepcopy(document)
    result = create_proof(document, secret, KEY_ID)
    assert document == snapshot
    assert result is not document and "proof" not in document
    signed_snapshot = copy.deepcopy(result)
    verify_proof(result, public)
    legacy = load(FEP / "legacy-signed-create.json")
    legacy_snapshot = copy.deepcopy(legacy)
    verify_proof(legacy, public)
    assert result == signed_snapshot
    assert legacy == legacy_snapshot


# -- properties ----------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=20,
)
_documents = st.dictionaries(
    _text.filter(lambda k: k not in ("proof", "signature")), _json, max_size=6
)


@settings(max_examples=60, deadline=None)
@given(_documents)
def test_any_document_round_trips_through_json(document: dict[str, Any]) -> None:
    secret = PrivateKey.generate("ed25519")
    signed = create_proof(document, secret, KEY_ID, created=CREATED)
    received = json.loads(json.dumps(signed))  # what travels over the wire
    assert verify_proof(received, secret.public_key).verification_method == KEY_ID
    received["extra"] = True
    with pytest.raises(InvalidSignatureError):
        verify_proof(received, secret.public_key)


def test_proof_names_the_integrity_context_in_activitystreams_documents() -> None:
    key = PrivateKey.generate("ed25519")
    note = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/n",
        "type": "Note",
    }
    signed = create_proof(note, key, "https://a.example/u#ed25519-key")
    assert signed["@context"] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/data-integrity/v2",
    ]
    assert note["@context"] == "https://www.w3.org/ns/activitystreams"  # input untouched
    verify_proof(signed, key.public_key)
    expanded = expand(signed)
    assert "https://w3id.org/security#proof" in expanded[0]
