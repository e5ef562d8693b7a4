"""Property tests: the Signature header parser and sign -> verify round trips."""

from __future__ import annotations

import base64
import contextlib
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activitypub.errors import MalformedSignatureError
from activitypub.keys import PrivateKey
from activitypub.signatures.cavage import (
    SignatureParams,
    format_signature_header,
    parse_signature_header,
    sign_request,
    verify_request,
)

TCHARS = string.ascii_lowercase + string.digits + "!#$%&'*+.^_`|~-"
header_names = st.one_of(
    st.sampled_from(["(request-target)", "host", "date", "digest", "content-type"]),
    st.text(alphabet=TCHARS, min_size=1, max_size=20),
)
key_ids = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=200
)


@st.composite
def signature_params(draw: st.DrawFn) -> SignatureParams:
    algorithm = draw(st.sampled_from(["rsa-sha256", "hs2019"]))
    names = draw(st.lists(header_names, min_size=1, max_size=8))
    created = expires = None
    expires_text = None
    if algorithm == "hs2019":
        if draw(st.booleans()):
            created = draw(st.integers(min_value=0, max_value=10**12))
            if draw(st.booleans()):
                names.insert(0, "(created)")
        if draw(st.booleans()):
            expires = draw(st.integers(min_value=0, max_value=10**12))
            expires_text = str(expires)
            if draw(st.booleans()):
                names.append("(expires)")
    else:
        names = [n for n in names if n not in ("(created)", "(expires)")] or ["date"]
    return SignatureParams(
        key_id=draw(key_ids),
        algorithm=algorithm,  # type: ignore[arg-type]
        headers=tuple(names),
        signature=draw(st.binary(min_size=1, max_size=600)),
        created=created,
        expires=expires,
        expires_text=expires_text,
    )


@given(signature_params())
def test_serialise_parse_round_trip(params: SignatureParams) -> None:
    header = format_signature_header(params)
    assert parse_signature_header(header) == params
    # The general parser (taken for any non-canonical layout) agrees with the fast path.
    assert parse_signature_header(f" {header}\t") == params
    assert parse_signature_header("Signature " + header) == params


@given(st.text(max_size=400))
def test_arbitrary_text_raises_only_malformed(value: str) -> None:
    with contextlib.suppress(MalformedSignatureError):
        parse_signature_header(value)


PARAM_NAMES = ["keyId", "algorithm", "headers", "signature", "created", "expires", "x"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["rsa-sha256", "hs2019", "date", "(created)", "(request-target) host", "1"]),
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(PARAM_NAMES),
            st.sampled_from(["=", " = ", "=="]),
            st.sampled_from(['"', "", "'"]),
            VALUES,
        ),
        max_size=7,
    ),
    st.sampled_from([",", ", ", ",,", ";", " "]),
)
def test_structured_noise_raises_only_malformed(
    params: list[tuple[str, str, str, str]], separator: str
) -> None:
    value = separator.join(f"{name}{eq}{q}{v}{q}" for name, eq, q, v in params)
    with contextlib.suppress(MalformedSignatureError):
        parse_signature_header(value)


@given(signature_params(), st.integers(min_value=0, max_value=2000), st.characters())
def test_corrupted_headers_raise_only_malformed(
    params: SignatureParams, position: int, char: str
) -> None:
    header = format_signature_header(params)
    position %= len(header) + 1
    for mutated in (
        header[:position] + char + header[position:],
        header[:position] + header[position + 1 :],
        header[:position],
    ):
        with contextlib.suppress(MalformedSignatureError):
            parse_signature_header(mutated)


ED_KEY = PrivateKey.generate("ed25519")
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
).filter(lambda v: v.strip() == v and v != "")
paths = st.text(alphabet=string.ascii_letters + string.digits + "/-._~%", max_size=40)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    paths,
    st.one_of(st.none(), st.text(alphabet=string.ascii_letters + "=&", max_size=20)),
    st.dictionaries(
        st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=10).map(lambda n: "x-" + n),
        header_values,
        max_size=4,
    ),
    st.binary(max_size=200),
)
def test_sign_verify_round_trip(
    method: str, path: str, query: str | None, extra: dict[str, str], body: bytes
) -> None:
    url = f"https://remote.example/{path}" + (f"?{query}" if query else "")
    target = f"/{path}" + (f"?{query}" if query else "")
    covered = ["(request-target)", "host", "date", "digest", *sorted(extra)]
    has_body = method in ("POST", "PUT")
    if not has_body:
        covered.remove("digest")
    added = sign_request(
        method,
        url,
        extra,
        body if has_body else None,
        ED_KEY,
        "k",
        algorithm="hs2019",
        headers_to_sign=covered,
        created=True,
        now=1_700_000_000,
    )
    received = {**extra, **added}
    verified = verify_request(
        method, target, received, body if has_body else None, ED_KEY.public_key, now=1_700_000_000
    )
    assert list(verified.headers) == covered
