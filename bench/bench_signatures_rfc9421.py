"""Throughput of RFC 9421 signing and verification beside the raw crypto operation.

Each case is timed in the same run as the bare ``cryptography`` sign or verify
with the same key objects over the same bytes (the case's own signature base),
so the ratio does not depend on the machine. Verification includes everything
an inbox does once it has the key: header normalisation, parsing
``Signature-Input`` and ``Signature``, building the signature base, the policy
checks and, for POST, checking ``Content-Digest`` against the body.

Run: ``python bench/bench_signatures_rfc9421.py [seconds_per_case]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from activitypub.keys import PrivateKey
from activitypub.signatures.rfc9421 import (
    parse_signatures,
    select_signature,
    sign_request,
    signature_base,
    verify_request,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import paired_rates

URL = "https://mastodon.example/users/alice/inbox"
KEY_ID = "https://remote.example/users/bob#main-key"
BODY = (
    b'{"@context":"https://www.w3.org/ns/activitystreams","id":"https://remote.example/'
    b'activities/1","type":"Follow","actor":"https://remote.example/users/bob",'
    b'"object":"https://mastodon.example/users/alice"}'
)
BASE_HEADERS = {
    "Host": "mastodon.example",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/activity+json",
    "Accept": "application/activity+json",
    "User-Agent": "bench/1.0",
    "Content-Length": str(len(BODY)),
}


def _raw(key: PrivateKey, message: bytes) -> tuple[Callable[[], object], Callable[[], object]]:
    """Bare ``cryptography`` sign and verify of ``message`` with the key objects ours use."""
    crypto = key.crypto_key
    public = key.public_key.crypto_key
    if isinstance(crypto, rsa.RSAPrivateKey):
        assert isinstance(public, rsa.RSAPublicKey)
        pad, alg = padding.PKCS1v15(), hashes.SHA256()
        pub = public
        sig = crypto.sign(message, pad, alg)
        return (
            lambda: crypto.sign(message, pad, alg),
            lambda: pub.verify(sig, message, pad, alg),
        )
    assert isinstance(crypto, ed25519.Ed25519PrivateKey)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    epub = public
    esig = crypto.sign(message)
    return lambda: crypto.sign(message), lambda: epub.verify(esig, message)


def _base(method: str, signed: dict[str, str]) -> bytes:
    """The signature base of a signed request: the bytes the key operation sees."""
    sig = select_signature(parse_signatures(signed))
    return signature_base(sig, method=method, url=URL, headers=signed)


def _cases(kind: str) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    key = PrivateKey.generate(kind, id=KEY_ID)  # type: ignore[arg-type]
    public = key.public_key
    now = time.time()
    get_headers = {k: v for k, v in BASE_HEADERS.items() if k != "Content-Length"}
    get_signed = {**get_headers, **sign_request("GET", URL, get_headers, None, key, now=now)}
    post_added = sign_request("POST", URL, BASE_HEADERS, BODY, key, now=now)
    post_signed = {**BASE_HEADERS, **post_added}
    get_sign, get_verify = _raw(key, _base("GET", get_signed))
    post_sign, post_verify = _raw(key, _base("POST", post_signed))
    return [
        ("sign GET", lambda: sign_request("GET", URL, get_headers, None, key), get_sign),
        (
            "sign POST+digest",
            lambda: sign_request("POST", URL, BASE_HEADERS, BODY, key),
            post_sign,
        ),
        (
            "verify GET",
            lambda: verify_request(public, method="GET", url=URL, headers=get_signed, now=now),
            get_verify,
        ),
        (
            "verify POST+digest",
            lambda: verify_request(
                public, method="POST", url=URL, headers=post_signed, body=BODY, now=now
            ),
            post_verify,
        ),
    ]


def run(seconds_per_case: float = 1.0) -> list[tuple[str, float, float, float]]:
    """``(case, ops/s, raw crypto ops/s, ratio)`` for each case (see ``_paired``)."""
    results: list[tuple[str, float, float, float]] = []
    for kind, label in (("rsa", "RSA-2048 rsa-v1_5-sha256"), ("ed25519", "Ed25519")):
        for name, fn, raw in _cases(kind):
            rate, raw_rate, ratio = paired_rates(fn, raw, seconds_per_case)
            results.append((f"rfc9421 {name} {label}", rate, raw_rate, ratio))
    return results


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(f"{'case':<48} {'ops/s':>10} {'raw ops/s':>10} {'ratio':>6}")
    for name, rate, raw, ratio in run(seconds):
        print(f"{name:<48} {rate:>10.0f} {raw:>10.0f} {ratio:>6.2f}")
