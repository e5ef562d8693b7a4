"""The fast paths of signing and verifying give exactly what the general paths give.

Each fast path applies to plain ``dict`` headers only, so passing the same
headers as a list of pairs forces the general path: results, and errors, must
be the same. Ed25519 and RSASSA-PKCS1-v1_5 signatures are deterministic, so
signatures compare byte for byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from activitypub.errors import DigestMismatchError, SignatureError
from activitypub.keys import PrivateKey
from activitypub.signatures import cavage, digest, rfc9421
from activitypub.signatures.cavage import _verify as cavage_verify

T = 1_800_000_000
KEY_ID = "https://local.example/users/alice#main-key"
BODY = b'{"type":"Create","id":"https://local.example/1"}'
BASE = {"Content-Type": "application/activity+json", "User-Agent": "test/1.0"}


@pytest.fixture(scope="module", params=["rsa", "ed25519"])
def key(request: pytest.FixtureRequest) -> PrivateKey:
    return PrivateKey.generate(request.param, id=KEY_ID)


def _outcome(call: Any) -> Any:
    """A call's result, or its error as (class, message)."""
    try:
        return call()
    except (SignatureError, ValueError) as exc:
        return type(exc), str(exc)


# -- draft-cavage signing ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "https://remote.example/users/bob/inbox", BODY),
        ("POST", "https://remote.example/inbox", None),
        ("PUT", "https://remote.example/inbox", None),
        ("GET", "https://remote.example/users/bob", None),
        ("GET", "https://remote.example/users/bob", b"x"),
        ("DELETE", "https://remote.example/x?a=1&b=2", None),
        ("post", "https://remote.example:8443/inbox", BODY),
        ("GET", "http://[2001:db8::1]:8080/actor", None),
        ("M-SEARCH", "https://remote.example/", None),
        ("GET", "ftp://remote.example/", None),
        ("GET", "not a url", None),
    ],
)
@pytest.mark.parametrize("algorithm", ["rsa-sha256", "hs2019"])
@pytest.mark.parametrize("key_id", [KEY_ID, 'https://x.example/a"b\\c#k', "bad\nkey"])
def test_cavage_sign_fast_path_matches_general(
    key: PrivateKey, method: str, url: str, body: bytes | None, algorithm: str, key_id: str
) -> None:
    headers = dict(BASE)
    # Makes the shape of headers known, which the fast path needs.
    cavage.sign_request(
        "GET", "https://remote.example/", headers, None, key, KEY_ID, algorithm="hs2019"
    )

    def sign(given: Any) -> Any:
        return cavage.sign_request(
            method,
            url,
            given,
            body,
            key,
            key_id,
            algorithm=algorithm,
            now=T,  # type: ignore[arg-type]
        )

    for _ in range(2):  # the second call uses what the first one kept
        assert _outcome(lambda: sign(headers)) == _outcome(lambda: sign(list(headers.items())))


def test_cavage_sign_fast_path_takes_datetime_now(key: PrivateKey) -> None:
    moment = datetime.fromtimestamp(T, UTC)
    url = "https://remote.example/inbox"
    for _ in range(2):
        fast = cavage.sign_request(
            "POST", url, dict(BASE), BODY, key, KEY_ID, algorithm="hs2019", now=moment
        )
        general = cavage.sign_request(
            "POST", url, list(BASE.items()), BODY, key, KEY_ID, algorithm="hs2019", now=T
        )
        assert fast == general


def test_cavage_sign_uses_given_headers_not_the_template(key: PrivateKey) -> None:
    url = "https://remote.example/inbox"
    given = {**BASE, "Date": "Tue, 20 Apr 2021 02:07:55 GMT", "Host": "other.example"}
    for _ in range(2):
        added = cavage.sign_request(
            "POST", url, given, BODY, key, KEY_ID, algorithm="hs2019", now=T
        )
        assert "Date" not in added and "Host" not in added
        assert added == cavage.sign_request(
            "POST", url, list(given.items()), BODY, key, KEY_ID, algorithm="hs2019", now=T
        )


# -- draft-cavage verification -----------------------------------------------------


def test_cavage_verified_signature_is_a_frozen_verified_signature(key: PrivateKey) -> None:
    url = "https://remote.example/inbox"
    added = cavage.sign_request("POST", url, BASE, BODY, key, KEY_ID, algorithm="hs2019", now=T)
    headers = {**BASE, **added}
    verified = cavage.verify_request("POST", "/inbox", headers, BODY, key.public_key, now=T)
    assert type(verified) is cavage.VerifiedSignature
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.key_id = "forged"  # type: ignore[misc]
    rebuilt = cavage.VerifiedSignature(
        verified.key_id,
        verified.algorithm,
        verified.headers,
        verified.created,
        verified.expires,
        verified.key,
    )
    assert verified == rebuilt
    assert repr(verified) == repr(rebuilt)
    assert verified.key_id == KEY_ID


# -- RFC 9421 signing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "https://remote.example/users/bob/inbox", BODY),
        ("POST", "https://remote.example/inbox", None),
        ("PUT", "https://remote.example/inbox", b""),
        ("GET", "https://remote.example/users/bob", None),
        ("GET", "https://remote.example/users/bob", b""),
        ("GET", "https://remote.example/users/bob", b"x"),
        ("DELETE", "https://remote.example:8443/x?a=1&b=2", None),
        ("M-SEARCH", "https://remote.example/", None),
        ("GÉT", "https://remote.example/", None),
        ("GET", "https://remote.example/a b", None),
        ("GET", "relative/url", None),
    ],
)
@pytest.mark.parametrize("label", ["sig1", "sig2", "Bad-Label"])
@pytest.mark.parametrize("key_id", [KEY_ID, 'https://x.example/a"b\\c#k', "bad\u00e9key"])
def test_rfc9421_sign_fast_path_matches_general(
    key: PrivateKey, method: str, url: str, body: bytes | None, label: str, key_id: str
) -> None:
    headers = dict(BASE)

    def sign(given: Any) -> Any:
        return rfc9421.sign_request(method, url, given, body, key, key_id, label=label, created=T)

    for _ in range(2):  # the second call uses what the first one kept
        assert _outcome(lambda: sign(headers)) == _outcome(lambda: sign(list(headers.items())))


def test_rfc9421_sign_fast_path_default_created_is_now(key: PrivateKey) -> None:
    url = "https://remote.example/inbox"
    for _ in range(2):
        fast = rfc9421.sign_request("POST", url, dict(BASE), BODY, key, now=T + 0.7)
        general = rfc9421.sign_request("POST", url, list(BASE.items()), BODY, key, created=T)
        assert fast == general


# -- RFC 9421 parsing and verification ----------------------------------------------


def _signed_9421(key: PrivateKey, **kwargs: Any) -> dict[str, str]:
    url = "https://remote.example/inbox"
    return {**BASE, **rfc9421.sign_request("POST", url, BASE, BODY, key, created=T, **kwargs)}


@pytest.mark.parametrize(
    "signature",
    [
        "sig1=:",
        "sig1=::",
        "sig1=:AA=A:",
        "sig1=:@@@@:",
        "sig1=:abc:;x=1",
        "sig10=:AAAA:",
        "sig2=:AAAA:",
        "sig1=:AAAA:, sig2=:AAAA:",
        "sig1=AAAA",
        " sig1=:AAAA: ",
        "SIG1=:AAAA:",
    ],
)
def test_rfc9421_known_signature_input_parses_like_a_new_one(
    key: PrivateKey, signature: str
) -> None:
    headers = _signed_9421(key)
    rfc9421._INPUTS.clear()
    fresh = _outcome(lambda: rfc9421.parse_signatures({**headers, "Signature": signature}))
    rfc9421.parse_signatures(headers)  # now Signature-Input is known
    known = _outcome(lambda: rfc9421.parse_signatures({**headers, "Signature": signature}))
    assert fresh == known


def test_rfc9421_known_signature_input_with_two_members(key: PrivateKey) -> None:
    first = _signed_9421(key)
    second = rfc9421.sign_request(
        "POST", "https://remote.example/inbox", first, BODY, key, label="sig2", created=T
    )
    headers = {
        **first,
        "Signature-Input": f"{first['Signature-Input']}, {second['Signature-Input']}",
        "Signature": f"{first['Signature']}, {second['Signature']}",
    }
    rfc9421._INPUTS.clear()
    fresh = rfc9421.parse_signatures(headers)
    known = rfc9421.parse_signatures(headers)
    assert [s.label for s in known] == ["sig1", "sig2"]
    assert known == fresh
    missing = {**headers, "Signature": first["Signature"]}
    with pytest.raises(SignatureError, match="no value for label 'sig2'"):
        rfc9421.parse_signatures(missing)


def test_rfc9421_known_signature_inputs_are_bounded(key: PrivateKey) -> None:
    headers = _signed_9421(key)
    text = headers["Signature-Input"]
    for n in range(1, rfc9421._INPUTS_MAX + 10):
        forged = text.replace(f"created={T}", f"created={T + n}")
        with pytest.raises(SignatureError):  # parses, then fails on the signature
            rfc9421.verify_request(
                key.public_key,
                method="POST",
                url="https://remote.example/inbox",
                headers={**headers, "Signature-Input": forged},
                body=BODY,
                now=T,
            )
    assert len(rfc9421._INPUTS) <= rfc9421._INPUTS_MAX


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"Content-Digest": "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"},
        {"Content-Digest": None},
        {"Content-Type": "  application/activity+json\t"},
        {"Content-Type": "text/plain"},
        {"Date": None},
        {"Signature": None},
        {"Signature-Input": None},
    ],
)
def test_rfc9421_verify_reads_only_covered_fields_alike(
    key: PrivateKey, change: dict[str, str | None]
) -> None:
    url = "https://remote.example/inbox"
    given = {**BASE, "Date": "Tue, 20 Apr 2021 02:07:55 GMT"}
    components = ["@method", "@target-uri", "content-digest", "content-type", "date"]
    headers = {
        **given,
        **rfc9421.sign_request("POST", url, given, BODY, key, components=components, created=T),
    }
    for name, value in change.items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    lower = {k.lower(): v for k, v in headers.items()}  # another shape, same fields

    def verify(given: Any) -> Any:
        result = rfc9421.verify_request(
            key.public_key, method="POST", url=url, headers=given, body=BODY, now=T
        )
        return dataclasses.astuple(result)

    expected = _outcome(lambda: verify(list(headers.items())))
    assert _outcome(lambda: verify(headers)) == expected
    assert _outcome(lambda: verify(lower)) == expected
    sigs = _outcome(lambda: rfc9421.parse_signatures(headers))
    if isinstance(sigs, list) and sigs:
        two_step = _outcome(
            lambda: dataclasses.astuple(
                rfc9421.verify(
                    sigs[0],
                    key.public_key,
                    method="POST",
                    url=url,
                    headers=headers,
                    body=BODY,
                    now=T,
                )
            )
        )
        assert two_step == expected


def test_rfc9421_has_signature_alike_for_every_shape(key: PrivateKey) -> None:
    headers = _signed_9421(key)
    assert rfc9421.has_signature(headers)
    assert rfc9421.has_signature(list(headers.items()))
    assert rfc9421.has_signature({k.upper(): v for k, v in headers.items()})
    plain = dict(BASE)
    assert not rfc9421.has_signature(plain)
    assert not rfc9421.has_signature(list(plain.items()))


def test_cavage_verify_does_not_hash_again_a_body_the_inbox_checked(
    key: PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "https://remote.example/inbox"
    body = bytes(bytearray(BODY))  # an object of this test's own
    added = cavage.sign_request("POST", url, BASE, body, key, KEY_ID, algorithm="hs2019", now=T)
    headers = {**BASE, **added}
    hashed: list[bytes] = []

    def counting_sha256(data: bytes) -> Any:
        hashed.append(data)
        return hashlib.sha256(data)

    monkeypatch.setattr(cavage_verify, "_sha256", counting_sha256)

    def verify(received: bytes) -> object:
        return cavage.verify_request("POST", "/inbox", headers, received, key.public_key, now=T)

    verify(body)
    assert hashed == [body]  # nothing checked it before: hashed here, and not remembered
    verify(body)
    assert hashed == [body, body]
    digest.verify_digest(headers["Digest"], body)  # what the inbox does first
    hashed.clear()
    verify(body)
    assert hashed == []  # the same body object and header: not hashed again
    tampered = body.replace(b"Create", b"Delete")
    with pytest.raises(DigestMismatchError):
        verify(tampered)
    copy = bytes(bytearray(body))
    verify(copy)
    assert hashed == [tampered, copy]  # equal bytes in another object: hashed anew
