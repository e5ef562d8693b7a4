"""Linked Data Signatures 1.0 as Mastodon uses them: ``RsaSignature2017``.

Mastodon signs activities it may relay (public ``Create``, ``Delete``,
``Update`` ...) with a ``signature`` member::

    "signature": {
      "type": "RsaSignature2017",
      "creator": "https://host/users/alice#main-key",
      "created": "2017-09-23T20:21:34Z",
      "signatureValue": "base64..."
    }

The signed bytes are two lowercase hex SHA-256 digests, concatenated::

    hex(SHA-256(URDNA2015(options))) || hex(SHA-256(URDNA2015(document)))

where ``options`` is the ``signature`` object without ``type``, ``id`` and
``signatureValue`` and with ``@context`` set to ``https://w3id.org/identity/v1``,
and ``document`` is the object without ``signature``. The signature is
RSASSA-PKCS1-v1_5 with SHA-256 (facts from Mastodon's
``app/lib/activitypub/linked_data_signature.rb``).

Canonicalisation runs through :func:`activitypub.jsonld.canonicalize`: offline
(an unknown remote context raises :class:`~activitypub.errors.UnknownContextError`)
and under a time budget, so a crafted document cannot stall the caller
(:class:`~activitypub.errors.JsonLdTimeoutError` or
:class:`~activitypub.errors.JsonLdLimitError`). It is CPU-bound: from async
code call it through ``asyncio.to_thread``.

A caveat of the scheme itself: only what the document's ``@context`` defines
is signed. Members the context does not define vanish in canonicalisation,
so a relay could add them without breaking the signature. A document
without ``@context`` would sign nothing at all and is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from activitypub.errors import (
    AlgorithmMismatchError,
    JsonLdTimeoutError,
    MalformedSignatureError,
    ProofError,
    UnsupportedAlgorithmError,
)
from activitypub.jsonld import IDENTITY_V1, DocumentLoader, canonicalize
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures.proofs import format_xsd_datetime, parse_xsd_datetime

__all__ = [
    "IDENTITY_V1",
    "SIGNATURE_TYPE",
    "VerifiedLDSignature",
    "create_ld_signature",
    "ld_signature_creator",
    "verify_ld_signature",
]

SIGNATURE_TYPE: Final = "RsaSignature2017"

_ALGORITHM: Final = "rsa-v1_5-sha256"
_DEFAULT_TIMEOUT: Final = 2.0


@dataclass(frozen=True, slots=True)
class VerifiedLDSignature:
    """What a verified Linked Data signature asserts."""

    creator: str
    """The key id that signed (the key the caller verified with)."""
    created: datetime | None
    """``created``, timezone-aware, when present."""


def ld_signature_creator(document: Mapping[str, Any]) -> str:
    """The key id (``creator``) of the document's LD signature, checked for form only.

    Lets the caller fetch the key asynchronously before
    :func:`verify_ld_signature`; raises the same errors that function raises
    for a missing, malformed or unsupported signature.
    """
    return _parse(document).creator


def verify_ld_signature(
    document: Mapping[str, Any],
    public_key: PublicKey,
    *,
    loader: DocumentLoader | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> VerifiedLDSignature:
    """Verify the document's ``RsaSignature2017`` with ``public_key``.

    ``timeout`` bounds the whole canonicalisation (both parts). The caller
    checks that the key belongs to the activity's actor. Raises
    :class:`ProofError` (no signature), :class:`UnsupportedAlgorithmError`
    (another signature type), :class:`MalformedSignatureError`,
    :class:`AlgorithmMismatchError` (not an RSA key),
    :class:`~activitypub.errors.InvalidSignatureError` (tampered or wrong key),
    and the JSON-LD errors of :func:`activitypub.jsonld.canonicalize`.
    """
    parsed = _parse(document)
    if public_key.type != "rsa":
        raise AlgorithmMismatchError(f"{SIGNATURE_TYPE} needs an RSA key, not {public_key.type}")
    options = {
        k: v for k, v in parsed.signature.items() if k not in ("type", "id", "signatureValue")
    }
    data = _signed_bytes(options, document, loader, timeout)
    public_key.verify(parsed.value, data, _ALGORITHM)
    return VerifiedLDSignature(parsed.creator, parsed.created)


def create_ld_signature(
    document: Mapping[str, Any],
    key: PrivateKey,
    creator: str,
    *,
    created: datetime | str | None = None,
    loader: DocumentLoader | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Return a copy of ``document`` signed with ``RsaSignature2017``, as Mastodon signs.

    ``key`` must be RSA; ``creator`` is its key id. An existing ``signature``
    is replaced. Add any FEP-8b32 proof *before* this signature. The input is
    not modified (the result is a shallow copy).
    """
    if key.type != "rsa":
        raise AlgorithmMismatchError(f"{SIGNATURE_TYPE} needs an RSA key, not {key.type}")
    if not isinstance(creator, str) or not creator:
        raise ValueError("creator must be a non-empty string")
    if "@context" not in document:
        raise ProofError("a document without @context cannot carry an LD signature")
    options = {"creator": creator, "created": format_xsd_datetime(created)}
    data = _signed_bytes(options, document, loader, timeout)
    value = base64.b64encode(key.sign(data, _ALGORITHM)).decode("ascii")
    signed = {k: v for k, v in document.items() if k != "signature"}
    signed["signature"] = {"type": SIGNATURE_TYPE, **options, "signatureValue": value}
    return signed


# -- internals -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Signature:
    signature: Mapping[str, Any]
    creator: str
    created: datetime | None
    value: bytes


def _parse(document: Mapping[str, Any]) -> _Signature:
    if not isinstance(document, Mapping):
        raise MalformedSignatureError("the document is not a JSON object")
    signature = document.get("signature")
    if signature is None:
        raise ProofError("the document has no Linked Data signature")
    if not isinstance(signature, Mapping):
        raise MalformedSignatureError("signature is not a JSON object")
    if signature.get("type") != SIGNATURE_TYPE:
        raise UnsupportedAlgorithmError(f"unsupported signature type {signature.get('type')!r}")
    creator = signature.get("creator")
    if not isinstance(creator, str) or not creator:
        raise MalformedSignatureError("signature has no creator string")
    raw = signature.get("signatureValue")
    if not isinstance(raw, str) or len(raw) > 4096:
        raise MalformedSignatureError("signature has no usable signatureValue")
    try:
        value = base64.b64decode("".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedSignatureError("signatureValue is not base64") from None
    created_raw = signature.get("created")
    created: datetime | None = None
    if created_raw is not None:
        if not isinstance(created_raw, str):
            raise MalformedSignatureError("signature created is not a string")
        try:
            created = parse_xsd_datetime(created_raw)
        except ValueError:
            raise MalformedSignatureError("signature created is not a dateTime") from None
    if "@context" not in document:
        raise MalformedSignatureError("a document without @context signs nothing")
    return _Signature(signature, creator, created, value)


def _signed_bytes(
    options: Mapping[str, Any],
    document: Mapping[str, Any],
    loader: DocumentLoader | None,
    timeout: float,
) -> bytes:
    deadline = time.monotonic() + timeout
    options_doc = {**options, "@context": IDENTITY_V1}
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    options_nq = canonicalize(options_doc, loader=loader, timeout=timeout)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise JsonLdTimeoutError("time budget spent canonicalising the signature options")
    document_nq = canonicalize(unsigned, loader=loader, timeout=remaining)
    return (_hex_sha256(options_nq) + _hex_sha256(document_nq)).encode("ascii")


def _hex_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
