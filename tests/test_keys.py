"""Keys: generation, every serialisation, and refusal of what is not a key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from activitypub.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import PrivateKey, PublicKey, base58btc_decode, base58btc_encode

FIXTURES = Path(__file__).parent / "fixtures" / "real"


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return PrivateKey.generate("rsa", id="https://a.example/users/a#main-key")


@pytest.mark.parametrize("kind", ["rsa", "ed25519", "ec-p256"])
def test_sign_verify_and_formats(kind: str) -> None:
    key = PrivateKey.generate(kind)  # type: ignore[arg-type]
    sig = key.sign(b"payload")
    key.public_key.verify(sig, b"payload")
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(sig, b"payload!")
    assert PublicKey.from_pem(key.public_key.to_pem()) == key.public_key
    assert PublicKey.from_multibase(key.public_key.to_multibase()) == key.public_key
    assert PrivateKey.from_pem(key.to_pem()).public_key == key.public_key


def test_rsa_is_2048_and_pkcs1_round_trips(rsa_key: PrivateKey) -> None:
    assert rsa_key.crypto_key.key_size == 2048  # type: ignore[union-attr]
    pkcs1 = rsa_key.public_key.to_pem("pkcs1")
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert PublicKey.from_pem(pkcs1) == rsa_key.public_key
    assert rsa_key.public_key.to_pem().startswith("-----BEGIN PUBLIC KEY-----")
    priv1 = rsa_key.to_pem("pkcs1")
    assert priv1.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert PrivateKey.from_pem(priv1).public_key == rsa_key.public_key


def test_rsa_pss(rsa_key: PrivateKey) -> None:
    sig = rsa_key.sign(b"x", "rsa-pss-sha512")
    rsa_key.public_key.verify(sig, b"x", "rsa-pss-sha512")
    with pytest.raises(InvalidSignatureError):
        rsa_key.public_key.verify(sig, b"x", "rsa-v1_5-sha256")


def test_ed25519_multikey_known_value() -> None:
    # The key pair of FEP-8b32's example (did:key form of the public key).
    secret = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
    public = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    key = PrivateKey.from_multibase(secret)
    assert key.public_key.to_multibase() == public
    assert key.to_multibase() == secret


def test_mastodon_actor_key_parses() -> None:
    actor = json.loads((FIXTURES / "mastodon" / "person.json").read_text())
    key = PublicKey.from_pem(actor["publicKey"]["publicKeyPem"], id=actor["publicKey"]["id"])
    assert key.type == "rsa"
    assert key.id == actor["publicKey"]["id"]


def test_published_keys_round_trip_through_the_vocabulary() -> None:
    from activitypub.vocab import CryptographicKey, Multikey, Person, parse

    rsa = PrivateKey.generate("rsa")
    ed = PrivateKey.generate("ed25519")
    actor = "https://a.example/users/a"
    person = Person(
        id=actor,
        public_key=CryptographicKey.from_key(rsa.public_key, id=actor + "#main-key", owner=actor),
        assertion_method=[Multikey.from_key(ed.public_key, id=actor + "#ed", controller=actor)],
    )
    back = parse(person.to_json())
    assert isinstance(back, Person)
    assert isinstance(back.public_key, CryptographicKey)
    assert back.public_key.to_key() == rsa.public_key
    assert back.public_key.to_key().id == actor + "#main-key"
    method = back.assertion_method[0]  # type: ignore[index]
    assert isinstance(method, Multikey)
    assert method.to_key() == ed.public_key
    with pytest.raises(KeyFormatError):
        CryptographicKey(id="k").to_key()


def test_algorithm_confusion_refused(rsa_key: PrivateKey) -> None:
    ed = PrivateKey.generate("ed25519")
    with pytest.raises(AlgorithmMismatchError):
        ed.public_key.verify(rsa_key.sign(b"x"), b"x", "rsa-v1_5-sha256")
    with pytest.raises(AlgorithmMismatchError):
        rsa_key.public_key.verify(ed.sign(b"x"), b"x", "ed25519")
    with pytest.raises(AlgorithmMismatchError):
        rsa_key.sign(b"x", "ecdsa-p256-sha256")
    with pytest.raises(UnsupportedAlgorithmError):
        rsa_key.public_key.verify(b"", b"x", "hmac-sha256")


def test_ecdsa_signature_length_checked() -> None:
    key = PrivateKey.generate("ec-p256")
    with pytest.raises(InvalidSignatureError):
        key.public_key.verify(b"\0" * 70, b"x")


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "not a pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\n" + "A" * 20000 + "\n-----END PUBLIC KEY-----\n",
    ],
)
def test_bad_pem_refused(pem: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_pem(pem)


def test_weak_rsa_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.RSAPublicNumbers(65537, (1 << 511) + 1).public_key()
    with pytest.raises(KeyFormatError):
        PublicKey(weak)


@pytest.mark.parametrize(
    "value",
    ["", "6Mk", "z", "z0OIl", "z" + "2" * 5000, "z" + base58btc_encode(b"\xed\x01" + b"\1" * 31)],
)
def test_bad_multibase_refused(value: str) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_multibase(value)


def test_secret_multikey_must_be_ed25519() -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_multibase("z" + base58btc_encode(b"\xed\x01" + b"\1" * 32))
    with pytest.raises(KeyFormatError):
        PrivateKey.generate("rsa").to_multibase()


def test_ed25519_wraps_cryptography_key() -> None:
    raw = ed25519.Ed25519PrivateKey.generate()
    assert PrivateKey(raw).public_key.type == "ed25519"


@given(st.binary(max_size=64))
def test_base58_round_trip(data: bytes) -> None:
    assert base58btc_decode(base58btc_encode(data)) == data


# RFC 8032 section 7.1, TEST 1 and TEST 3: secret key, message, signature.
_RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "message", "signature"), _RFC8032)
def test_ed25519_signs_rfc8032_vectors(secret: str, message: str, signature: str) -> None:
    """Signing goes through libsodium: its bytes must be the RFC's."""
    key = PrivateKey(ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)))
    made = key.sign(bytes.fromhex(message))
    assert made.hex() == signature
    key.public_key.verify(made, bytes.fromhex(message))


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=2048))
def test_ed25519_signature_is_openssls(seed: bytes, message: bytes) -> None:
    """Ed25519 is deterministic: libsodium and OpenSSL sign every message alike."""
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert PrivateKey(raw).sign(message) == raw.sign(message)
