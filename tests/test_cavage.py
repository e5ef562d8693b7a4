"""draft-cavage HTTP signatures: Mastodon-shaped requests, policy, hostile input."""

from __future__ import annotations

import dataclasses
import email.utils

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from activitypub.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    DigestMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingDigestError,
    SignatureExpiredError,
    UnknownSignatureAlgorithmError,
    UnsupportedAlgorithmError,
    UnsupportedDigestError,
)
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures.cavage import (
    MAX_SIGNATURE_HEADER_LENGTH,
    SignatureParams,
    VerificationPolicy,
    VerifiedSignature,
    format_signature_header,
    parse_signature_header,
    sign_request,
    signature_params,
    verify_request,
)
from activitypub.signatures.digest import digest_header

T = 1_800_000_000.0  # a fixed "now" for signing; verification times are relative to it
INBOX = "https://remote.example/users/bob/inbox"
PATH = "/users/bob/inbox"
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Create","id":"x"}'
KEY_ID = "https://local.example/users/alice#main-key"
BASE = {"Content-Type": "application/activity+json", "User-Agent": "test/1.0"}


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return PrivateKey.generate("rsa", id=KEY_ID)


@pytest.fixture(scope="module")
def ed_key() -> PrivateKey:
    return PrivateKey.generate("ed25519", id=KEY_ID)


def signed(
    key: PrivateKey,
    method: str = "POST",
    url: str = INBOX,
    body: bytes | None = BODY,
    headers: dict[str, str] | None = None,
    **kwargs: object,
) -> dict[str, str]:
    """The full header dict of a request as the receiver sees it."""
    given = dict(BASE if headers is None else headers)
    added = sign_request(method, url, given, body, key, KEY_ID, now=T, **kwargs)  # type: ignore[arg-type]
    return {**given, **added}


def http_date(t: float) -> str:
    return email.utils.formatdate(t, usegmt=True)


def resign_params(header: str, **changes: object) -> str:
    return format_signature_header(dataclasses.replace(parse_signature_header(header), **changes))  # type: ignore[arg-type]


# -- Mastodon-shaped requests ------------------------------------------------------------


def test_post_is_signed_like_mastodon(rsa_key: PrivateKey) -> None:
    added = sign_request("POST", INBOX, BASE, BODY, rsa_key, KEY_ID, now=T)
    assert set(added) == {"Date", "Host", "Digest", "Signature"}
    assert added["Host"] == "remote.example"
    assert added["Date"] == "Fri, 15 Jan 2027 08:00:00 GMT"
    assert added["Digest"] == digest_header(BODY)
    assert added["Signature"].startswith(
        f'keyId="{KEY_ID}",algorithm="rsa-sha256",headers="(request-target) host date digest",'
        'signature="'
    )
    verified = verify_request("POST", PATH, {**BASE, **added}, BODY, rsa_key.public_key, now=T)
    assert verified == VerifiedSignature(
        KEY_ID,
        "rsa-sha256",
        ("(request-target)", "host", "date", "digest"),
        T,
        T + 300,
        rsa_key.public_key,
    )


def test_get_is_signed_like_mastodon(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key, "GET", body=None, headers={"Accept": "application/activity+json"})
    assert "Digest" not in headers
    params = signature_params(headers)
    assert params.headers == ("(request-target)", "host", "date")
    verified = verify_request("GET", PATH, headers, None, rsa_key.public_key, now=T + 10)
    assert verified.headers == ("(request-target)", "host", "date")


def test_post_without_body_still_gets_a_digest(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key, body=None)
    assert headers["Digest"] == digest_header(b"")
    verify_request("POST", PATH, headers, b"", rsa_key.public_key, now=T)


def test_given_headers_are_signed_as_given(rsa_key: PrivateKey) -> None:
    given = {**BASE, "date": http_date(T - 5), "host": "remote.example:8443"}
    added = sign_request("POST", INBOX, given, BODY, rsa_key, KEY_ID, now=T)
    assert set(added) == {"Digest", "Signature"}  # nothing duplicated under another case
    verify_request("POST", PATH, {**given, **added}, BODY, rsa_key.public_key, now=T)


def test_given_digest_must_match_the_body(rsa_key: PrivateKey) -> None:
    with pytest.raises(DigestMismatchError):
        sign_request(
            "POST", INBOX, {"Digest": digest_header(b"other")}, BODY, rsa_key, KEY_ID, now=T
        )


@pytest.mark.parametrize(
    ("url", "host", "target"),
    [
        ("https://h.example:8443/inbox?a=1#frag", "h.example:8443", "/inbox?a=1"),
        ("http://h.example:80", "h.example", "/"),
        ("https://H.Example/x", "h.example", "/x"),
        ("https://[2001:db8::1]:444/x", "[2001:db8::1]:444", "/x"),
    ],
)
def test_host_and_request_target_from_url(
    ed_key: PrivateKey, url: str, host: str, target: str
) -> None:
    headers = signed(ed_key, "GET", url, None, algorithm="hs2019")
    assert headers["Host"] == host
    verify_request("GET", target, headers, None, ed_key.public_key, now=T)


def test_sign_refuses_a_relative_url(ed_key: PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_request("GET", "/inbox", {}, None, ed_key, KEY_ID, algorithm="hs2019")


# -- hs2019 ---------------------------------------------------------------------------


def test_hs2019_with_ed25519(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019")
    assert signature_params(headers).algorithm == "hs2019"
    assert len(signature_params(headers).signature) == 64
    verified = verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
    assert verified.algorithm == "hs2019"


def test_hs2019_with_rsa_is_pkcs1_sha256_as_mastodon_does(rsa_key: PrivateKey) -> None:
    hs = signature_params(signed(rsa_key, algorithm="hs2019"))
    rsa = signature_params(signed(rsa_key, algorithm="rsa-sha256"))
    assert hs.signature == rsa.signature  # same bytes signed, deterministic padding
    verify_request(
        "POST", PATH, signed(rsa_key, algorithm="hs2019"), BODY, rsa_key.public_key, now=T
    )


def test_missing_algorithm_means_hs2019(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    params = parse_signature_header(headers["Signature"])
    headers["Signature"] = (
        f'keyId="{KEY_ID}",headers="{" ".join(params.headers)}",'
        f'signature="{headers["Signature"].split("signature=")[1][1:-1]}"'
    )
    assert signature_params(headers).algorithm == "hs2019"
    assert verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T).algorithm == (
        "hs2019"
    )


def test_hs2019_without_headers_defaults_to_created() -> None:
    params = parse_signature_header('keyId="k",created=5,signature="QUJD"')
    assert params.headers == ("(created)",)
    with pytest.raises(MalformedSignatureError):
        parse_signature_header('keyId="k",signature="QUJD"')  # (created) without created


# -- (created) / (expires) ----------------------------------------------------------------


def test_created_and_expires(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019", created=True, expires_in=600)
    params = signature_params(headers)
    assert params.headers == (
        "(request-target)",
        "(created)",
        "(expires)",
        "host",
        "date",
        "digest",
    )
    assert (params.created, params.expires) == (int(T), int(T) + 600)
    assert f"created={int(T)},expires={int(T) + 600}," in headers["Signature"]
    verified = verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T + 60)
    assert (verified.created, verified.expires) == (T, T + 600)
    verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T + 600 + 3600)
    with pytest.raises(SignatureExpiredError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T + 600 + 3601)


def test_created_replaces_date(ed_key: PrivateKey) -> None:
    headers = signed(
        ed_key, algorithm="hs2019", headers_to_sign=["(request-target)", "(created)", "digest"]
    )
    del headers["Date"]
    verified = verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
    assert verified.created == T


def test_created_is_signed(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019", created=True)
    headers["Signature"] = resign_params(headers["Signature"], created=int(T) + 1)
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


def test_created_in_the_future(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019", created=int(T) + 3601)
    with pytest.raises(ClockSkewError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


def test_expires_in_the_past(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019", created=int(T) - 7300, expires_in=60)
    with pytest.raises(SignatureExpiredError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


def test_expires_three_days_ahead_is_capped_at_12_hours(ed_key: PrivateKey) -> None:
    created = int(T) - 14 * 3600
    headers = signed(ed_key, algorithm="hs2019", created=created, expires_in=3 * 86400)
    relaxed = VerificationPolicy(max_lifetime=4 * 86400)
    verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T, policy=relaxed)
    with pytest.raises(SignatureExpiredError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
    # 12 h + 1 h margin is still inside
    verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=created + 13 * 3600)


def test_uncovered_created_and_expires_do_not_count(ed_key: PrivateKey) -> None:
    # A replayed request cannot refresh its age through parameters it did not sign.
    headers = signed(ed_key, algorithm="hs2019")
    old = dict(headers)
    old["Signature"] = resign_params(old["Signature"], created=int(T) + 7200)
    with pytest.raises(SignatureExpiredError):
        verify_request("POST", PATH, old, BODY, ed_key.public_key, now=T + 7200)


def test_created_with_rsa_sha256_is_refused(rsa_key: PrivateKey) -> None:
    with pytest.raises(ValueError):
        signed(rsa_key, created=True)
    with pytest.raises(ValueError):
        signed(rsa_key, expires_in=60)
    with pytest.raises(MalformedSignatureError):
        parse_signature_header(
            'keyId="k",algorithm="rsa-sha256",created=1,headers="(created) date",signature="QUJD"'
        )
    with pytest.raises(MalformedSignatureError):
        parse_signature_header(
            'keyId="k",algorithm="rsa-sha256",expires=1,headers="(expires) date",signature="QUJD"'
        )


def test_expires_may_have_a_fraction(ed_key: PrivateKey) -> None:
    header = (
        'keyId="k",algorithm="hs2019",created=10,expires=20.25,headers="(expires)",signature="QUJD"'
    )
    params = parse_signature_header(header)
    assert params.expires == 20.25
    assert params.expires_text == "20.25"
    assert format_signature_header(params) == header


# -- time window with Date (S-10) ----------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (-13 * 3600, SignatureExpiredError),
        (+13 * 3600, ClockSkewError),
        (-2 * 3600, SignatureExpiredError),
        (+2 * 3600, ClockSkewError),
        (-30 * 60, None),
        (+59 * 60, None),
        (-(3600 + 300) + 1, None),
        (-(3600 + 300) - 1, SignatureExpiredError),
    ],
)
def test_date_window(rsa_key: PrivateKey, offset: float, error: type[Exception] | None) -> None:
    headers = signed(rsa_key, headers={**BASE, "Date": http_date(T + offset)})
    if error is None:
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)
    else:
        with pytest.raises(error):
            verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_window_is_configurable(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key, headers={**BASE, "Date": http_date(T - 2 * 3600)})
    wide = VerificationPolicy(clock_skew=3 * 3600)
    verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T, policy=wide)
    off = VerificationPolicy(check_time=False)
    verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T + 10**7, policy=off)


@pytest.mark.parametrize(
    "date",
    ["yesterday", "", "Fri, 32 Jan 2027 08:00:00 GMT", "Fri, 15 Jan 2027 08:00:00 GMT" + "x" * 80],
)
def test_unparseable_date(rsa_key: PrivateKey, date: str) -> None:
    headers = signed(rsa_key, headers={**BASE, "Date": date})
    with pytest.raises(MalformedSignatureError):
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_obsolete_date_formats_are_read(ed_key: PrivateKey) -> None:
    for date in ("Friday, 15-Jan-27 08:00:00 GMT", "Fri Jan 15 08:00:00 2027"):
        headers = signed(ed_key, algorithm="hs2019", headers={"Date": date})
        verified = verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
        assert verified.created == T


def test_datetime_now_is_accepted(ed_key: PrivateKey) -> None:
    from datetime import UTC, datetime

    headers = signed(ed_key, algorithm="hs2019")
    verify_request(
        "POST", PATH, headers, BODY, ed_key.public_key, now=datetime.fromtimestamp(T, UTC)
    )


# -- coverage policy (S-05) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "covered"),
    [
        ("POST", ["(request-target)", "host", "date"]),  # leaves out digest
        ("POST", ["date"]),  # S-05: covers only date
        ("POST", ["(request-target)", "host", "digest"]),  # neither date nor (created)
        ("GET", ["(request-target)", "date"]),  # GET without host
        ("GET", ["host", "date"]),  # neither (request-target) nor digest
    ],
)
def test_weak_coverage_is_refused(rsa_key: PrivateKey, method: str, covered: list[str]) -> None:
    body = BODY if method == "POST" else None
    headers = signed(rsa_key, method, body=body, headers_to_sign=covered)
    with pytest.raises(MissingComponentError):
        verify_request(method, PATH, headers, body, rsa_key.public_key, now=T)


def test_digest_may_stand_in_for_request_target_like_mastodon(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key, headers_to_sign=["host", "date", "digest"])
    verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)
    strict = VerificationPolicy(require_request_target=True)
    with pytest.raises(MissingComponentError):
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T, policy=strict)


def test_required_headers_policy(rsa_key: PrivateKey) -> None:
    policy = VerificationPolicy(required_headers=frozenset({"content-type"}))
    with pytest.raises(MissingComponentError):
        verify_request(
            "POST", PATH, signed(rsa_key), BODY, rsa_key.public_key, now=T, policy=policy
        )
    headers = signed(
        rsa_key, headers_to_sign=["(request-target)", "host", "date", "digest", "content-type"]
    )
    verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T, policy=policy)


def test_signed_header_absent_from_request(rsa_key: PrivateKey) -> None:
    headers = signed(
        rsa_key, headers_to_sign=["(request-target)", "host", "date", "digest", "content-type"]
    )
    del headers["Content-Type"]
    with pytest.raises(MissingComponentError):
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_no_signature_at_all(rsa_key: PrivateKey) -> None:
    with pytest.raises(MissingComponentError):
        verify_request("POST", PATH, dict(BASE), BODY, rsa_key.public_key, now=T)
    with pytest.raises(MissingComponentError):
        signature_params({"Authorization": "Bearer abc"})


def test_algorithm_can_be_disabled(rsa_key: PrivateKey) -> None:
    policy = VerificationPolicy(algorithms=frozenset({"hs2019"}))
    with pytest.raises(UnsupportedAlgorithmError):
        verify_request(
            "POST", PATH, signed(rsa_key), BODY, rsa_key.public_key, now=T, policy=policy
        )


# -- body digest (S-12) ---------------------------------------------------------------


def test_digest_of_another_body(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    with pytest.raises(DigestMismatchError):
        verify_request("POST", PATH, headers, BODY + b" ", rsa_key.public_key, now=T)


def test_body_swapped_with_matching_unsigned_digest(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    headers["Digest"] = digest_header(b"evil")
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, headers, b"evil", rsa_key.public_key, now=T)


def test_signed_digest_missing_from_request(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    del headers["Digest"]
    with pytest.raises(MissingDigestError):
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_digest_with_only_an_unsupported_algorithm(rsa_key: PrivateKey) -> None:
    # DELETE has no body by default, so the signer passes the given Digest through.
    headers = signed(
        rsa_key,
        "DELETE",
        body=None,
        headers={**BASE, "Digest": "MD5=XrY7u+Ae7tCTyyK7j1rNww=="},
        headers_to_sign=["(request-target)", "host", "date", "digest"],
    )
    with pytest.raises(UnsupportedDigestError):
        verify_request("DELETE", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_content_digest_when_signed(ed_key: PrivateKey) -> None:
    from activitypub.signatures.digest import content_digest_header

    given = {"Content-Digest": content_digest_header(BODY)}
    covered = ["(request-target)", "host", "date", "content-digest"]
    headers = signed(ed_key, headers=given, algorithm="hs2019", headers_to_sign=covered)
    verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
    with pytest.raises(DigestMismatchError):
        verify_request("POST", PATH, headers, b"other", ed_key.public_key, now=T)


# -- replay (S-06) -------------------------------------------------------------------


def test_replay_to_another_path(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", "/inbox", headers, BODY, rsa_key.public_key, now=T)


def test_replay_with_another_method(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    with pytest.raises(InvalidSignatureError):
        verify_request("PUT", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_replay_to_another_host(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    headers["Host"] = "other.example"
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)


def test_query_is_signed_and_fallback_without_it(ed_key: PrivateKey) -> None:
    with_query = signed(ed_key, "GET", INBOX + "?page=2", None, algorithm="hs2019")
    verify_request("GET", PATH + "?page=2", with_query, None, ed_key.public_key, now=T)
    with pytest.raises(InvalidSignatureError):
        verify_request("GET", PATH + "?page=3", with_query, None, ed_key.public_key, now=T)
    # Signers that drop the query (apsig, older Mastodon) are accepted...
    without_query = signed(ed_key, "GET", INBOX, None, algorithm="hs2019")
    verify_request("GET", PATH + "?page=2", without_query, None, ed_key.public_key, now=T)
    # ...unless the policy says otherwise.
    strict = VerificationPolicy(query_fallback=False)
    with pytest.raises(InvalidSignatureError):
        verify_request(
            "GET", PATH + "?page=2", without_query, None, ed_key.public_key, now=T, policy=strict
        )


def test_full_url_target_and_host_fallback(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, "GET", INBOX, None, algorithm="hs2019")
    verify_request("GET", INBOX, headers, None, ed_key.public_key, now=T)
    del headers["Host"]  # e.g. HTTP/2 without a Host header: the URL's authority is used
    verify_request("GET", INBOX, headers, None, ed_key.public_key, now=T)
    with pytest.raises(MissingComponentError):
        verify_request("GET", PATH, headers, None, ed_key.public_key, now=T)


# -- algorithm confusion --------------------------------------------------------------


def test_rsa_signature_labelled_hs2019_against_an_ed25519_key(
    rsa_key: PrivateKey, ed_key: PrivateKey
) -> None:
    headers = signed(rsa_key, algorithm="hs2019")
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


def test_rsa_sha256_label_with_an_ed25519_key(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019")
    headers["Signature"] = resign_params(headers["Signature"], algorithm="rsa-sha256")
    with pytest.raises(AlgorithmMismatchError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)
    with pytest.raises(AlgorithmMismatchError):
        sign_request("POST", INBOX, {}, BODY, ed_key, KEY_ID, algorithm="rsa-sha256")


def test_ecdsa_keys_have_no_cavage_algorithm() -> None:
    key = PrivateKey.generate("ec-p256")
    with pytest.raises(UnsupportedAlgorithmError):
        sign_request("GET", INBOX, {}, None, key, KEY_ID, algorithm="hs2019")
    header = (
        f'keyId="k",algorithm="hs2019",headers="(request-target) host date",signature="{"A" * 88}"'
    )
    headers = {"Host": "remote.example", "Date": http_date(T), "Signature": header}
    with pytest.raises(UnsupportedAlgorithmError):
        verify_request("GET", PATH, headers, None, key.public_key, now=T)


def test_unknown_algorithm_is_both_malformed_and_unsupported(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "rsa-sha512")
    with pytest.raises(UnknownSignatureAlgorithmError) as info:
        verify_request("POST", PATH, headers, BODY, rsa_key.public_key, now=T)
    assert isinstance(info.value, MalformedSignatureError)
    assert isinstance(info.value, UnsupportedAlgorithmError)


def test_signature_by_another_key(rsa_key: PrivateKey) -> None:
    other = PrivateKey.generate("rsa")
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, signed(rsa_key), BODY, other.public_key, now=T)


# -- two-step verification and key lookup ----------------------------------------------


def test_parse_then_fetch_then_verify(rsa_key: PrivateKey) -> None:
    headers = signed(rsa_key)
    params = signature_params(headers)  # the inbox reads keyId before fetching the key
    assert params.key_id == KEY_ID
    fetched = PublicKey.from_pem(rsa_key.public_key.to_pem(), id=params.key_id)
    verified = verify_request("POST", PATH, headers, BODY, fetched, params=params, now=T)
    assert verified.key is fetched


def test_key_lookup_callable(rsa_key: PrivateKey) -> None:
    asked: list[str] = []

    def lookup(key_id: str) -> PublicKey:
        asked.append(key_id)
        return rsa_key.public_key

    verify_request("POST", PATH, signed(rsa_key), BODY, lookup, now=T)
    assert asked == [KEY_ID]


def test_results_are_frozen(rsa_key: PrivateKey) -> None:
    verified = verify_request("POST", PATH, signed(rsa_key), BODY, rsa_key.public_key, now=T)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verified.key_id = "x"  # type: ignore[misc]
    params = signature_params(signed(rsa_key))
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.key_id = "x"  # type: ignore[misc]
    assert hash(params) == hash(signature_params(signed(rsa_key)))


# -- header shapes ----------------------------------------------------------------------


def test_headers_are_case_insensitive(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019")
    shouted = {k.upper(): v for k, v in headers.items()}
    verify_request("POST", PATH, shouted, BODY, ed_key.public_key, now=T)
    lower = {k.lower(): v for k, v in headers.items()}
    verify_request("POST", PATH, lower, BODY, ed_key.public_key, now=T)


def multi_signed(key: PrivateKey) -> dict[str, str]:
    covered = ["(request-target)", "host", "date", "digest", "x-multi"]
    return signed(key, algorithm="hs2019", headers={"X-Multi": "a, b"}, headers_to_sign=covered)


def test_repeated_header_fields_are_joined(ed_key: PrivateKey) -> None:
    headers = multi_signed(ed_key)
    public = ed_key.public_key
    pairs = [(k, v) for k, v in headers.items() if k != "X-Multi"] + [
        ("x-multi", "a"),
        ("X-Multi", " b "),
    ]
    verify_request("POST", PATH, pairs, BODY, public, now=T)
    raw = [(k.lower().encode(), v.encode()) for k, v in pairs]  # ASGI shape
    verify_request("POST", PATH, raw, BODY, public, now=T)
    multi = CIMultiDict(pairs)
    verify_request("POST", PATH, multi, BODY, public, now=T)
    verify_request("POST", PATH, CIMultiDictProxy(multi), BODY, public, now=T)
    verify_request("POST", PATH, httpx.Headers(pairs), BODY, public, now=T)
    listed = {**{k: v for k, v in headers.items() if k != "X-Multi"}, "X-Multi": ["a", "b"]}
    verify_request("POST", PATH, listed, BODY, public, now=T)
    # and a dict holding the same field under two spellings
    spelled = {
        **{k: v for k, v in headers.items() if k != "X-Multi"},
        "x-multi": "a",
        "X-MULTI": "b",
    }
    verify_request("POST", PATH, spelled, BODY, public, now=T)
    # order matters
    swapped = [(k, v) for k, v in pairs if k.lower() != "x-multi"] + [
        ("x-multi", "b"),
        ("x-multi", "a"),
    ]
    with pytest.raises(InvalidSignatureError):
        verify_request("POST", PATH, swapped, BODY, public, now=T)


def test_authorization_signature_scheme(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019")
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


@pytest.mark.parametrize("value", ["a\nb", "a\r\nx-evil: 1", "ok\n\nx: y", "a\rb"])
def test_line_breaks_in_signed_values_are_refused(ed_key: PrivateKey, value: str) -> None:
    covered = ["(request-target)", "host", "date", "digest", "x-custom"]
    headers = signed(
        ed_key, algorithm="hs2019", headers={"X-Custom": "ok"}, headers_to_sign=covered
    )
    headers["X-Custom"] = value
    with pytest.raises(MalformedSignatureError):
        verify_request("POST", PATH, headers, BODY, ed_key.public_key, now=T)


def test_header_values_are_trimmed(ed_key: PrivateKey) -> None:
    headers = signed(ed_key, algorithm="hs2019")
    padded = {k: f"  {v}\t" if k != "Signature" else v for k, v in headers.items()}
    verify_request("POST", PATH, padded, BODY, ed_key.public_key, now=T)


# -- hostile Signature headers (S-07) ------------------------------------------------------

SIG = "QUJDREVGR0g="  # base64 of ABCDEFGH
GOOD = f'keyId="https://a.example/k",algorithm="rsa-sha256",headers="date",signature="{SIG}"'


@pytest.mark.parametrize(
    "header",
    [
        "",
        " ",
        "Signature",
        "garbage",
        'keyId="a",algorithm="rsa-sha256',  # unbalanced quote
        f'keyId="a,algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="rsa-sha256",headers="date",signature="{SIG}',
        f'keyId=a",headers="date",signature="{SIG}"',
        f',keyId="a",headers="date",signature="{SIG}"',  # stray commas
        f'keyId="a",,headers="date",signature="{SIG}"',
        f'keyId="a",headers="date",signature="{SIG}",',
        f'keyId="a" headers="date",signature="{SIG}"',  # missing comma
        f'keyId="a";headers="date";signature="{SIG}"',
        f'algorithm="rsa-sha256",headers="date",signature="{SIG}"',  # missing keyId
        f'keyId="",algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        'keyId="a",algorithm="rsa-sha256",headers="date"',  # missing signature
        'keyId="a",algorithm="rsa-sha256",headers="date",signature=""',  # empty signature
        f'keyId="a",keyId="b",algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="rsa-sha256",headers="date",signature="{SIG}",signature="{SIG}"',
        f'keyId="a",headers="date",headers="host",signature="{SIG}"',
        'keyId="a",algorithm="rsa-sha256",headers="date",signature="!!!!"',  # not base64
        'keyId="a",algorithm="rsa-sha256",headers="date",signature="QUJD RA=="',
        'keyId="a",algorithm="rsa-sha256",headers="date",signature="QUJDRA"',  # no padding
        'keyId="a",algorithm="rsa-sha256",headers="date",signature="QUJDRA==="',
        'keyId="a",algorithm="rsa-sha256",headers="date",signature="=="',
        f'keyId="a",algorithm="rsa-sha512",headers="date",signature="{SIG}"',  # unknown algorithm
        f'keyId="a",algorithm="ed25519",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="hmac-sha256",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="RSA-SHA256",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="",headers="date",signature="{SIG}"',
        f'keyId="a",algorithm="rsa-sha256",headers="",signature="{SIG}"',  # empty header list
        f'keyId="a",algorithm="rsa-sha256",headers="date (foo)",signature="{SIG}"',
        f'keyId="a",algorithm="rsa-sha256",headers="da:te",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",created=-1,headers="(created)",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",created=01,headers="(created)",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",created=1e9,headers="(created)",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",created=99999999999999999999,headers="(created)",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",expires=1.,headers="(expires)",signature="{SIG}"',
        f'keyId="a",algorithm="hs2019",headers="(created)",signature="{SIG}"',  # no created
        f'keyId="a",algorithm="hs2019",headers="(expires) date",signature="{SIG}"',  # no expires
        f'keyId="a",algorithm="rsa-sha256",created=1,headers="(created)",signature="{SIG}"',
        f'keyId="a\x00",algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        f'keyId="a\nb",algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        f'keyId="{"a" * 1_000_000}",algorithm="rsa-sha256",headers="date",signature="{SIG}"',
        GOOD[:-1] + "A" * MAX_SIGNATURE_HEADER_LENGTH + '"',
        f'keyId="a",algorithm="rsa-sha256",headers="{"date " * 300}",signature="{SIG}"',
    ],
)
def test_malformed_signature_headers(header: str, rsa_key: PrivateKey) -> None:
    with pytest.raises(MalformedSignatureError):
        parse_signature_header(header)
    request = {"Host": "remote.example", "Date": http_date(T), "Signature": header}
    with pytest.raises(MalformedSignatureError):
        verify_request("GET", PATH, request, None, rsa_key.public_key, now=T)


@pytest.mark.parametrize("value", [None, b"keyId", 42])
def test_non_string_header_is_malformed(value: object) -> None:
    with pytest.raises(MalformedSignatureError):
        parse_signature_header(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "header",
    [
        GOOD,
        "Signature " + GOOD,  # Mastodon tolerates the scheme inside the value
        GOOD.replace(",", ", "),
        GOOD.replace(",", " ,\t"),
        f'signature="{SIG}",headers="date",algorithm="rsa-sha256",keyId="https://a.example/k"',
        f'keyId = "https://a.example/k" , algorithm = "rsa-sha256", headers="DATE",'
        f'signature="{SIG}"',
        GOOD + ',unknown="ignored",other=token',
        f'keyId="https://a.example/k",algorithm=rsa-sha256,headers="date",signature={SIG}',
    ],
)
def test_tolerated_signature_header_shapes(header: str) -> None:
    params = parse_signature_header(header)
    assert params == SignatureParams("https://a.example/k", "rsa-sha256", ("date",), b"ABCDEFGH")


def test_escaped_key_id_round_trips() -> None:
    params = SignatureParams('https://a.example/"odd"\\key', "hs2019", ("date",), b"\x01\x02")
    header = format_signature_header(params)
    assert 'keyId="https://a.example/\\"odd\\"\\\\key"' in header
    assert parse_signature_header(header) == params


def test_signing_refuses_empty_coverage_and_missing_expires(ed_key: PrivateKey) -> None:
    with pytest.raises(ValueError):
        signed(ed_key, algorithm="hs2019", headers_to_sign=[])
    with pytest.raises(ValueError):
        signed(ed_key, algorithm="hs2019", headers_to_sign=["(expires)", "date"])
    with pytest.raises(MissingComponentError):
        signed(ed_key, algorithm="hs2019", headers_to_sign=["date", "x-absent"])


@pytest.mark.parametrize("key_id", ["https://a.example/k\r\nX-Evil: 1", "k\x00", "k\tk"])
def test_control_characters_in_key_id_are_refused_when_signing(
    ed_key: PrivateKey, key_id: str
) -> None:
    with pytest.raises(ValueError):
        sign_request("GET", INBOX, {}, None, ed_key, key_id, algorithm="hs2019")
