"""Signatures over HTTP messages (draft-cavage, RFC 9421) and over objects (FEP-8b32, LD).

Each scheme parses first (learning the key id without I/O) and verifies second,
so the asynchronous key fetch sits between the two in the caller.
The two HTTP schemes share function names, so they are used by module:
``cavage.sign_request`` / ``rfc9421.sign_request``.
"""

from activitypub.signatures import cavage, rfc9421
from activitypub.signatures.digest import (
    content_digest_header,
    digest_header,
    verify_body_digest,
    verify_content_digest,
    verify_digest,
)
from activitypub.signatures.ldsig import (
    VerifiedLDSignature,
    create_ld_signature,
    ld_signature_creator,
    verify_ld_signature,
)
from activitypub.signatures.proofs import (
    VerifiedProof,
    create_proof,
    proof_verification_method,
    verify_proof,
)

__all__ = [
    "cavage",
    "rfc9421",
    "content_digest_header",
    "digest_header",
    "verify_body_digest",
    "verify_content_digest",
    "verify_digest",
    "VerifiedLDSignature",
    "create_ld_signature",
    "ld_signature_creator",
    "verify_ld_signature",
    "VerifiedProof",
    "create_proof",
    "proof_verification_method",
    "verify_proof",
]
