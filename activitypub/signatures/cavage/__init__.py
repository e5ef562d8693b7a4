"""HTTP Signatures as the Fediverse uses them: draft-cavage-http-signatures-12.

Signing (:func:`sign_request`) produces what Mastodon sends: ``algorithm``
``rsa-sha256`` (or ``hs2019``), ``(request-target) host date digest`` on POST
and ``(request-target) host date`` on GET.

Verification is two steps so that no I/O happens here:

1. :func:`parse_signature_header` (or :func:`signature_params`, which finds the
   header) reads the ``Signature`` header into :class:`SignatureParams`, so the
   inbox can learn ``keyId`` and fetch the key (asynchronously, elsewhere);
2. :func:`verify_request` checks coverage, time window, body digest and the
   signature against a :class:`~activitypub.keys.PublicKey`.

The default :class:`VerificationPolicy` is Mastodon's (``signature_verification.rb``):
``date`` or ``(created)`` signed; ``(request-target)`` or ``digest`` signed; GET
signs ``host``; POST signs ``digest`` and the ``Digest`` header matches the
body; creation (``created`` else ``Date``) at most 1 h in the future; expiry
(``expires`` else creation + 5 min, never beyond creation + 12 h) passed by at
most 1 h.

``(request-target)`` is rebuilt from the raw path and query as sent on the
request line; a signature over the path without the query is also accepted
(Mastodon does the same: several signers drop the query).

Errors are the classes of :mod:`activitypub.errors`; malformed input of any
shape raises :class:`MalformedSignatureError` and nothing else.

This module is the public face; the work is done in private modules, one
concept each: ``_parse`` (the ``Signature`` header), ``_coverage`` (covered-header
lists), ``_fields`` (reading request headers), ``_signing_string``, ``_time``,
``_sign`` and ``_verify``.
"""

from __future__ import annotations

from activitypub.signatures.cavage._common import (
    CAVAGE_ALGORITHMS,
    MAX_SIGNATURE_HEADER_LENGTH,
    CavageAlgorithm,
    Headers,
)
from activitypub.signatures.cavage._parse import (
    SignatureParams,
    format_signature_header,
    parse_signature_header,
    signature_params,
)
from activitypub.signatures.cavage._sign import sign_request
from activitypub.signatures.cavage._signing_string import signing_string
from activitypub.signatures.cavage._verify import (
    DEFAULT_POLICY,
    VerificationPolicy,
    VerifiedSignature,
    verify_request,
)
from activitypub.signatures.cavage._verify import (
    KeySource as KeySource,
)

__all__ = [
    "CAVAGE_ALGORITHMS",
    "DEFAULT_POLICY",
    "MAX_SIGNATURE_HEADER_LENGTH",
    "CavageAlgorithm",
    "Headers",
    "SignatureParams",
    "VerificationPolicy",
    "VerifiedSignature",
    "format_signature_header",
    "parse_signature_header",
    "sign_request",
    "signature_params",
    "signing_string",
    "verify_request",
]
