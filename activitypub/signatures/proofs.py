"""Object integrity proofs (FEP-8b32): Data Integrity ``eddsa-jcs-2022``.

A proof travels inside the object it signs::

    "proof": {
      "@context": [...the document's @context...],
      "type": "DataIntegrityProof",
      "cryptosuite": "eddsa-jcs-2022",
      "verificationMethod": "https://host/users/alice#ed25519-key",
      "proofPurpose": "assertionMethod",
      "created": "2023-02-24T23:36:38Z",
      "proofValue": "z..."            # base58btc multibase, 64-byte Ed25519 signature
    }

The signed bytes are ``SHA-256(JCS(proof config)) || SHA-256(JCS(document))``
where the proof config is the proof without ``proofValue`` and the document is
the object without ``proof`` (W3C vc-di-eddsa, section 3.3).

Verification is split so that no I/O happens here: call
:func:`proof_verification_method` to learn the key id, fetch and vet the key
(its controller must be the object's owner, FEP-fe34), then call
:func:`verify_proof`.

Decisions worth knowing:

* **One proof only.** FEP-8b32 says objects SHOULD NOT carry more than one;
  a proof *set* or *chain* has semantics (every proof must hold,
  ``previousProof``) this module does not implement. A ``proof`` array of
  one element is read as that element; longer arrays raise
  :class:`ProofError`.
* **Legacy proofs.** Proofs made before the specification put ``@context``
  into the proof itself (early FEP-8b32 / Mitra, older vc-di-eddsa drafts)
  hashed a proof config that carried the *document's* ``@context`` while the
  proof shown has none. When a proof has no ``@context`` we accept either
  reading; both are signatures by the same key over hashes of the same
  fields, so accepting both gives a forger nothing.
* **Linked Data signatures.** A ``signature`` member (RsaSignature2017) is
  removed before verifying, as FEP-8b32 requires (it is added after the
  proof). :func:`create_proof` refuses a document that already has a
  ``signature`` or a ``proof``: the proof must be made first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from activitypub.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedSignatureError,
    ProofError,
    SignatureExpiredError,
    UnsupportedAlgorithmError,
)
from activitypub.jcs import canonicalize
from activitypub.keys import PrivateKey, PublicKey, base58btc_decode, base58btc_encode

__all__ = [
    "CRYPTOSUITE",
    "PROOF_PURPOSE",
    "PROOF_TYPE",
    "VerifiedProof",
    "create_proof",
    "proof_verification_method",
    "verify_proof",
]

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-jcs-2022"
PROOF_PURPOSE: Final = "assertionMethod"

_CONTEXT: Final = "@context"


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """What a successfully verified proof asserts."""

    verification_method: str
    """The key id the proof names (the key the caller verified with)."""
    created: datetime | None
    """``created``, timezone-aware (UTC assumed when the value has no offset)."""
    purpose: str
    """``proofPurpose``; always ``assertionMethod`` unless the caller asked otherwise."""


# -- creating ------------------------------------------------------------------


def create_proof(
    document: Mapping[str, Any],
    key: PrivateKey,
    verification_method: str,
    *,
    created: datetime | str | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-jcs-2022`` proof added.

    ``key`` must be an Ed25519 key (:class:`AlgorithmMismatchError`
    otherwise); ``verification_method`` is its id, e.g.
    ``https://host/users/alice#ed25519-key``. ``created`` defaults to now
    (UTC, whole seconds); an aware ``datetime`` or an XML Schema dateTime
    string is accepted. The input is not modified; the result is a shallow
    copy (nested values are shared with ``document``).
    """
    if key.type != "ed25519":
        raise AlgorithmMismatchError(f"{CRYPTOSUITE} needs an Ed25519 key, not {key.type}")
    if not isinstance(verification_method, str) or not verification_method:
        raise ValueError("verification_method must be a non-empty string")
    if "proof" in document:
        raise ProofError("document already has a proof; proof sets are not supported")
    if "signature" in document:
        raise ProofError("add the integrity proof before the Linked Data signature")

    document = _with_integrity_context(document)
    proof: dict[str, Any] = {}
    if _CONTEXT in document:
        proof[_CONTEXT] = document[_CONTEXT]
    proof["type"] = PROOF_TYPE
    proof["cryptosuite"] = CRYPTOSUITE
    proof["verificationMethod"] = verification_method
    proof["proofPurpose"] = PROOF_PURPOSE
    proof["created"] = format_xsd_datetime(created)

    signature = key.sign(_hash_data(proof, document), "ed25519")
    proof["proofValue"] = "z" + base58btc_encode(signature)

    signed = dict(document)
    signed["proof"] = proof
    return signed


# -- verifying -----------------------------------------------------------------


def proof_verification_method(document: Mapping[str, Any]) -> str:
    """The key id the document's proof names, checked for form but not verified.

    Raises the same errors as :func:`verify_proof` would for a missing,
    malformed or unsupported proof, so a caller never fetches a key for a
    proof it cannot verify.
    """
    return _parse_proof(document).verification_method


def verify_proof(
    document: Mapping[str, Any],
    public_key: PublicKey,
    *,
    purpose: str = PROOF_PURPOSE,
    now: datetime | None = None,
) -> VerifiedProof:
    """Verify the document's ``eddsa-jcs-2022`` proof with ``public_key``.

    The caller resolves ``public_key`` from :func:`proof_verification_method`
    and checks that its controller owns the document; this function checks
    only the cryptography and the proof's own fields.

    Raises :class:`ProofError` (no proof, several proofs, wrong purpose),
    :class:`UnsupportedAlgorithmError` (not ``DataIntegrityProof`` /
    ``eddsa-jcs-2022``), :class:`MalformedSignatureError` (unreadable
    fields or ``proofValue``), :class:`AlgorithmMismatchError` (not an
    Ed25519 key), :class:`SignatureExpiredError` (``expires`` has passed),
    :class:`InvalidSignatureError` (the document or proof was changed, or
    the key is not the signer's) and :class:`~activitypub.errors.ParseError`
    (the document has no JCS form, e.g. NaN). Nothing is mutated.
    """
    parsed = _parse_proof(document)
    if parsed.purpose != purpose:
        raise ProofError(f"proof purpose is {parsed.purpose!r}, expected {purpose!r}")
    if public_key.type != "ed25519":
        raise AlgorithmMismatchError(f"{CRYPTOSUITE} needs an Ed25519 key, not {public_key.type}")
    if parsed.expires is not None and parsed.expires <= (now or datetime.now(UTC)):
        raise SignatureExpiredError("the proof has expired")

    unsecured = {k: v for k, v in document.items() if k not in ("proof", "signature")}
    options = {k: v for k, v in parsed.proof.items() if k != "proofValue"}

    configs: list[Mapping[str, Any]]
    if _CONTEXT in options:
        proof_context = _as_list(options[_CONTEXT])
        if _as_list(document.get(_CONTEXT))[: len(proof_context)] != proof_context:
            raise InvalidSignatureError("the proof's @context is not a prefix of the document's")
        unsecured[_CONTEXT] = options[_CONTEXT]
        configs = [options]
    elif _CONTEXT in unsecured:
        # Legacy proofs hashed the document's @context into the proof config.
        configs = [{**options, _CONTEXT: unsecured[_CONTEXT]}, options]
    else:
        configs = [options]

    document_hash = hashlib.sha256(canonicalize(unsecured)).digest()
    for config in configs:
        data = hashlib.sha256(canonicalize(config)).digest() + document_hash
        try:
            public_key.verify(parsed.signature, data, "ed25519")
        except InvalidSignatureError:
            continue
        return VerifiedProof(parsed.verification_method, parsed.created, parsed.purpose)
    raise InvalidSignatureError("the proof does not verify")


# -- internals -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Proof:
    proof: Mapping[str, Any]
    verification_method: str
    purpose: str
    created: datetime | None
    expires: datetime | None
    signature: bytes


def _parse_proof(document: Mapping[str, Any]) -> _Proof:
    if not isinstance(document, Mapping):
        raise MalformedSignatureError("the document is not a JSON object")
    proof = document.get("proof")
    if proof is None:
        raise ProofError("the document has no proof")
    if isinstance(proof, list):
        if len(proof) != 1:
            raise ProofError(f"{len(proof)} proofs; only a single proof is supported")
        proof = proof[0]
    if not isinstance(proof, Mapping):
        raise MalformedSignatureError("proof is not a JSON object")

    if proof.get("type") != PROOF_TYPE:
        raise UnsupportedAlgorithmError(f"unsupported proof type {proof.get('type')!r}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        raise UnsupportedAlgorithmError(f"unsupported cryptosuite {proof.get('cryptosuite')!r}")

    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        raise MalformedSignatureError("proof has no verificationMethod string")
    purpose = proof.get("proofPurpose")
    if not isinstance(purpose, str):
        raise MalformedSignatureError("proof has no proofPurpose string")

    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 100:
        raise MalformedSignatureError("proofValue is not a base58btc multibase string")
    try:
        signature = base58btc_decode(value[1:])
    except KeyFormatError as exc:
        raise MalformedSignatureError(f"proofValue: {exc}") from None
    if len(signature) != 64:
        raise MalformedSignatureError(f"proofValue holds {len(signature)} bytes, not 64")

    return _Proof(
        proof=proof,
        verification_method=method,
        purpose=purpose,
        created=_optional_datetime(proof, "created"),
        expires=_optional_datetime(proof, "expires"),
        signature=signature,
    )


def _hash_data(config: Mapping[str, Any], unsecured: Mapping[str, Any]) -> bytes:
    return (
        hashlib.sha256(canonicalize(config)).digest()
        + hashlib.sha256(canonicalize(unsecured)).digest()
    )


def _as_list(context: Any) -> list[Any]:
    if context is None:
        return []
    return list(context) if isinstance(context, list) else [context]


# XML Schema 1.1 dateTime (what Data Integrity requires of created/expires).
_XSD_DATETIME: Final = re.compile(
    r"(?P<date>-?\d{4,}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?"
)


def parse_xsd_datetime(value: str) -> datetime:
    """Parse an XML Schema dateTime; no offset means UTC. ``ValueError`` if invalid."""
    m = _XSD_DATETIME.fullmatch(value)
    if m is None:
        raise ValueError(f"not an XML Schema dateTime: {value!r}")
    frac = (m["frac"] or "")[:6].ljust(6, "0")
    tz = m["tz"] or "Z"
    result = datetime.fromisoformat(
        f"{m['date']}T{m['time']}.{frac}{'+00:00' if tz == 'Z' else tz}"
    )
    return result.astimezone(UTC)


def _optional_datetime(proof: Mapping[str, Any], name: str) -> datetime | None:
    value = proof.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedSignatureError(f"proof {name} is not a string")
    try:
        return parse_xsd_datetime(value)
    except ValueError:
        raise MalformedSignatureError(f"proof {name} is not an XML Schema dateTime") from None


def format_xsd_datetime(created: datetime | str | None) -> str:
    """``created`` as an XML Schema dateTime in UTC, whole seconds; None means now."""
    if created is None:
        created = datetime.now(UTC)
    if isinstance(created, str):
        parse_xsd_datetime(created)  # ValueError for the caller's mistake
        return created
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_AS = "https://www.w3.org/ns/activitystreams"
_INTEGRITY_CONTEXTS = (
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
)


def _with_integrity_context(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """Name the Data Integrity context in an ActivityStreams document that lacks it.

    Without it ``proof`` is an undefined term to a JSON-LD processor; Fedify
    and the FEP's examples include it. Other documents (verifiable
    credentials, whose context defines ``proof`` already) are left alone.
    """
    context = document.get(_CONTEXT)
    entries = context if isinstance(context, list) else [context]
    if _AS not in entries or any(entry in _INTEGRITY_CONTEXTS for entry in entries):
        return document
    return {**document, _CONTEXT: [*entries, _INTEGRITY_CONTEXTS[1]]}
