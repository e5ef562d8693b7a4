"""Every failure the library reports is one of these classes.

Callers branch on the class, never on the message: an inbox maps
``SignatureError`` to 401 and ``ParseError`` to 400 without reading text.
"""

from __future__ import annotations

__all__ = [
    "ActivityPubError",
    "ParseError",
    "VocabularyError",
    "JsonLdError",
    "UnknownContextError",
    "JsonLdTimeoutError",
    "JsonLdLimitError",
    "KeyFormatError",
    "SignatureError",
    "MalformedSignatureError",
    "InvalidSignatureError",
    "SignatureExpiredError",
    "ClockSkewError",
    "MissingComponentError",
    "UnsupportedAlgorithmError",
    "UnknownSignatureAlgorithmError",
    "AlgorithmMismatchError",
    "DigestError",
    "MissingDigestError",
    "DigestMismatchError",
    "UnsupportedDigestError",
    "MalformedDigestError",
    "ProofError",
]


class ActivityPubError(Exception):
    """Base of every error this library raises on purpose."""


# -- documents ---------------------------------------------------------------


class ParseError(ActivityPubError):
    """The input is not a well-formed document (JSON, header, multibase ...)."""


class VocabularyError(ParseError):
    """A document is JSON but not a usable ActivityStreams object."""


class JsonLdError(ActivityPubError):
    """JSON-LD processing failed."""


class UnknownContextError(JsonLdError):
    """A document names a remote context that is not bundled and fetching is off.

    Refusing is the default so that parsing never makes a network request.
    """


class JsonLdTimeoutError(JsonLdError):
    """Canonicalisation exceeded its time budget (a crafted document can stall it)."""


class JsonLdLimitError(JsonLdError):
    """A document exceeds a structural limit: nesting, remote contexts, blank nodes.

    Raised before processing so hostile input fails fast instead of recursing.
    """


# -- keys --------------------------------------------------------------------


class KeyFormatError(ParseError):
    """A key could not be read: bad PEM, bad multibase, unsupported key type."""


# -- signatures --------------------------------------------------------------


class SignatureError(ActivityPubError):
    """A signature could not be accepted. Inboxes answer these with 401."""


class MalformedSignatureError(SignatureError, ParseError):
    """The signature header (or proof) could not be parsed."""


class InvalidSignatureError(SignatureError):
    """The signature does not verify against the key."""


class SignatureExpiredError(SignatureError):
    """The signature's lifetime (``expires`` or the verifier's window) has passed."""


class ClockSkewError(SignatureError):
    """The signature claims to be made too far from now (future or past)."""


class MissingComponentError(SignatureError):
    """A component the verifier requires is absent from the request or not signed."""


class UnsupportedAlgorithmError(SignatureError):
    """The algorithm is unknown or disabled."""


class UnknownSignatureAlgorithmError(MalformedSignatureError, UnsupportedAlgorithmError):
    """A signature header names an algorithm we do not know (``algorithm="rsa-sha512"``).

    Both malformed input (S-07: never a 500) and an unsupported algorithm, so
    callers catching either class see it.
    """


class AlgorithmMismatchError(SignatureError):
    """The declared algorithm does not fit the key (algorithm confusion)."""


class DigestError(SignatureError):
    """Base of body digest failures (Digest / Content-Digest)."""


class MissingDigestError(DigestError, MissingComponentError):
    """No digest header, or none with an acceptable algorithm."""


class DigestMismatchError(DigestError):
    """The digest header does not match the body received."""


class UnsupportedDigestError(DigestError, UnsupportedAlgorithmError):
    """Only digest algorithms we do not accept were offered."""


class MalformedDigestError(DigestError, ParseError):
    """The digest header could not be parsed."""


class ProofError(SignatureError):
    """An object integrity proof or Linked Data signature is missing or malformed."""
