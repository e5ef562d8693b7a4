"""Cross-check with apsig 0.6.0, an independent draft-cavage implementation.

apsig signs ``(request-target) date host digest`` with ``rsa-sha256`` and
builds ``(request-target)`` from the path only (no query); its verifier checks
Date against the real clock, so these tests sign with the current time.
"""

from __future__ import annotations

import pytest

pytest.importorskip("apsig")

from apsig.draft import Signer, Verifier

from activitypub.errors import DigestMismatchError, InvalidSignatureError
from activitypub.keys import PrivateKey
from activitypub.signatures.cavage import sign_request, verify_request

KEY_ID = "https://local.example/users/alice#main-key"
URL = "https://remote.example/users/bob/inbox"
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow"}'


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return PrivateKey.generate("rsa", id=KEY_ID)


def apsig_verifies(
    key: PrivateKey, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> str | None:
    verifier = Verifier(key.public_key.to_pem(), method, url, headers, body)
    result: str | None = verifier.verify(raise_on_fail=True)
    return result


# -- we sign, apsig verifies ------------------------------------------------------------


@pytest.mark.parametrize(("method", "body"), [("POST", BODY), ("GET", None)])
def test_apsig_verifies_our_signature(key: PrivateKey, method: str, body: bytes | None) -> None:
    given = {"Content-Type": "application/activity+json"} if body else {}
    headers = {**given, **sign_request(method, URL, given, body, key, KEY_ID)}
    assert apsig_verifies(key, method, URL, headers, body) == KEY_ID


def test_apsig_rejects_our_signature_for_another_body(key: PrivateKey) -> None:
    headers = sign_request("POST", URL, {}, BODY, key, KEY_ID)
    with pytest.raises(Exception, match="Digest mismatch"):
        apsig_verifies(key, "POST", URL, headers, BODY + b" ")


def test_apsig_rejects_our_signature_for_another_path(key: PrivateKey) -> None:
    headers = sign_request("POST", URL, {}, BODY, key, KEY_ID)
    with pytest.raises(Exception, match="Invalid signature"):
        apsig_verifies(key, "POST", "https://remote.example/inbox", headers, BODY)


def test_apsig_verifies_our_signature_without_query(key: PrivateKey) -> None:
    # apsig drops the query from (request-target): so must we, to interoperate.
    headers = sign_request("GET", "https://remote.example/users/bob/outbox", {}, None, key, KEY_ID)
    assert (
        apsig_verifies(key, "GET", "https://remote.example/users/bob/outbox?page=1", headers, None)
        == KEY_ID
    )


# -- apsig signs, we verify ---------------------------------------------------------------


def apsig_signs(key: PrivateKey, method: str, url: str, body: bytes) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert isinstance(key.crypto_key, rsa.RSAPrivateKey)
    signer = Signer(
        headers={"Content-Type": "application/activity+json"},
        private_key=key.crypto_key,
        method=method,
        url=url,
        key_id=KEY_ID,
        body=body,
    )
    signed: dict[str, str] = signer.sign()
    return signed


def test_we_verify_apsig_post(key: PrivateKey) -> None:
    headers = apsig_signs(key, "POST", URL, BODY)
    assert "digest" in headers["Signature"]
    verified = verify_request("POST", "/users/bob/inbox", headers, BODY, key.public_key)
    assert verified.key_id == KEY_ID
    assert verified.algorithm == "rsa-sha256"
    assert verified.headers == ("(request-target)", "date", "host", "digest")


def test_we_verify_apsig_get(key: PrivateKey) -> None:
    headers = apsig_signs(key, "GET", URL, b"")
    verified = verify_request("GET", URL, headers, None, key.public_key)
    assert verified.headers == ("(request-target)", "date", "host")


def test_we_verify_apsig_get_with_query_through_the_fallback(key: PrivateKey) -> None:
    headers = apsig_signs(key, "GET", URL + "?page=2", b"")
    verify_request("GET", "/users/bob/inbox?page=2", headers, None, key.public_key)


def test_we_verify_apsig_authorization_header(key: PrivateKey) -> None:
    headers = apsig_signs(key, "POST", URL, BODY)
    del headers["Signature"]
    assert headers["Authorization"].startswith("Signature ")
    verify_request("POST", "/users/bob/inbox", headers, BODY, key.public_key)


def test_we_reject_apsig_post_with_another_body(key: PrivateKey) -> None:
    headers = apsig_signs(key, "POST", URL, BODY)
    with pytest.raises(DigestMismatchError):
        verify_request("POST", "/users/bob/inbox", headers, BODY + b" ", key.public_key)


def test_we_reject_apsig_post_replayed_to_another_path(key: PrivateKey) -> None:
    headers = apsig_signs(key, "POST", URL, BODY)
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", "/inbox", headers, BODY, key.public_key)
