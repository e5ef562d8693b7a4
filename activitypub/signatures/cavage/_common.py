"""What every part of the draft-cavage implementation shares: types, limits, the algorithm table.

Kept apart so that parsing, signing and verification depend on this one small
module rather than on each other.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias

from activitypub.errors import (
    AlgorithmMismatchError,
    MalformedSignatureError,
    UnknownSignatureAlgorithmError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import Algorithm, KeyType

CavageAlgorithm: TypeAlias = Literal["rsa-sha256", "hs2019"]

#: The ``algorithm`` values accepted (Mastodon accepts exactly these two).
CAVAGE_ALGORITHMS: Final = frozenset({"rsa-sha256", "hs2019"})

#: Longest ``Signature`` header we parse: an RSA-4096 signature with a long
#: keyId and a dozen headers is under 1.5 KiB.
MAX_SIGNATURE_HEADER_LENGTH: Final = 8192

#: Request headers in any usual shape: a ``dict`` (any case), a multidict
#: (aiohttp, case-insensitive, repeated fields), ``httpx.Headers``, or a
#: sequence of ``(name, value)`` pairs (str or bytes, as in ASGI). A value may
#: be a list of values; repeated fields are joined with ``", "`` (draft §2.3).
Headers: TypeAlias = Mapping[str, Any] | Iterable[tuple[str | bytes, str | bytes]]

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

# Control characters but tab, as a regex class: never allowed in a keyId we write.
_CTL: Final = r"\x00-\x08\x0a-\x1f\x7f"
_CTL_RE: Final = re.compile(f"[{_CTL}\t]")

# Module-level aliases: one global lookup instead of a global and an attribute.
_b2a_base64: Final = binascii.b2a_base64
_a2b_base64: Final = binascii.a2b_base64
_compare_digest: Final = hmac.compare_digest
_sha256: Final = hashlib.sha256


def _b64(data: bytes) -> str:
    return _b2a_base64(data, newline=False).decode("ascii")


def _malformed(reason: str) -> MalformedSignatureError:
    return MalformedSignatureError(f"malformed Signature header: {reason}")


# (declared cavage algorithm, key type) -> the key algorithm that verifies it.
# rsa-sha256 and hs2019 with RSA are RSASSA-PKCS1-v1_5 with SHA-256 (Mastodon);
# hs2019 with Ed25519 is Ed25519. ECDSA has no agreed cavage encoding.
_KEY_ALGORITHM: Final[dict[tuple[str, KeyType], Algorithm]] = {
    ("rsa-sha256", "rsa"): "rsa-v1_5-sha256",
    ("hs2019", "rsa"): "rsa-v1_5-sha256",
    ("hs2019", "ed25519"): "ed25519",
}


def _key_algorithm(algorithm: str, key_type: KeyType) -> Algorithm:
    """The key algorithm of ``algorithm`` with a ``key_type`` key, else the error saying why not."""
    try:
        return _KEY_ALGORITHM[algorithm, key_type]
    except KeyError:
        pass
    if algorithm == "rsa-sha256":
        raise AlgorithmMismatchError(f"rsa-sha256 signature but the key is {key_type}")
    if algorithm == "hs2019":
        raise UnsupportedAlgorithmError(f"hs2019 is not supported with {key_type} keys")
    raise UnknownSignatureAlgorithmError(f"unsupported signature algorithm {algorithm!r}")
