"""Body digests: ``Digest`` (RFC 3230) and ``Content-Digest`` (RFC 9530).

Both are computed over the exact bytes of the body as sent or received:
never over re-serialised JSON, and before any decompression decision.

Verification follows Mastodon for ``Digest``: the value is split on commas,
each item at its first ``=``; algorithm names are compared case-insensitively;
a ``SHA-256`` entry must be present and must be valid base64 of 32 bytes equal
to SHA-256 of the body.  ``Content-Digest`` is an RFC 8941 dictionary whose
members are byte sequences (``sha-256=:<b64>:``).  In both headers every entry
with an algorithm we know (SHA-256, SHA-512) must match; unknown algorithms
are ignored as long as a known one is present.  Decoded bytes are compared in
constant time.

Failures: no header -> :class:`MissingDigestError`; only unknown algorithms ->
:class:`UnsupportedDigestError`; unparseable -> :class:`MalformedDigestError`;
wrong value -> :class:`DigestMismatchError`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from http_sfv.dictionary import Dictionary as SfvDictionary

from activitypub.errors import (
    DigestMismatchError,
    MalformedDigestError,
    MissingDigestError,
    UnsupportedDigestError,
)

__all__ = [
    "DIGEST_ALGORITHMS",
    "MAX_DIGEST_HEADER_LENGTH",
    "content_digest_header",
    "digest_header",
    "verify_body_digest",
    "verify_content_digest",
    "verify_digest",
]

#: Longest ``Digest`` / ``Content-Digest`` value we read. SHA-256 plus SHA-512
#: take about 150 characters; anything near this cap is an attack.
MAX_DIGEST_HEADER_LENGTH: Final = 4096

_HashFactory = Callable[[bytes], "hashlib._Hash"]

#: Lower-case algorithm name -> (hash constructor, digest length, RFC 3230 spelling).
DIGEST_ALGORITHMS: Final[dict[str, tuple[_HashFactory, int, str]]] = {
    "sha-256": (hashlib.sha256, 32, "SHA-256"),
    "sha-512": (hashlib.sha512, 64, "SHA-512"),
}


_b2a: Final = binascii.b2a_base64
_sha256: Final = hashlib.sha256
_compare: Final = hmac.compare_digest


def _b64(data: bytes) -> str:
    return _b2a(data, newline=False).decode("ascii")


def _algorithm(name: str) -> tuple[_HashFactory, int, str]:
    try:
        return DIGEST_ALGORITHMS[name.lower()]
    except KeyError:
        raise ValueError(f"unsupported digest algorithm {name!r}") from None


# -- creation -----------------------------------------------------------------


def digest_header(body: bytes, algorithm: str = "sha-256") -> str:
    """The ``Digest`` value for ``body``: ``SHA-256=<base64>`` (RFC 3230 spelling)."""
    factory, _, label = _algorithm(algorithm)
    return f"{label}={_b64(factory(body).digest())}"


def content_digest_header(body: bytes, algorithms: Iterable[str] = ("sha-256",)) -> str:
    """The ``Content-Digest`` value for ``body``: ``sha-256=:<base64>:`` (RFC 9530)."""
    parts = []
    for name in algorithms:
        factory, _, _ = _algorithm(name)
        parts.append(f"{name.lower()}=:{_b64(factory(body).digest())}:")
    if not parts:
        raise ValueError("at least one digest algorithm is needed")
    return ", ".join(parts)


# -- verification -------------------------------------------------------------


def _check_length(value: str, header: str) -> None:
    if len(value) > MAX_DIGEST_HEADER_LENGTH:
        raise MalformedDigestError(f"{header} header is too long")


def _decode_b64(text: str, size: int, label: str) -> bytes:
    try:
        raw = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise MalformedDigestError(f"{label} digest is not valid base64") from None
    if len(raw) != size:
        raise MalformedDigestError(f"{label} digest must be {size} bytes, got {len(raw)}")
    return raw


# The last digest found good: an inbox checks the body's digest as a step of
# its own and the signature check looks at it again; the second time is
# answered here. Keyed by the header text and the very bytes object (held
# here, so it cannot be another object at the same address), both immutable.
_LAST_GOOD: tuple[str, bytes, str] | None = None


def verify_digest(value: str | None, body: bytes) -> str:
    """Check a ``Digest`` header against ``body``; return the strongest algorithm checked.

    ``SHA-256`` must be present (Mastodon refuses anything else); a ``SHA-512``
    entry, if also present, must match too. Other algorithms are ignored.
    """
    global _LAST_GOOD
    if value is None:
        raise MissingDigestError("no Digest header")
    last = _LAST_GOOD
    if last is not None and last[1] is body and last[0] == value:
        return last[2]
    checked = _verify_digest(value, body)
    if type(body) is bytes:
        _LAST_GOOD = (value, body, checked)
    return checked


def _verify_digest(value: str, body: bytes) -> str:
    expected = _sha256(body).digest()
    if (
        len(value) == 52
        and value.isascii()
        and _compare(value, "SHA-256=" + _b2a(expected, newline=False).decode("ascii"))
    ):
        # What everybody sends: the canonical base64 of SHA-256(body), equal as
        # text (hence as decoded bytes). Any other text (another spelling, a
        # non-canonical encoding of the right digest) takes the strict path.
        return "sha-256"
    _check_length(value, "Digest")
    if value[:8].lower() == "sha-256=" and "," not in value:
        # One SHA-256 entry. Same rules as the general loop, fewer steps.
        try:
            claimed = binascii.a2b_base64(value[8:].strip(), strict_mode=True)
        except (binascii.Error, ValueError):
            raise MalformedDigestError("SHA-256 digest is not valid base64") from None
        if len(claimed) != 32:
            raise MalformedDigestError(f"SHA-256 digest must be 32 bytes, got {len(claimed)}")
        if not hmac.compare_digest(claimed, expected):
            raise DigestMismatchError("SHA-256 digest does not match the body")
        return "sha-256"
    entries: list[tuple[str, str]] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            raise MalformedDigestError("empty entry in Digest header")
        name, sep, encoded = item.partition("=")
        if not sep:
            raise MalformedDigestError("Digest entry without '='")
        entries.append((name.strip().lower(), encoded.strip()))
    if not any(name == "sha-256" for name, _ in entries):
        raise UnsupportedDigestError("Digest header has no SHA-256 entry")
    checked = "sha-256"
    for name, encoded in entries:
        algorithm = DIGEST_ALGORITHMS.get(name)
        if algorithm is None:
            continue
        factory, size, label = algorithm
        claimed = _decode_b64(encoded, size, label)
        if not hmac.compare_digest(claimed, factory(body).digest()):
            raise DigestMismatchError(f"{label} digest does not match the body")
        if size > DIGEST_ALGORITHMS[checked][1]:
            checked = name
    return checked


def verify_content_digest(value: str | None, body: bytes) -> str:
    """Check a ``Content-Digest`` header (RFC 9530) against ``body``.

    At least one of ``sha-256``/``sha-512`` must be present and every present
    one must match. Returns the strongest algorithm checked.
    """
    if value is None:
        raise MissingDigestError("no Content-Digest header")
    _check_length(value, "Content-Digest")
    parsed = SfvDictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except Exception:  # http_sfv raises ValueError, be safe with hostile input
        raise MalformedDigestError("Content-Digest is not an RFC 8941 dictionary") from None
    checked: str | None = None
    for name, member in parsed.items():
        algorithm = DIGEST_ALGORITHMS.get(name)
        if algorithm is None:
            continue
        factory, size, _ = algorithm
        claimed = getattr(member, "value", None)
        if not isinstance(claimed, bytes):
            raise MalformedDigestError(f"Content-Digest {name} is not a byte sequence")
        if len(claimed) != size:
            raise MalformedDigestError(f"Content-Digest {name} must be {size} bytes")
        if not hmac.compare_digest(claimed, factory(body).digest()):
            raise DigestMismatchError(f"Content-Digest {name} does not match the body")
        if checked is None or size > DIGEST_ALGORITHMS[checked][1]:
            checked = name
    if checked is None:
        raise UnsupportedDigestError("Content-Digest offers no supported algorithm")
    return checked


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None


def verify_body_digest(headers: Mapping[str, str], body: bytes) -> str:
    """Check whichever of ``Content-Digest`` and ``Digest`` are present; at least one must be.

    ``headers`` is looked up case-insensitively. Returns the header name checked last.
    """
    content_digest = _get(headers, "content-digest")
    digest = _get(headers, "digest")
    if content_digest is None and digest is None:
        raise MissingDigestError("neither Content-Digest nor Digest header present")
    checked = ""
    if content_digest is not None:
        verify_content_digest(content_digest, body)
        checked = "content-digest"
    if digest is not None:
        verify_digest(digest, body)
        checked = "digest"
    return checked
