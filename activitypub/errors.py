"""Every failure the library reports is one of these classes.

Callers branch on the class, never on the message: an inbox maps
``SignatureError`` to 401 and ``ParseError`` to 400 without reading text.
"""

from __future__ import annotations

__all__ = [
    "KeyUnavailableError",
    "KeyOwnerError",
    "InboxError",
    "PayloadTooLargeError",
    "UnsupportedMediaTypeError",
    "TooManyItemsError",
    "ForbiddenError",
    "UnauthorizedActivityError",
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
    "StorageError",
    "SchemaVersionError",
    "FetchError",
    "BlockedAddressError",
    "NetworkError",
    "FetchTimeoutError",
    "ResponseTooLargeError",
    "RedirectError",
    "HttpStatusError",
    "GoneError",
    "ContentTypeError",
    "InvalidDocumentError",
    "IdMismatchError",
    "WebFingerError",
    "NodeInfoError",
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


# -- federation -------------------------------------------------------------------


class KeyUnavailableError(SignatureError):
    """The signing key could not be fetched (or its host failed recently: cached)."""


class KeyOwnerError(SignatureError):
    """The key does not belong to the activity's actor, or the owner does not list it."""


class InboxError(ActivityPubError):
    """An inbox request refused before signature checks; ``status`` is the HTTP answer."""

    status = 400


class PayloadTooLargeError(InboxError):
    status = 413


class UnsupportedMediaTypeError(InboxError):
    status = 415


class TooManyItemsError(InboxError):
    """A property holds more items than the configured cap allows (S-31)."""


class ForbiddenError(InboxError):
    """The sender or its domain is blocked."""

    status = 403


class UnauthorizedActivityError(InboxError):
    """A verified sender tried what only another actor may do (Update/Delete/Undo/Accept)."""

    status = 403


# -- storage and queues --------------------------------------------------------


class StorageError(ActivityPubError):
    """A storage or queue backend failed: unreadable or corrupt database, not open."""


class SchemaVersionError(StorageError):
    """The database was written by a newer version of this library; refusing to touch it."""


# -- fetching ----------------------------------------------------------------


class FetchError(ActivityPubError):
    """An outgoing request (fetch, delivery, WebFinger, NodeInfo) failed."""


class BlockedAddressError(FetchError):
    """The URL or an address it resolves to is refused by the address policy (SSRF).

    Raised before any connection is made to the address.
    """


class NetworkError(FetchError):
    """The connection could not be made or broke off (refused, reset, TLS, DNS)."""


class FetchTimeoutError(FetchError):
    """The exchange did not finish within its overall deadline."""


class ResponseTooLargeError(FetchError):
    """The response body exceeds the size limit (announced or actual)."""


class RedirectError(FetchError):
    """A redirect was refused: too many, a loop, a change of scheme or of origin."""


class HttpStatusError(FetchError):
    """The server answered with a status other than the one expected."""

    def __init__(self, message: str, status: int, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class GoneError(HttpStatusError):
    """410 Gone: the object was deleted; callers may drop what they cached of it."""


class ContentTypeError(FetchError):
    """The response is not of an accepted media type (not ActivityStreams JSON)."""


class InvalidDocumentError(FetchError, ParseError):
    """The response body is not a JSON object of the expected shape."""


class IdMismatchError(FetchError):
    """The fetched document's ``id`` is not the URL that served it (or not same-origin).

    A server is authoritative only for ids on its own origin: anything else
    could be a forgery of another server's object.
    """


class WebFingerError(FetchError):
    """A WebFinger lookup gave no usable answer (bad handle, no ``self`` link ...)."""


class NodeInfoError(FetchError):
    """NodeInfo discovery or parsing failed."""
