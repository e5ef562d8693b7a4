"""Digest (RFC 3230) and Content-Digest (RFC 9530) over exact body bytes."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activitypub.errors import (
    DigestError,
    DigestMismatchError,
    MalformedDigestError,
    MissingDigestError,
    UnsupportedDigestError,
)
from activitypub.signatures.digest import (
    MAX_DIGEST_HEADER_LENGTH,
    content_digest_header,
    digest_header,
    verify_body_digest,
    verify_content_digest,
    verify_digest,
)

BODY = b'{"hello": "world"}'
# draft-cavage-12 Appendix C and RFC 9530 use this body; the values are the spec's.
BODY_SHA256 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
BODY_SHA512 = (
    "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=="
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- creation -------------------------------------------------------------------


def test_digest_header_matches_spec_value() -> None:
    assert digest_header(BODY) == f"SHA-256={BODY_SHA256}"
    assert digest_header(BODY, "sha-512") == f"SHA-512={BODY_SHA512}"


def test_content_digest_header_matches_rfc9530_example() -> None:
    assert content_digest_header(BODY) == f"sha-256=:{BODY_SHA256}:"
    assert (
        content_digest_header(BODY, ["sha-256", "sha-512"])
        == f"sha-256=:{BODY_SHA256}:, sha-512=:{BODY_SHA512}:"
    )


def test_creation_refuses_unknown_algorithms() -> None:
    with pytest.raises(ValueError):
        digest_header(BODY, "md5")
    with pytest.raises(ValueError):
        content_digest_header(BODY, [])


# -- Digest verification -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"SHA-256={BODY_SHA256}",
        f"sha-256={BODY_SHA256}",  # algorithm names are case-insensitive
        f" SHA-256 = {BODY_SHA256} ",
        f"MD5=whatever, SHA-256={BODY_SHA256}",  # unknown algorithms ignored
        f"SHA-256={BODY_SHA256},SHA-512={BODY_SHA512}",
    ],
)
def test_digest_accepts(value: str) -> None:
    assert verify_digest(value, BODY) in ("sha-256", "sha-512")


def test_digest_reports_strongest_checked() -> None:
    assert verify_digest(f"SHA-256={BODY_SHA256}", BODY) == "sha-256"
    assert verify_digest(f"SHA-512={BODY_SHA512}, SHA-256={BODY_SHA256}", BODY) == "sha-512"


def test_digest_of_another_body_is_a_mismatch() -> None:
    with pytest.raises(DigestMismatchError):
        verify_digest(digest_header(b'{"hello": "world!"}'), BODY)


def test_digest_is_over_exact_bytes() -> None:
    # Same JSON meaning, different bytes: must not match.
    with pytest.raises(DigestMismatchError):
        verify_digest(digest_header(b'{"hello":"world"}'), BODY)


def test_digest_checks_sha512_when_present() -> None:
    wrong512 = b64(hashlib.sha512(b"other").digest())
    with pytest.raises(DigestMismatchError):
        verify_digest(f"SHA-256={BODY_SHA256},SHA-512={wrong512}", BODY)


def test_digest_every_sha256_entry_must_match() -> None:
    other = b64(hashlib.sha256(b"other").digest())
    with pytest.raises(DigestMismatchError):
        verify_digest(f"SHA-256={BODY_SHA256},SHA-256={other}", BODY)


@pytest.mark.parametrize(
    "value",
    [f"SHA-512={BODY_SHA512}", "MD5=XrY7u+Ae7tCTyyK7j1rNww==", "UNIXsum=30637"],
)
def test_digest_without_sha256_is_unsupported(value: str) -> None:
    with pytest.raises(UnsupportedDigestError):
        verify_digest(value, BODY)


def test_missing_digest() -> None:
    with pytest.raises(MissingDigestError):
        verify_digest(None, BODY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SHA-256",
        "SHA-256=",
        "SHA-256=not base64!",
        f"SHA-256={BODY_SHA256[:-4]}",  # 29 bytes
        f"SHA-256={b64(hashlib.sha512(BODY).digest())}",  # 64 bytes under the SHA-256 label
        f"SHA-256={BODY_SHA256},",  # stray comma
        f",SHA-256={BODY_SHA256}",
        f"SHA-256={BODY_SHA256.rstrip('=')}",  # missing padding
        "SHA-256=ÄÖÜ",
        "SHA-256=" + "A" * MAX_DIGEST_HEADER_LENGTH,
    ],
)
def test_malformed_digest(value: str) -> None:
    with pytest.raises(MalformedDigestError):
        verify_digest(value, BODY)


# -- Content-Digest verification ---------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        f"sha-256=:{BODY_SHA256}:",
        f"sha-512=:{BODY_SHA512}:",
        f"sha-256=:{BODY_SHA256}:, sha-512=:{BODY_SHA512}:",
        f"md5=:XrY7u+Ae7tCTyyK7j1rNww==:, sha-256=:{BODY_SHA256}:",
        f"sha-256=:{BODY_SHA256}:;param=1",  # parameters are allowed by RFC 8941
    ],
)
def test_content_digest_accepts(value: str) -> None:
    assert verify_content_digest(value, BODY) in ("sha-256", "sha-512")


def test_content_digest_mismatch_compares_bytes() -> None:
    with pytest.raises(DigestMismatchError):
        verify_content_digest(content_digest_header(b"other"), BODY)
    wrong512 = b64(hashlib.sha512(b"other").digest())
    with pytest.raises(DigestMismatchError):
        verify_content_digest(f"sha-256=:{BODY_SHA256}:, sha-512=:{wrong512}:", BODY)


def test_content_digest_only_unknown_algorithms() -> None:
    with pytest.raises(UnsupportedDigestError):
        verify_content_digest("md5=:XrY7u+Ae7tCTyyK7j1rNww==:, unixsum=:AAAA:", BODY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        f"sha-256={BODY_SHA256}",  # a token, not a byte sequence
        f'sha-256="{BODY_SHA256}"',
        f"sha-256=:{BODY_SHA256}",  # unterminated
        f"SHA-256=:{BODY_SHA256}:",  # keys are lower-case in RFC 8941
        "sha-256=:AAAA:",  # 3 bytes
        f"sha-256=:{BODY_SHA256}:,",
        "sha-256=:é:",
        "sha-256=:" + "A" * MAX_DIGEST_HEADER_LENGTH + ":",
    ],
)
def test_malformed_content_digest(value: str) -> None:
    with pytest.raises(MalformedDigestError):
        verify_content_digest(value, BODY)


def test_missing_content_digest() -> None:
    with pytest.raises(MissingDigestError):
        verify_content_digest(None, BODY)


# -- both -----------------------------------------------------------------------------


def test_verify_body_digest_reads_headers_case_insensitively() -> None:
    assert verify_body_digest({"Digest": digest_header(BODY)}, BODY) == "digest"
    assert verify_body_digest({"content-digest": content_digest_header(BODY)}, BODY) == (
        "content-digest"
    )
    with pytest.raises(MissingDigestError):
        verify_body_digest({"Content-Type": "application/json"}, BODY)
    with pytest.raises(DigestMismatchError):
        verify_body_digest(
            {"Digest": digest_header(BODY), "Content-Digest": content_digest_header(b"x")}, BODY
        )


# -- properties -------------------------------------------------------------------------


@given(st.binary(max_size=2048))
def test_round_trip_any_body(body: bytes) -> None:
    assert verify_digest(digest_header(body), body) == "sha-256"
    assert verify_content_digest(content_digest_header(body, ["sha-256", "sha-512"]), body) == (
        "sha-512"
    )


@given(st.binary(max_size=256), st.binary(max_size=256))
def test_different_bodies_never_match(a: bytes, b: bytes) -> None:
    if a == b:
        return
    with pytest.raises(DigestMismatchError):
        verify_digest(digest_header(a), b)
    with pytest.raises(DigestMismatchError):
        verify_content_digest(content_digest_header(a), b)


@given(st.text(max_size=300))
def test_arbitrary_digest_text_raises_only_digest_errors(value: str) -> None:
    with contextlib.suppress(DigestError):
        verify_digest(value, BODY)


@given(st.text(max_size=300))
def test_arbitrary_content_digest_text_raises_only_digest_errors(value: str) -> None:
    with contextlib.suppress(DigestError):
        verify_content_digest(value, BODY)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["SHA-256", "sha-256", "SHA-512", "MD5", "x"]),
            st.text(alphabet="ABCDEFabcdef0123456789+/=", max_size=90),
        ),
        max_size=4,
    )
)
def test_structured_digest_noise_raises_only_digest_errors(items: list[tuple[str, str]]) -> None:
    with contextlib.suppress(DigestError):
        verify_digest(",".join(f"{k}={v}" for k, v in items), BODY)


def test_remembered_good_digest_is_tied_to_the_exact_body_and_header() -> None:
    body = b'{"id": "https://a.example/1"}'
    good = digest_header(body)
    assert verify_digest(good, body) == "sha-256"
    assert verify_digest(good, body) == "sha-256"  # answered from memory
    with pytest.raises(DigestMismatchError):
        verify_digest(good, body.replace(b"1", b"2"))  # another body, same header
    other = digest_header(b"other")
    with pytest.raises(DigestMismatchError):
        verify_digest(other, body)  # the same body object, another header
    assert verify_digest(good, bytes(bytearray(body))) == "sha-256"  # equal bytes, checked anew
