"""draft-cavage HTTP signatures against the raw ``cryptography`` operation they wrap.

``run(seconds_per_case)`` returns ``(case, ops/s, raw ops/s)`` rows; the raw
figure is the bare ``cryptography`` sign/verify with the same key over the same
signing string, measured in the same run, interleaved in short slices with the
cavage call so that noise from other processes hits both alike (``_paired``).

Cases: a Mastodon-shaped POST (``(request-target) host date digest``, 1 KiB
JSON body) and GET (``(request-target) host date``), with RSA-2048
(rsa-sha256) and Ed25519 (hs2019). A POST is signed as a fan-out signs it (one
body for many inboxes: hashed once) and with a new body each time; it is
verified as the inbox verifies it (its Digest step has checked the body, so
the signature check does not hash it again) and, for information, with the
body's SHA-256 included, which the issue's reference verifier did not do.
Our Ed25519 signing runs on libsodium (see ``activitypub/keys.py``), faster
than the ``cryptography`` baseline; a further row, for information, sets it
beside raw libsodium, which shows our own overhead.
Run ``python bench/bench_signatures_cavage.py [seconds]``.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from activitypub.keys import PrivateKey
from activitypub.signatures.cavage import CavageAlgorithm, sign_request, verify_request
from activitypub.signatures.digest import verify_body_digest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import paired_rates

__all__ = ["run"]

_INBOX = "https://remote.example/users/bob/inbox"
_BODY = (
    b'{"@context":"https://www.w3.org/ns/activitystreams","id":"https://local.example/'
    b'activities/1","type":"Create","actor":"https://local.example/users/alice","object":'
    b'{"type":"Note","content":"' + b"x" * 800 + b'"}}'
)
_REQUEST_HEADERS = {
    "Content-Type": "application/activity+json",
    "User-Agent": "bench/1.0",
    "Accept-Encoding": "gzip",
}


def _raw_ops(key: PrivateKey, data: bytes) -> tuple[Callable[[], object], Callable[[], object]]:
    private = key.crypto_key
    public = key.public_key.crypto_key
    if isinstance(private, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey):
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        signature = private.sign(data, pkcs1, sha256)
        rsa_private, rsa_public = private, public
        return (
            lambda: rsa_private.sign(data, pkcs1, sha256),
            lambda: rsa_public.verify(signature, data, pkcs1, sha256),
        )
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert isinstance(public, ed25519.Ed25519PublicKey)
    signature = private.sign(data)
    ed_private, ed_public = private, public
    return lambda: ed_private.sign(data), lambda: ed_public.verify(signature, data)


def _cases(
    label: str, key: PrivateKey, algorithm: CavageAlgorithm, method: str, body: bytes | None
) -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    assert key.id is not None
    key_id = key.id
    public = key.public_key
    added = sign_request(method, _INBOX, _REQUEST_HEADERS, body, key, key_id, algorithm=algorithm)
    received = {**_REQUEST_HEADERS, **added}
    # The signing string of this request is what the raw operation signs.
    data = (
        f"(request-target): {method.lower()} /users/bob/inbox\n"
        f"host: {added['Host']}\ndate: {added['Date']}"
        + (f"\ndigest: {added['Digest']}" if body is not None else "")
    ).encode()
    raw_sign, raw_verify = _raw_ops(key, data)

    def cavage_sign() -> object:
        return sign_request(
            method, _INBOX, _REQUEST_HEADERS, body, key, key_id, algorithm=algorithm
        )

    def cavage_verify() -> object:
        return verify_request(method, "/users/bob/inbox", received, body, public)

    cavage_verify()  # must pass before it is timed
    name = f"{method} {label} {algorithm}"
    if body is None:
        return [
            (f"cavage sign {name}", cavage_sign, raw_sign),
            (f"cavage verify {name}", cavage_verify, raw_verify),
        ]
    # Distinct but equal bodies: every call hashes its body afresh.
    bodies = itertools.cycle([bytes(bytearray(body)) for _ in range(64)])

    def cavage_sign_new_body() -> object:
        return sign_request(
            method, _INBOX, _REQUEST_HEADERS, next(bodies), key, key_id, algorithm=algorithm
        )

    def cavage_verify_new_body() -> object:
        return verify_request(method, "/users/bob/inbox", received, next(bodies), public)

    verify_body_digest(received, body)  # the inbox's Digest step, before the signature
    cases = [
        (f"cavage sign {name} (fan-out: one body)", cavage_sign, raw_sign),
        (f"cavage sign {name} (new body)", cavage_sign_new_body, raw_sign),
        (f"cavage verify {name} (digest step done)", cavage_verify, raw_verify),
        (f"cavage verify {name} (+ body digest)", cavage_verify_new_body, raw_verify),
    ]
    if isinstance(key.crypto_key, ed25519.Ed25519PrivateKey):
        _, secret = crypto_sign_seed_keypair(key.crypto_key.private_bytes_raw())
        cases.append(
            (
                f"cavage sign {name} (new body) vs raw libsodium",
                cavage_sign_new_body,
                lambda: crypto_sign(data, secret)[:64],
            )
        )
    return cases


def run(seconds_per_case: float = 1.0) -> list[tuple[str, float, float, float]]:
    """``[(case name, cavage ops/s, raw cryptography ops/s, ratio), ...]`` (see ``_paired``)."""
    rsa_key = PrivateKey.generate("rsa", id="https://local.example/users/alice#main-key")
    ed_key = PrivateKey.generate("ed25519", id="https://local.example/users/alice#ed25519")
    rows: list[tuple[str, float, float, float]] = []
    setups: tuple[tuple[str, PrivateKey, CavageAlgorithm], ...] = (
        ("rsa-2048", rsa_key, "rsa-sha256"),
        ("ed25519", ed_key, "hs2019"),
    )
    for label, key, algorithm in setups:
        for method, body in (("POST", _BODY), ("GET", None)):
            for name, ours, raw in _cases(label, key, algorithm, method, body):
                rows.append((name, *paired_rates(ours, raw, seconds_per_case)))
    return rows


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    print(f"{'case':44s} {'ops/s':>10s} {'raw ops/s':>10s} {'ratio':>6s}")
    for name, ours, raw, ratio in run(seconds):
        print(f"{name:44s} {ours:10.0f} {raw:10.0f} {ratio:6.2f}")
