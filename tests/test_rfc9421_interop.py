"""Cross-check with ``http-message-signatures`` (an independent RFC 9421 implementation).

What we sign it verifies, and what it signs we verify, for the four asymmetric
algorithms, GET and POST (with ``Content-Digest``), default and wide coverage.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from activitypub.errors import DigestMismatchError, InvalidSignatureError
from activitypub.keys import PrivateKey
from activitypub.signatures.rfc9421 import (
    VerifyPolicy,
    parse_signatures,
    sign_request,
    verify_request,
)

KEY_ID = "https://remote.example/users/bob#main-key"
URL = "https://mastodon.example/users/alice/inbox?page=2&filter=a%20b"
BODY = b'{"type":"Create","actor":"https://remote.example/users/bob"}'
BASE = {
    "Host": "mastodon.example",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/activity+json",
}
WIDE = [
    "@method", "@target-uri", "@authority", "@scheme", "@path", "@query",
    "@request-target", '"@query-param";name="filter"', "date", "content-type",
]  # fmt: skip

CASES = [
    ("rsa", "rsa-v1_5-sha256", algorithms.RSA_V1_5_SHA256),
    ("rsa", "rsa-pss-sha512", algorithms.RSA_PSS_SHA512),
    ("ec-p256", "ecdsa-p256-sha256", algorithms.ECDSA_P256_SHA256),
    ("ed25519", "ed25519", algorithms.ED25519),
]
_KEYS: dict[str, PrivateKey] = {}


def key_for(kind: str) -> PrivateKey:
    if kind not in _KEYS:
        _KEYS[kind] = PrivateKey.generate(kind, id=KEY_ID)  # type: ignore[arg-type]
    return _KEYS[kind]


@dataclass
class Message:
    """The request shape ``http-message-signatures`` signs and verifies."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def resolver(key: PrivateKey) -> MappingKeyResolver:
    return MappingKeyResolver(
        public_keys={KEY_ID: key.public_key.crypto_key}, private_keys={KEY_ID: key.crypto_key}
    )


@pytest.mark.parametrize(("kind", "alg", "theirs"), CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("wide", [False, True], ids=["default", "wide"])
def test_they_verify_ours(kind: str, alg: str, theirs: Any, method: str, wide: bool) -> None:
    key = key_for(kind)
    body = BODY if method == "POST" else None
    components = None
    if wide:
        components = WIDE + (["content-digest"] if body is not None else [])
    added = sign_request(method, URL, BASE, body, key, alg=alg, components=components)
    message = Message(method, URL, {**BASE, **added})
    verifier = HTTPMessageVerifier(signature_algorithm=theirs, key_resolver=resolver(key))
    [result] = verifier.verify(message, body=body, require_components=("@method", "@target-uri"))
    assert result.parameters["keyid"] == KEY_ID
    assert result.parameters["alg"] == alg
    if body is not None:
        assert result.body == body
    # and it refuses the same headers on another path
    moved = Message(method, URL.replace("alice", "carol"), message.headers)
    with pytest.raises(InvalidSignature):
        verifier.verify(moved, body=body)


@pytest.mark.parametrize(("kind", "alg", "theirs"), CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("wide", [False, True], ids=["default", "wide"])
@pytest.mark.parametrize("include_alg", [True, False], ids=["alg", "no-alg"])
def test_we_verify_theirs(
    kind: str, alg: str, theirs: Any, method: str, wide: bool, include_alg: bool
) -> None:
    key = key_for(kind)
    body = BODY if method == "POST" else None
    message = Message(method, URL, dict(BASE))
    signer = HTTPMessageSigner(signature_algorithm=theirs, key_resolver=resolver(key))
    created = datetime.datetime.now(datetime.UTC)
    signer.sign(
        message,
        key_id=KEY_ID,
        created=created,
        label="sig1",
        include_alg=include_alg,
        covered_component_ids=WIDE if wide else ("@method", "@target-uri"),
        body=body,  # adds Content-Digest and covers it
    )
    [sig] = parse_signatures(message.headers)
    assert sig.keyid == KEY_ID
    assert sig.created == int(created.timestamp())
    assert (sig.alg == alg) is include_alg
    result = verify_request(
        key.public_key,
        method=method,
        url=URL,
        headers=message.headers,
        body=body,
        algorithm=None if include_alg else alg,  # without alg, the key metadata tells
    )
    assert result.keyid == KEY_ID
    assert result.alg == alg
    if body is not None:
        assert sig.covers_digest
        with pytest.raises(DigestMismatchError):
            verify_request(key.public_key, method=method, url=URL, headers=message.headers,
                           body=body + b"!", algorithm=alg)  # fmt: skip
    with pytest.raises(InvalidSignatureError):
        verify_request(key.public_key, method=method, url=URL.replace("page=2", "page=3"),
                       headers=message.headers, body=body, algorithm=alg,
                       policy=VerifyPolicy(required_components=()))  # fmt: skip


def test_their_response_to_time_limits() -> None:
    key = key_for("ed25519")
    now = time.time()
    added = sign_request("GET", URL, BASE, None, key, created=int(now) - 30, expires=int(now) + 30)
    message = Message("GET", URL, {**BASE, **added})
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=resolver(key)
    )
    [result] = verifier.verify(message)
    assert result.parameters["expires"] == int(now) + 30
