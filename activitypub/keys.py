"""Keys: RSA, Ed25519 and ECDSA P-256, in the formats the Fediverse uses.

Actors publish RSA keys as PEM (``publicKeyPem``; SPKI, though some servers
emit PKCS#1) and, more and more, Ed25519 keys as Multikey (``z6Mk...``).
One class per side wraps a ``cryptography`` key and knows which signature
algorithms fit it, so that no caller can be talked into verifying an RSA
signature with an Ed25519 key or the reverse (algorithm confusion).

Algorithm names are the RFC 9421 registry names; draft-cavage's names map
onto them in the cavage module.

Ed25519 signatures are made by libsodium (PyNaCl, from the same PyCA team as
``cryptography``): it signs about 1.7 times as fast as OpenSSL here
(``bench/bench_signatures.py``), and Ed25519 signing is deterministic, so the
bytes are the same. Verification stays with OpenSSL, whose acceptance rules
the peers' signatures have been checked against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Literal, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from activitypub.errors import (
    AlgorithmMismatchError,
    InvalidSignatureError,
    KeyFormatError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "ALGORITHMS",
    "Algorithm",
    "KeyType",
    "PrivateKey",
    "PublicKey",
    "base58btc_decode",
    "base58btc_encode",
]

KeyType: TypeAlias = Literal["rsa", "ed25519", "ec-p256"]
Algorithm: TypeAlias = Literal["rsa-v1_5-sha256", "rsa-pss-sha512", "ecdsa-p256-sha256", "ed25519"]

#: Each algorithm and the one key type it may be used with.
ALGORITHMS: Final[dict[str, KeyType]] = {
    "rsa-v1_5-sha256": "rsa",
    "rsa-pss-sha512": "rsa",
    "ecdsa-p256-sha256": "ec-p256",
    "ed25519": "ed25519",
}
_DEFAULT_ALGORITHM: Final[dict[KeyType, Algorithm]] = {
    "rsa": "rsa-v1_5-sha256",
    "ed25519": "ed25519",
    "ec-p256": "ecdsa-p256-sha256",
}

# Built once: constructing padding objects per call shows up in benchmarks.
_PKCS1v15: Final = padding.PKCS1v15()
_PSS_SHA512: Final = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)
_SHA256: Final = hashes.SHA256()
_SHA512: Final = hashes.SHA512()
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())

# Multicodec headers (varint-encoded) used in Multikey values.
_MC_ED25519_PUB: Final = b"\xed\x01"
_MC_ED25519_PRIV: Final = b"\x80\x26"
_MC_RSA_PUB: Final = b"\x85\x24"
_MC_P256_PUB: Final = b"\x80\x24"

_B58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final = {c: i for i, c in enumerate(_B58)}
_MAX_MULTIBASE: Final = 4096  # a 4096-bit RSA Multikey is ~750 chars; refuse absurd input


def base58btc_encode(data: bytes) -> str:
    """Bitcoin-alphabet base58, as multibase ``z`` uses."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def base58btc_decode(text: str) -> bytes:
    if len(text) > _MAX_MULTIBASE:
        raise KeyFormatError("base58 value too long")
    n = 0
    try:
        for ch in text:
            n = n * 58 + _B58_INDEX[ch]
    except KeyError:
        raise KeyFormatError(f"invalid base58 character {ch!r}") from None
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def _multibase_decode(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise KeyFormatError("Multikey values must be multibase base58btc ('z...')")
    return base58btc_decode(value[1:])


def _check_algorithm(key_type: KeyType, algorithm: str) -> None:
    try:
        wanted = ALGORITHMS[algorithm]
    except KeyError:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {algorithm!r}") from None
    if wanted != key_type:
        raise AlgorithmMismatchError(
            f"algorithm {algorithm!r} cannot be used with a {key_type} key"
        )


_PublicCrypto: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
_PrivateCrypto: TypeAlias = (
    rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
)


def _public_type(key: object) -> KeyType:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise KeyFormatError(f"RSA key of {key.key_size} bits is too weak")
        return "rsa"
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ec-p256"
    raise KeyFormatError(f"unsupported key type {type(key).__name__}")


_Verifier: TypeAlias = Callable[[bytes, bytes], None]
_Signer: TypeAlias = Callable[[bytes], bytes]


def _verifiers(key: _PublicCrypto, key_type: KeyType) -> dict[str, _Verifier]:
    """``algorithm -> verify(signature, data)`` for the algorithms that fit ``key``.

    Built once per key, so that verifying dispatches on one dict lookup instead
    of an ``isinstance`` chain; each raises ``InvalidSignature`` on a bad signature.
    """
    if key_type == "rsa":
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyFormatError(f"not a public key: {type(key).__name__}")
        rsa_verify = key.verify

        def pkcs1(signature: bytes, data: bytes) -> None:
            rsa_verify(signature, data, _PKCS1v15, _SHA256)

        def pss(signature: bytes, data: bytes) -> None:
            rsa_verify(signature, data, _PSS_SHA512, _SHA512)

        return {"rsa-v1_5-sha256": pkcs1, "rsa-pss-sha512": pss}
    if key_type == "ed25519":
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise KeyFormatError(f"not a public key: {type(key).__name__}")
        return {"ed25519": key.verify}
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise KeyFormatError(f"not a public key: {type(key).__name__}")
    ec_verify = key.verify

    def ecdsa(signature: bytes, data: bytes) -> None:
        if len(signature) != 64:
            raise InvalidSignatureError("ECDSA P-256 signatures are 64 bytes (r||s)")
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        ec_verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)

    return {"ecdsa-p256-sha256": ecdsa}


def _signers(key: _PrivateCrypto, key_type: KeyType) -> dict[str, _Signer]:
    """``algorithm -> sign(data)`` for the algorithms that fit ``key``; built once per key."""
    if key_type == "rsa":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyFormatError(f"not a private key: {type(key).__name__}")
        rsa_sign = key.sign

        def pkcs1(data: bytes) -> bytes:
            return rsa_sign(data, _PKCS1v15, _SHA256)

        def pss(data: bytes) -> bytes:
            return rsa_sign(data, _PSS_SHA512, _SHA512)

        return {"rsa-v1_5-sha256": pkcs1, "rsa-pss-sha512": pss}
    if key_type == "ed25519":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyFormatError(f"not a private key: {type(key).__name__}")
        return {"ed25519": _ed25519_signer(key)}
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFormatError(f"not a private key: {type(key).__name__}")
    ec_sign = key.sign

    def ecdsa(data: bytes) -> bytes:
        r, s = decode_dss_signature(ec_sign(data, _ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return {"ecdsa-p256-sha256": ecdsa}


def _ed25519_signer(key: ed25519.Ed25519PrivateKey) -> _Signer:
    """libsodium's signer for ``key`` (see the module's docstring)."""
    _, secret = crypto_sign_seed_keypair(key.private_bytes_raw())

    def sign(data: bytes) -> bytes:
        return crypto_sign(data, secret)[:64]  # libsodium appends the message

    return sign


def _algorithm_error(key_type: KeyType, algorithm: str) -> Exception:
    """The error for ``algorithm`` that does not fit a ``key_type`` key (slow path only)."""
    try:
        _check_algorithm(key_type, algorithm)
    except (UnsupportedAlgorithmError, AlgorithmMismatchError) as exc:
        return exc
    raise AssertionError(f"{algorithm!r} fits a {key_type} key")  # pragma: no cover


class PublicKey:
    """A public key that verifies signatures, with an optional ``id`` (the key IRI)."""

    __slots__ = ("_crypto", "_default", "_verifiers", "id", "type")

    def __init__(self, crypto_key: _PublicCrypto, id: str | None = None) -> None:
        self.crypto_key = crypto_key
        self.id = id

    @property
    def crypto_key(self) -> _PublicCrypto:
        """The wrapped ``cryptography`` key."""
        return self._crypto

    @crypto_key.setter
    def crypto_key(self, crypto_key: _PublicCrypto) -> None:
        key_type = _public_type(crypto_key)
        self.type: KeyType = key_type
        self._crypto = crypto_key
        self._default: Algorithm = _DEFAULT_ALGORITHM[key_type]
        self._verifiers = _verifiers(crypto_key, key_type)

    def __repr__(self) -> str:
        return f"<PublicKey {self.type} id={self.id!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self._spki() == other._spki()

    def __hash__(self) -> int:
        return hash(self._spki())

    def _spki(self) -> bytes:
        return self.crypto_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def default_algorithm(self) -> Algorithm:
        return self._default

    # -- formats -------------------------------------------------------------

    @classmethod
    def from_pem(cls, pem: str | bytes, id: str | None = None) -> PublicKey:
        """Read SPKI (``BEGIN PUBLIC KEY``) or PKCS#1 (``BEGIN RSA PUBLIC KEY``) PEM."""
        data = pem.encode() if isinstance(pem, str) else pem
        if len(data) > 16384:
            raise KeyFormatError("PEM too long")
        try:
            key = serialization.load_pem_public_key(data.strip())
        except (ValueError, UnsupportedAlgorithm, TypeError) as exc:
            raise KeyFormatError(f"not a usable public key PEM: {exc}") from None
        if not isinstance(
            key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
        ):
            raise KeyFormatError(f"unsupported key type {type(key).__name__}")
        return cls(key, id)

    def to_pem(self, format: Literal["spki", "pkcs1"] = "spki") -> str:
        """SPKI by default: it is what Lemmy and most servers can parse."""
        if format == "pkcs1":
            if self.type != "rsa":
                raise KeyFormatError("PKCS#1 is an RSA-only format")
            fmt = serialization.PublicFormat.PKCS1
        else:
            fmt = serialization.PublicFormat.SubjectPublicKeyInfo
        return self.crypto_key.public_bytes(serialization.Encoding.PEM, fmt).decode()

    @classmethod
    def from_multibase(cls, value: str, id: str | None = None) -> PublicKey:
        """Read a Multikey ``publicKeyMultibase`` (Ed25519 ``z6Mk...``, RSA, P-256)."""
        raw = _multibase_decode(value)
        head, body = raw[:2], raw[2:]
        try:
            key: _PublicCrypto
            if head == _MC_ED25519_PUB and len(body) == 32:
                key = ed25519.Ed25519PublicKey.from_public_bytes(body)
            elif head == _MC_RSA_PUB:
                loaded = serialization.load_der_public_key(body)
                if not isinstance(loaded, rsa.RSAPublicKey):
                    raise KeyFormatError("Multikey RSA header with a non-RSA body")
                key = loaded
            elif head == _MC_P256_PUB and len(body) == 33:
                key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), body)
            else:
                raise KeyFormatError("unknown or malformed Multikey header")
        except ValueError as exc:
            raise KeyFormatError(f"bad Multikey value: {exc}") from None
        return cls(key, id)

    def to_multibase(self) -> str:
        key = self.crypto_key
        if isinstance(key, ed25519.Ed25519PublicKey):
            raw = _MC_ED25519_PUB + key.public_bytes_raw()
        elif isinstance(key, rsa.RSAPublicKey):
            raw = _MC_RSA_PUB + key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.PKCS1
            )
        else:
            raw = _MC_P256_PUB + key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
        return "z" + base58btc_encode(raw)

    # -- verification --------------------------------------------------------

    def verify(self, signature: bytes, data: bytes, algorithm: str | None = None) -> None:
        """Raise unless ``signature`` is ``algorithm``'s signature of ``data`` by this key."""
        verify = self._verifiers.get(algorithm or self._default)
        if verify is None:
            raise _algorithm_error(self.type, algorithm or self._default)
        try:
            verify(signature, data)
        except InvalidSignature:
            raise InvalidSignatureError("signature does not verify") from None


class PrivateKey:
    """A private key that signs; ``public_key`` gives its verifying half."""

    __slots__ = ("_crypto", "_default", "_public", "_signers", "id", "type")

    def __init__(self, crypto_key: _PrivateCrypto, id: str | None = None) -> None:
        self.crypto_key = crypto_key
        self.id = id

    @property
    def crypto_key(self) -> _PrivateCrypto:
        """The wrapped ``cryptography`` key."""
        return self._crypto

    @crypto_key.setter
    def crypto_key(self, crypto_key: _PrivateCrypto) -> None:
        key_type = _public_type(crypto_key)
        self.type: KeyType = key_type
        self._crypto = crypto_key
        self._default: Algorithm = _DEFAULT_ALGORITHM[key_type]
        self._signers = _signers(crypto_key, key_type)
        self._public: PublicKey | None = None

    def __repr__(self) -> str:
        return f"<PrivateKey {self.type} id={self.id!r}>"

    @classmethod
    def generate(cls, type: KeyType = "rsa", id: str | None = None) -> PrivateKey:
        """RSA keys are 2048 bits: what Mastodon uses and every peer accepts."""
        key: _PrivateCrypto
        if type == "rsa":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif type == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
        elif type == "ec-p256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise KeyFormatError(f"unknown key type {type!r}")
        return cls(key, id)

    @property
    def public_key(self) -> PublicKey:
        if self._public is None:
            self._public = PublicKey(self.crypto_key.public_key(), self.id)
        return self._public

    @property
    def default_algorithm(self) -> Algorithm:
        return self._default

    @classmethod
    def from_pem(
        cls, pem: str | bytes, password: bytes | None = None, id: str | None = None
    ) -> PrivateKey:
        """Read PKCS#8 (``BEGIN PRIVATE KEY``) or PKCS#1 (``BEGIN RSA PRIVATE KEY``) PEM."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data.strip(), password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"not a usable private key PEM: {exc}") from None
        if not isinstance(
            key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
        ):
            raise KeyFormatError(f"unsupported key type {type(key).__name__}")
        return cls(key, id)

    def to_pem(self, format: Literal["pkcs8", "pkcs1"] = "pkcs8") -> str:
        if format == "pkcs1":
            if self.type != "rsa":
                raise KeyFormatError("PKCS#1 is an RSA-only format")
            fmt = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            fmt = serialization.PrivateFormat.PKCS8
        return self.crypto_key.private_bytes(
            serialization.Encoding.PEM, fmt, serialization.NoEncryption()
        ).decode()

    @classmethod
    def from_multibase(cls, value: str, id: str | None = None) -> PrivateKey:
        """Read an Ed25519 Multikey ``secretKeyMultibase``."""
        raw = _multibase_decode(value)
        if raw[:2] != _MC_ED25519_PRIV or len(raw) != 34:
            raise KeyFormatError("only Ed25519 secret Multikeys are supported")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(raw[2:]), id)

    def to_multibase(self) -> str:
        if not isinstance(self.crypto_key, ed25519.Ed25519PrivateKey):
            raise KeyFormatError("only Ed25519 secret keys have a Multikey form")
        return "z" + base58btc_encode(_MC_ED25519_PRIV + self.crypto_key.private_bytes_raw())

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        sign = self._signers.get(algorithm or self._default)
        if sign is None:
            raise _algorithm_error(self.type, algorithm or self._default)
        return sign(data)
