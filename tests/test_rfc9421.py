"""RFC 9421 HTTP Message Signatures: the RFC's own test vectors, the API, hostile input.

Keys and vectors are data from RFC 9421 Appendix B (B.1 keys, B.2 examples)
and §4.3 (a proxy's deterministic rsa-v1_5-sha256 signature beside a client's
ecdsa-p256-sha256 one), reproduced byte for byte.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest

from activitypub.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    DigestMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    MissingDigestError,
    SignatureError,
    SignatureExpiredError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures.digest import content_digest_header
from activitypub.signatures.rfc9421 import (
    SignatureInput,
    VerifyPolicy,
    has_signature,
    parse_signatures,
    select_signature,
    sign_request,
    signature_base,
    verify,
    verify_request,
)
from activitypub.signatures.rfc9421_components import (
    Component,
    component_value,
    normalize_headers,
    parse_component,
    split_url,
)

# -- RFC 9421 Appendix B.1: test keys ------------------------------------------

TEST_KEY_RSA_PRIVATE = """-----BEGIN RSA PRIVATE KEY-----
MIIEqAIBAAKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsP
BRrwWEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsd
JKFqMGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75
jfZgkne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKI
lE0PuKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZ
SFlQPSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQABAoIBAG/JZuSWdoVHbi56
vjgCgkjg3lkO1KrO3nrdm6nrgA9P9qaPjxuKoWaKO1cBQlE1pSWp/cKncYgD5WxE
CpAnRUXG2pG4zdkzCYzAh1i+c34L6oZoHsirK6oNcEnHveydfzJL5934egm6p8DW
+m1RQ70yUt4uRc0YSor+q1LGJvGQHReF0WmJBZHrhz5e63Pq7lE0gIwuBqL8SMaA
yRXtK+JGxZpImTq+NHvEWWCu09SCq0r838ceQI55SvzmTkwqtC+8AT2zFviMZkKR
Qo6SPsrqItxZWRty2izawTF0Bf5S2VAx7O+6t3wBsQ1sLptoSgX3QblELY5asI0J
YFz7LJECgYkAsqeUJmqXE3LP8tYoIjMIAKiTm9o6psPlc8CrLI9CH0UbuaA2JCOM
cCNq8SyYbTqgnWlB9ZfcAm/cFpA8tYci9m5vYK8HNxQr+8FS3Qo8N9RJ8d0U5Csw
DzMYfRghAfUGwmlWj5hp1pQzAuhwbOXFtxKHVsMPhz1IBtF9Y8jvgqgYHLbmyiu1
mwJ5AL0pYF0G7x81prlARURwHo0Yf52kEw1dxpx+JXER7hQRWQki5/NsUEtv+8RT
qn2m6qte5DXLyn83b1qRscSdnCCwKtKWUug5q2ZbwVOCJCtmRwmnP131lWRYfj67
B/xJ1ZA6X3GEf4sNReNAtaucPEelgR2nsN0gKQKBiGoqHWbK1qYvBxX2X3kbPDkv
9C+celgZd2PW7aGYLCHq7nPbmfDV0yHcWjOhXZ8jRMjmANVR/eLQ2EfsRLdW69bn
f3ZD7JS1fwGnO3exGmHO3HZG+6AvberKYVYNHahNFEw5TsAcQWDLRpkGybBcxqZo
81YCqlqidwfeO5YtlO7etx1xLyqa2NsCeG9A86UjG+aeNnXEIDk1PDK+EuiThIUa
/2IxKzJKWl1BKr2d4xAfR0ZnEYuRrbeDQYgTImOlfW6/GuYIxKYgEKCFHFqJATAG
IxHrq1PDOiSwXd2GmVVYyEmhZnbcp8CxaEMQoevxAta0ssMK3w6UsDtvUvYvF22m
qQKBiD5GwESzsFPy3Ga0MvZpn3D6EJQLgsnrtUPZx+z2Ep2x0xc5orneB5fGyF1P
WtP+fG5Q6Dpdz3LRfm+KwBCWFKQjg7uTxcjerhBWEYPmEMKYwTJF5PBG9/ddvHLQ
EQeNC8fHGg4UXU8mhHnSBt3EA10qQJfRDs15M38eG2cYwB1PZpDHScDnDA0=
-----END RSA PRIVATE KEY-----"""
TEST_KEY_RSA_PUBLIC = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrw
WEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsdJKFq
MGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75jfZg
kne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0P
uKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQ
PSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQAB
-----END RSA PUBLIC KEY-----"""
TEST_KEY_RSA_PSS_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----"""
TEST_KEY_RSA_PSS_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIIEvgIBADALBgkqhkiG9w0BAQoEggSqMIIEpgIBAAKCAQEAr4tmm3r20Wd/Pbqv
P1s2+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry5
3mm+oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7Oyr
FAHqgDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUA
AN5WUtzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw
9lq4aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oy
c6XI2wIDAQABAoIBAQCUB8ip+kJiiZVKF8AqfB/aUP0jTAqOQewK1kKJ/iQCXBCq
pbo360gvdt05H5VZ/RDVkEgO2k73VSsbulqezKs8RFs2tEmU+JgTI9MeQJPWcP6X
aKy6LIYs0E2cWgp8GADgoBs8llBq0UhX0KffglIeek3n7Z6Gt4YFge2TAcW2WbN4
XfK7lupFyo6HHyWRiYHMMARQXLJeOSdTn5aMBP0PO4bQyk5ORxTUSeOciPJUFktQ
HkvGbym7KryEfwH8Tks0L7WhzyP60PL3xS9FNOJi9m+zztwYIXGDQuKM2GDsITeD
2mI2oHoPMyAD0wdI7BwSVW18p1h+jgfc4dlexKYRAoGBAOVfuiEiOchGghV5vn5N
RDNscAFnpHj1QgMr6/UG05RTgmcLfVsI1I4bSkbrIuVKviGGf7atlkROALOG/xRx
DLadgBEeNyHL5lz6ihQaFJLVQ0u3U4SB67J0YtVO3R6lXcIjBDHuY8SjYJ7Ci6Z6
vuDcoaEujnlrtUhaMxvSfcUJAoGBAMPsCHXte1uWNAqYad2WdLjPDlKtQJK1diCm
rqmB2g8QE99hDOHItjDBEdpyFBKOIP+NpVtM2KLhRajjcL9Ph8jrID6XUqikQuVi
4J9FV2m42jXMuioTT13idAILanYg8D3idvy/3isDVkON0X3UAVKrgMEne0hJpkPL
FYqgetvDAoGBAKLQ6JZMbSe0pPIJkSamQhsehgL5Rs51iX4m1z7+sYFAJfhvN3Q/
OGIHDRp6HjMUcxHpHw7U+S1TETxePwKLnLKj6hw8jnX2/nZRgWHzgVcY+sPsReRx
NJVf+Cfh6yOtznfX00p+JWOXdSY8glSSHJwRAMog+hFGW1AYdt7w80XBAoGBAImR
NUugqapgaEA8TrFxkJmngXYaAqpA0iYRA7kv3S4QavPBUGtFJHBNULzitydkNtVZ
3w6hgce0h9YThTo/nKc+OZDZbgfN9s7cQ75x0PQCAO4fx2P91Q+mDzDUVTeG30mE
t2m3S0dGe47JiJxifV9P3wNBNrZGSIF3mrORBVNDAoGBAI0QKn2Iv7Sgo4T/XjND
dl2kZTXqGAk8dOhpUiw/HdM3OGWbhHj2NdCzBliOmPyQtAr770GITWvbAI+IRYyF
S7Fnk6ZVVVHsxjtaHy1uJGFlaZzKR4AGNaUTOJMs6NadzCmGPAxNQQOCqoUjn4XR
rOjr9w349JooGXhOxbu8nOxX
-----END PRIVATE KEY-----"""
TEST_KEY_ECC_P256_PRIVATE = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFKbhfNZfpDsW43+0+JjUr9K+bTeuxopu653+hBaXGA7oAoGCCqGSM49
AwEHoUQDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lfw0EkjqF7xB4FivAxzic30tMM
4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END EC PRIVATE KEY-----"""
TEST_KEY_ECC_P256_PUBLIC = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqIVYZVLCrPZHGHjP17CTW0/+D9Lf
w0EkjqF7xB4FivAxzic30tMM4GF+hR6Dxh71Z50VGGdldkkDXZCnTNnoXQ==
-----END PUBLIC KEY-----"""
TEST_KEY_ED25519_PRIVATE = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----"""
TEST_KEY_ED25519_PUBLIC = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----"""

# -- RFC 9421 Appendix B.2: the test request -----------------------------------

REQUEST_DIGEST = (
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+"
    "AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
)
TEST_URL = "https://example.com/foo?param=Value&Pet=dog"
TEST_BODY = b'{"hello": "world"}'
TEST_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": REQUEST_DIGEST,
    "Content-Length": "18",
}
CREATED = 1618884473

B21_INPUT = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"'
B21_SIGNATURE = (
    "sig-b21=:d2pmTvmbncD3xQm8E9ZV2828BjQWGgiwAaw5bAkgibUopemLJcWDy/lkbbHAve4cRAtx31Iq786U7it"
    "++wgGxbtRxf8Udx7zFZsckzXaJMkA7ChG52eSkFxykJeNqsrWH5S+oxNFlD4dzVuwe8DhTSja8xxbR/Z2cOGdCb"
    "zR72rgFWhzx2VjBqJzsPLMIQKhO4DGezXehhWwE56YCE+O6c0mKZsfxVrogUvA4HELjVKWmAvtl6UnCh8jYzuVG"
    "5WSb/QEVPnP5TmcAnLH1g+s++v6d4s8m0gCw1fV5/SITLq9mhho8K3+7EPYTU8IU1bLhdxO5Nyt8C8ssinQ98Xw9Q==:"
)
B21_BASE = (
    '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss"'
    ';nonce="b3k2pp5k7z-50gnwp.yemd"'
)

B22_INPUT = (
    'sig-b22=("@authority" "content-digest" "@query-param";name="Pet")'
    ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"'
)
B22_SIGNATURE = (
    "sig-b22=:LjbtqUbfmvjj5C5kr1Ugj4PmLYvx9wVjZvD9GsTT4F7GrcQEdJzgI9qHxICagShLRiLMlAJjtq6N4CDf"
    "KtjvuJyE5qH7KT8UCMkSowOB4+ECxCmT8rtAmj/0PIXxi0A0nxKyB09RNrCQibbUjsLS/2YyFYXEu4TRJQzRw1r"
    "LEuEfY17SARYhpTlaqwZVtR8NV7+4UKkjqpcAoFqWFQh62s7Cl+H2fjBSpqfZUJcsIk4N6wiKYd4je2U/lankenQ"
    "99PZfB4jY3I5rSV2DSBVkSFsURIjYErOs0tFTQosMTAoxk//0RoKUqiYY8Bh0aaUEb0rQl3/XaVe4bXTugEjHSw==:"
)
B22_BASE = "\n".join(
    [
        '"@authority": example.com',
        f'"content-digest": {REQUEST_DIGEST}',
        '"@query-param";name="Pet": dog',
        '"@signature-params": ("@authority" "content-digest" "@query-param";name="Pet")'
        ';created=1618884473;keyid="test-key-rsa-pss";tag="header-example"',
    ]
)

B23_INPUT = (
    'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest"'
    ' "content-length");created=1618884473;keyid="test-key-rsa-pss"'
)
B23_SIGNATURE = (
    "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt"
    "683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLN"
    "mvKiLJH1pFkh/aYA2HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8E"
    "im5f8ui9eH8LZH896+QIF61ka39VBrohr9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:"
)
B23_BASE = "\n".join(
    [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"@authority": example.com',
        '"content-type": application/json',
        f'"content-digest": {REQUEST_DIGEST}',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type"'
        ' "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    ]
)

B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
    "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
)
B26_BASE = "\n".join(
    [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type"'
        ' "content-length");created=1618884473;keyid="test-key-ed25519"',
    ]
)

# RFC 9421 §4.3: a proxy re-signs the forwarded request with rsa-v1_5-sha256
# (deterministic), next to the client's ecdsa-p256-sha256 signature.
PROXY_URL = "https://origin.host.internal.example/foo?param=Value&Pet=dog"
PROXY_HEADERS = {
    "Host": "origin.host.internal.example",
    "Date": "Tue, 20 Apr 2021 02:07:56 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Forwarded": "for=192.0.2.123;host=example.com;proto=https",
    "Content-Digest": REQUEST_DIGEST,
}
PROXY_INPUT = (
    'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" "content-length"'
    ' "forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";expires=1618884540'
)
PROXY_SIGNATURE = (
    "proxy_sig=:S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxt"
    "RPz+MjniOaYmdkDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEO"
    "btNKKZd8tSFu7LB5YAv0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH"
    "2TwevU+/PBPv0B6NMNk93wUs/vfJvye+YuI87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g==:"
)
CLIENT_INPUT = (
    'sig1=("@method" "@authority" "@path" "content-digest" "content-type" "content-length")'
    ';created=1618884475;keyid="test-key-ecc-p256"'
)
CLIENT_SIGNATURE = (
    "sig1=:X5spyd6CFnAG5QnDyHfqoSNICd+BUP4LYMz2Q0JXlb//4Ijpzp+"
    "kve2w4NIyqeAuM7jTDX+sNalzA8ESSaHD3A==:"
)

#: Verification of the RFC examples: their covered sets are not the ActivityPub
#: defaults and their timestamps are from 2021.
RFC_POLICY = VerifyPolicy(
    required_components=(), require_content_digest=False, require_keyid=True, clock_skew=60
)


def with_signature(headers: dict[str, str], sig_input: str, signature: str) -> dict[str, str]:
    return {**headers, "Signature-Input": sig_input, "Signature": signature}


def pub(pem: str) -> PublicKey:
    return PublicKey.from_pem(pem)


@pytest.mark.parametrize(
    ("sig_input", "signature", "base"),
    [
        (B21_INPUT, B21_SIGNATURE, B21_BASE),
        (B22_INPUT, B22_SIGNATURE, B22_BASE),
        (B23_INPUT, B23_SIGNATURE, B23_BASE),
    ],
    ids=["B.2.1", "B.2.2", "B.2.3"],
)
def test_rfc_rsa_pss_examples(sig_input: str, signature: str, base: str) -> None:
    headers = with_signature(TEST_HEADERS, sig_input, signature)
    [sig] = parse_signatures(headers)
    assert signature_base(sig, method="POST", url=TEST_URL, headers=headers) == base.encode()
    key = pub(TEST_KEY_RSA_PSS_PUBLIC)
    result = verify(
        sig, key, method="POST", url=TEST_URL, headers=headers, body=TEST_BODY,
        policy=RFC_POLICY, algorithm="rsa-pss-sha512", now=CREATED,
    )  # fmt: skip
    assert result.keyid == "test-key-rsa-pss"
    assert result.alg == "rsa-pss-sha512"
    assert result.created == CREATED
    # The key is RSA; without the hint the default (PKCS#1 v1.5) does not verify PSS.
    with pytest.raises(InvalidSignatureError):
        verify(sig, key, method="POST", url=TEST_URL, headers=headers, body=TEST_BODY,
               policy=RFC_POLICY, now=CREATED)  # fmt: skip
    # The RSA-PSS private key of B.1.2 signs what its public half verifies.
    private = PrivateKey.from_pem(TEST_KEY_RSA_PSS_PRIVATE)
    assert private.public_key == key


def test_rfc_b21_b22_fields() -> None:
    [b21] = parse_signatures(with_signature(TEST_HEADERS, B21_INPUT, B21_SIGNATURE))
    assert b21.label == "sig-b21"
    assert b21.components == ()
    assert b21.nonce == "b3k2pp5k7z-50gnwp.yemd"
    [b22] = parse_signatures(with_signature(TEST_HEADERS, B22_INPUT, B22_SIGNATURE))
    assert b22.tag == "header-example"
    assert b22.component_ids == ('"@authority"', '"content-digest"', '"@query-param";name="Pet"')
    assert b22.covers('"@query-param";name="Pet"')
    assert b22.covers("content-digest")
    assert not b22.covers("@method")


def test_rfc_b26_ed25519_is_reproduced_exactly() -> None:
    headers = with_signature(TEST_HEADERS, B26_INPUT, B26_SIGNATURE)
    [sig] = parse_signatures(headers)
    assert signature_base(sig, method="POST", url=TEST_URL, headers=headers) == B26_BASE.encode()
    result = verify(sig, pub(TEST_KEY_ED25519_PUBLIC), method="POST", url=TEST_URL,
                    headers=headers, body=TEST_BODY, policy=RFC_POLICY, now=CREATED)  # fmt: skip
    assert result.alg == "ed25519"
    key = PrivateKey.from_pem(TEST_KEY_ED25519_PRIVATE)
    added = sign_request(
        "POST", TEST_URL, TEST_HEADERS, None, key, "test-key-ed25519",
        components=["date", "@method", "@path", "@authority", "content-type", "content-length"],
        label="sig-b26", created=CREATED,
    )  # fmt: skip
    assert added == {"Signature-Input": B26_INPUT, "Signature": B26_SIGNATURE}


def test_rfc_proxy_rsa_v1_5_is_reproduced_exactly() -> None:
    key = PrivateKey.from_pem(TEST_KEY_RSA_PRIVATE)
    added = sign_request(
        "POST", PROXY_URL, PROXY_HEADERS, TEST_BODY, key, "test-key-rsa",
        components=["@method", "@authority", "@path", "content-digest", "content-type",
                    "content-length", "forwarded"],
        label="proxy_sig", created=1618884480, expires=1618884540, alg="rsa-v1_5-sha256",
    )  # fmt: skip
    assert added == {"Signature-Input": PROXY_INPUT, "Signature": PROXY_SIGNATURE}
    assert PrivateKey.from_pem(TEST_KEY_RSA_PRIVATE).public_key == pub(TEST_KEY_RSA_PUBLIC)


def test_rfc_proxy_and_client_signatures_together() -> None:
    headers = {
        **PROXY_HEADERS,
        "Signature-Input": f"{CLIENT_INPUT}, {PROXY_INPUT}",
        "Signature": f"{CLIENT_SIGNATURE}, {PROXY_SIGNATURE}",
    }
    sigs = parse_signatures(headers)
    assert [s.label for s in sigs] == ["sig1", "proxy_sig"]
    proxy = select_signature(sigs, "proxy_sig")
    assert proxy.expires == 1618884540
    assert proxy.alg == "rsa-v1_5-sha256"
    result = verify(proxy, pub(TEST_KEY_RSA_PUBLIC), method="POST", url=PROXY_URL,
                    headers=headers, body=TEST_BODY, policy=RFC_POLICY, now=1618884500)  # fmt: skip
    assert result.label == "proxy_sig"
    assert result.expires == 1618884540
    # The client signed the request as it addressed it, before the proxy.
    client = select_signature(sigs, "sig1")
    ecc = pub(TEST_KEY_ECC_P256_PUBLIC)
    verify(client, ecc, method="POST", url=TEST_URL, headers=headers, body=TEST_BODY,
           policy=RFC_POLICY, now=1618884500)  # fmt: skip
    with pytest.raises(InvalidSignatureError):  # @authority changed by the proxy
        verify(client, ecc, method="POST", url=PROXY_URL, headers=headers, body=TEST_BODY,
               policy=RFC_POLICY, now=1618884500)  # fmt: skip
    # policy.label selects in verify_request
    lax = VerifyPolicy(required_components=(), require_content_digest=False, label="proxy_sig")
    assert verify_request(pub(TEST_KEY_RSA_PUBLIC), method="POST", url=PROXY_URL,
                          headers=headers, body=TEST_BODY, policy=lax,
                          now=1618884500).label == "proxy_sig"  # fmt: skip


def test_rfc_ecc_private_key_round_trip() -> None:
    key = PrivateKey.from_pem(TEST_KEY_ECC_P256_PRIVATE)
    assert key.public_key == pub(TEST_KEY_ECC_P256_PUBLIC)
    added = sign_request("POST", TEST_URL, TEST_HEADERS, TEST_BODY, key, "test-key-ecc-p256")
    assert "Content-Digest" not in added  # the request has one, and it matches
    verify_request(key.public_key, method="POST", url=TEST_URL,
                   headers={**TEST_HEADERS, **added}, body=TEST_BODY)  # fmt: skip


# -- RFC 9421 §2.1 and §2.2: component values ------------------------------------


def value(spec: str, url: str = "https://www.example.com/path?param=value", method: str = "POST",
          headers: dict[str, str] | list[tuple[str, str]] | None = None) -> str:  # fmt: skip
    raw = headers or {}
    return component_value(parse_component(spec), method, split_url(url),
                           normalize_headers(raw), raw)  # fmt: skip


def test_derived_components() -> None:
    assert value("@method") == "POST"
    assert value("@target-uri") == "https://www.example.com/path?param=value"
    assert value("@authority") == "www.example.com"
    assert value("@scheme") == "https"
    assert value("@request-target") == "/path?param=value"
    assert value("@path") == "/path"
    assert value("@query") == "?param=value"
    assert value("@query", "https://www.example.com/path?queryString") == "?queryString"
    assert value("@query", "https://www.example.com/path") == "?"
    assert value("@query", "https://www.example.com/path?") == "?"
    assert value("@path", "https://www.example.com") == "/"
    assert value("@target-uri", "https://www.example.com") == "https://www.example.com/"
    # host lowercased, default port dropped, other ports kept; fragment and userinfo dropped
    assert value("@authority", "https://WWW.Example.com:443/x") == "www.example.com"
    assert value("@authority", "http://www.example.com:80/x") == "www.example.com"
    assert value("@authority", "https://www.example.com:8443/x") == "www.example.com:8443"
    assert value("@authority", "https://[::1]:8443/x") == "[::1]:8443"
    assert value("@authority", "https://user@example.com/x#frag") == "example.com"
    assert value("@target-uri", "https://example.com/x?y#frag") == "https://example.com/x?y"
    assert value("@scheme", "HTTP://example.com/") == "http"


def test_query_param_examples() -> None:
    url = "https://www.example.com/path?param=value&foo=bar&baz=batman&qux="
    assert value('"@query-param";name="baz"', url) == "batman"
    assert value('"@query-param";name="qux"', url) == ""
    assert value('@query-param;name="param"', url) == "value"
    url = (
        "https://www.example.com/parameters?var=this%20is%20a%20big%0Amultiline%20value"
        "&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something"
    )
    assert value('"@query-param";name="var"', url) == "this%20is%20a%20big%0Amultiline%20value"
    assert value('"@query-param";name="bar"', url) == "with%20plus%20whitespace"
    assert value('"@query-param";name="fa%C3%A7ade%22%3A%20"', url) == "something"
    assert value('"@query-param";name="t"', "https://e.example/?t=a~b") == "a%7Eb"
    with pytest.raises(MissingComponentError):
        value('"@query-param";name="nope"', url)
    with pytest.raises(MalformedSignatureError):  # repeated: ambiguous, refused
        value('"@query-param";name="a"', "https://e.example/?a=1&a=2")


def test_field_values() -> None:
    headers = [
        ("X-OWS-Header", "   Leading and trailing whitespace.   "),
        ("X-Obs-Fold-Header", "Obsolete\r\n    line folding."),
        ("Cache-Control", "max-age=60"),
        ("Cache-Control", "   must-revalidate"),
        ("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)"),
        ("Example-Header", "value, with, lots"),
        ("Example-Header", "of, commas"),
        ("X-Empty-Header", ""),
    ]
    assert value("x-ows-header", headers=headers) == "Leading and trailing whitespace."
    assert value("x-obs-fold-header", headers=headers) == "Obsolete line folding."
    assert value("cache-control", headers=headers) == "max-age=60, must-revalidate"
    assert value("X-Empty-Header", headers=headers) == ""
    assert value("example-dict", headers=headers) == "a=1,    b=2;x=1;y=2,   c=(a   b   c)"
    assert value('"example-dict";sf', headers=headers) == "a=1, b=2;x=1;y=2, c=(a b c)"
    assert value('"example-dict";key="a"', headers=headers) == "1"
    assert value('"example-dict";key="b"', headers=headers) == "2;x=1;y=2"
    assert value('"example-dict";key="c"', headers=headers) == "(a b c)"
    assert value("example-header", headers=headers) == "value, with, lots, of, commas"
    lines = [base64.b64encode(b).decode() for b in (b"value, with, lots", b"of, commas")]
    assert value('"example-header";bs', headers=headers) == f":{lines[0]}:, :{lines[1]}:"
    with pytest.raises(MissingComponentError):
        value('"example-dict";key="z"', headers=headers)
    with pytest.raises(MalformedSignatureError):
        value('"x-ows-header";sf', headers=headers)  # not a dictionary
    with pytest.raises(MissingDigestError):
        value("content-digest", headers=headers)
    with pytest.raises(MissingComponentError):
        value("date", headers=headers)


def test_component_identifiers() -> None:
    assert parse_component("@method") == parse_component('"@method"')
    assert parse_component("Content-Type").text == '"content-type"'
    q1 = parse_component('"@query-param";name="a"')
    assert q1 != parse_component('"@query-param";name="b"')
    assert parse_component('"x";key="a";sf') == parse_component('"x";sf;key="a"')
    bad_ids = ['"@nope"', '"@method";x', '"@query-param"', '"@query-param";name=1', '"Upper"',
               '"x";tr', '"x";key=1', '"x";bs;sf', '"a b"', "@method;", '"x"junk']  # fmt: skip
    for bad in bad_ids:
        with pytest.raises(MalformedSignatureError):
            parse_component(bad)
    assert isinstance(parse_component(Component("date")), Component)


# -- sign / verify round trips ---------------------------------------------------

INBOX = "https://mastodon.example/users/alice/inbox"
ACTIVITY = b'{"type":"Follow","actor":"https://remote.example/users/bob"}'
BASE = {"Host": "mastodon.example", "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
        "Content-Type": "application/activity+json"}  # fmt: skip
KEY_ID = "https://remote.example/users/bob#main-key"


@pytest.fixture(scope="module", params=["rsa", "ed25519", "ec-p256"])
def key(request: pytest.FixtureRequest) -> PrivateKey:
    return PrivateKey.generate(request.param, id=KEY_ID)


@pytest.fixture(scope="module")
def rsa_key() -> PrivateKey:
    return PrivateKey.generate("rsa", id=KEY_ID)


def signed_post(key: PrivateKey, body: bytes = ACTIVITY, **kwargs: Any) -> dict[str, str]:
    kwargs.setdefault("now", time.time())
    added = sign_request("POST", INBOX, BASE, body, key, **kwargs)
    return {**BASE, **added}


def test_post_defaults_round_trip(key: PrivateKey) -> None:
    headers = signed_post(key)
    assert headers["Content-Digest"].startswith("sha-256=:")
    assert has_signature(headers)
    [sig] = parse_signatures(headers)
    assert sig.component_ids == ('"@method"', '"@target-uri"', '"content-digest"')
    assert sig.keyid == KEY_ID
    assert sig.alg is None
    assert sig.created is not None and abs(sig.created - time.time()) < 5
    result = verify(sig, key.public_key, method="POST", url=INBOX, headers=headers, body=ACTIVITY)
    assert result.keyid == KEY_ID
    assert result.alg == key.default_algorithm
    assert result.components == sig.component_ids


def test_get_defaults_and_explicit_alg(key: PrivateKey) -> None:
    alg = {"rsa": "rsa-pss-sha512", "ed25519": "ed25519", "ec-p256": "ecdsa-p256-sha256"}[key.type]
    added = sign_request("GET", INBOX, BASE, None, key, alg=alg, nonce="n-1", tag="ap",
                         expires=int(time.time()) + 60)  # fmt: skip
    assert "Content-Digest" not in added
    headers = {**BASE, **added}
    [sig] = parse_signatures(headers)
    assert sig.component_ids == ('"@method"', '"@target-uri"')
    assert (sig.alg, sig.nonce, sig.tag) == (alg, "n-1", "ap")
    result = verify_request(key.public_key, method="GET", url=INBOX, headers=headers)
    assert (result.alg, result.nonce, result.tag) == (alg, "n-1", "ap")
    assert result.expires == sig.expires


def test_multidict_headers_and_case(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key, components=["@method", "@target-uri", "content-digest", "date"])
    pairs = [(k.upper(), v) for k, v in headers.items()]
    verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=pairs, body=ACTIVITY)


# -- failures: each raises its own class ----------------------------------------


def test_replay_to_another_path_or_method(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key)
    with pytest.raises(InvalidSignatureError):
        verify_request(rsa_key.public_key, method="POST", headers=headers, body=ACTIVITY,
                       url="https://mastodon.example/users/carol/inbox")  # fmt: skip
    with pytest.raises(InvalidSignatureError):
        verify_request(rsa_key.public_key, method="PUT", url=INBOX, headers=headers, body=ACTIVITY)
    with pytest.raises(InvalidSignatureError):  # another host
        verify_request(rsa_key.public_key, method="POST", headers=headers, body=ACTIVITY,
                       url="https://evil.example/users/alice/inbox")  # fmt: skip


def test_bad_signature_and_wrong_key(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key)
    [sig] = parse_signatures(headers)
    raw = bytearray(sig.signature)
    raw[10] ^= 1
    forged = {**headers, "Signature": f"sig1=:{base64.b64encode(bytes(raw)).decode()}:"}
    with pytest.raises(InvalidSignatureError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=forged, body=ACTIVITY)
    other = PrivateKey.generate("rsa").public_key
    with pytest.raises(InvalidSignatureError):
        verify_request(other, method="POST", url=INBOX, headers=headers, body=ACTIVITY)


def test_digest_of_another_body(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key)
    with pytest.raises(DigestMismatchError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY + b" ")  # fmt: skip
    with pytest.raises(DigestMismatchError):  # body forgotten: taken as empty
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers)
    # Other digest shapes (two members, sha-512) go through the digest module.
    both = {**BASE, "Content-Digest": content_digest_header(b"x", ("sha-256", "sha-512"))}
    both.update(sign_request("POST", INBOX, both, b"x", rsa_key))
    assert "sha-512" in both["Content-Digest"]
    verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=both, body=b"x")
    with pytest.raises(DigestMismatchError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=both, body=b"y")
    with pytest.raises(DigestMismatchError):
        sign_request("POST", INBOX, {**BASE, "Content-Digest": headers["Content-Digest"]},
                     b"other body", rsa_key)  # fmt: skip


def test_missing_required_components(rsa_key: PrivateKey) -> None:
    only_method = signed_post(rsa_key, components=["@method", "content-digest"])
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=only_method,
                       body=ACTIVITY)  # fmt: skip
    no_digest = signed_post(rsa_key, components=["@method", "@target-uri"])
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=no_digest,
                       body=ACTIVITY)  # fmt: skip
    relaxed = VerifyPolicy(require_content_digest=False)
    verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=no_digest,
                   body=ACTIVITY, policy=relaxed)  # fmt: skip
    stricter = VerifyPolicy(required_components=("@method", "@target-uri", "date"))
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX,
                       headers=signed_post(rsa_key), body=ACTIVITY, policy=stricter)  # fmt: skip


def test_covered_header_absent(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key, components=["@method", "@target-uri", "content-digest", "date"])
    without_date = {k: v for k, v in headers.items() if k != "Date"}
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=without_date,
                       body=ACTIVITY)  # fmt: skip
    without_digest = {k: v for k, v in headers.items() if k != "Content-Digest"}
    with pytest.raises(MissingDigestError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=without_digest,
                       body=ACTIVITY)  # fmt: skip
    with pytest.raises(MissingComponentError):  # signing a field the request lacks
        sign_request("GET", INBOX, BASE, None, rsa_key, components=["@method", "digest"])


def test_time_window(rsa_key: PrivateKey) -> None:
    now = 1_800_000_000

    def check(**kw: Any) -> None:
        headers = signed_post(rsa_key, **kw)
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY, now=now)  # fmt: skip

    check(created=now - 3000)  # 5 min lifetime + 1 h skew
    check(created=now + 3500)  # a clock up to 1 h fast
    with pytest.raises(ClockSkewError):
        check(created=now + 3700)
    with pytest.raises(SignatureExpiredError):
        check(created=now - 4000)
    check(created=now - 7000, expires=now - 3500)
    with pytest.raises(SignatureExpiredError):
        check(created=now - 7000, expires=now - 3700)
    check(created=now - 12 * 3600, expires=now + 10**6)
    with pytest.raises(SignatureExpiredError):  # expires capped at 12 h after created
        check(created=now - 13 * 3600 - 60, expires=now + 10**6)
    strict = VerifyPolicy(clock_skew=0)
    headers = signed_post(rsa_key, created=now - 301)
    with pytest.raises(SignatureExpiredError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY, policy=strict, now=now)  # fmt: skip


def test_algorithm_checks(rsa_key: PrivateKey) -> None:
    ed = PrivateKey.generate("ed25519", id=KEY_ID)
    headers = signed_post(rsa_key, alg="rsa-v1_5-sha256")
    with pytest.raises(AlgorithmMismatchError):  # an RSA signature offered to an Ed25519 key
        verify_request(ed.public_key, method="POST", url=INBOX, headers=headers, body=ACTIVITY)
    with pytest.raises(AlgorithmMismatchError):  # alg disagrees with what the key is for
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY, algorithm="rsa-pss-sha512")  # fmt: skip
    only_pss = VerifyPolicy(algorithms=frozenset({"rsa-pss-sha512"}))
    with pytest.raises(UnsupportedAlgorithmError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY, policy=only_pss)  # fmt: skip
    hmac_input = headers["Signature-Input"].replace("rsa-v1_5-sha256", "hmac-sha256")
    with pytest.raises(UnsupportedAlgorithmError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, body=ACTIVITY,
                       headers={**headers, "Signature-Input": hmac_input})  # fmt: skip
    undeclared_ed = signed_post(ed)
    with pytest.raises(InvalidSignatureError):  # undeclared: the RSA key's own default is used
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=undeclared_ed,
                       body=ACTIVITY)  # fmt: skip
    with pytest.raises(AlgorithmMismatchError):
        sign_request("GET", INBOX, BASE, None, rsa_key, alg="ed25519")
    with pytest.raises(UnsupportedAlgorithmError):
        sign_request("GET", INBOX, BASE, None, rsa_key, alg="rsa-sha1")


def test_missing_params(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key)
    [sig] = parse_signatures(headers)
    no_keyid = headers["Signature-Input"].replace(f';keyid="{KEY_ID}"', "")
    with pytest.raises(MalformedSignatureError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, body=ACTIVITY,
                       headers={**headers, "Signature-Input": no_keyid})  # fmt: skip
    no_created = headers["Signature-Input"].replace(f";created={sig.created}", "")
    with pytest.raises(MalformedSignatureError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, body=ACTIVITY,
                       headers={**headers, "Signature-Input": no_created})  # fmt: skip


def test_no_signature_and_labels(rsa_key: PrivateKey) -> None:
    assert parse_signatures(BASE) == []
    assert not has_signature(BASE)
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="GET", url=INBOX, headers=BASE)
    headers = signed_post(rsa_key)
    with pytest.raises(MissingComponentError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=headers,
                       body=ACTIVITY, policy=VerifyPolicy(label="other"))  # fmt: skip
    with pytest.raises(MissingComponentError):
        select_signature(parse_signatures(headers), tag="nope")


S = "sig1=:AAAA:"
INP = 'sig1=("@method");created=1;keyid="k"'


@pytest.mark.parametrize(
    ("sig_input", "signature"),
    [
        ("sig1", S),  # not an inner list
        ("sig1=", S),
        ('sig1=("@method"', S),
        ('sig1="@method");created=1', S),
        ('sig1=("@method" @authority");keyid="k"', S),
        ('sig1=("@method" "@authority);keyid="k"', S),
        ('sig1=(@method);keyid="k"', S),  # token component
        ('sig1=(1 2);keyid="k"', S),  # integer components
        ('sig1=("@method" "@method");keyid="k"', S),  # duplicate component
        ('sig1=("@query-param";name="a" "@query-param";name="a")', S),
        ('sig1=("x";key="a";sf "x";sf;key="a")', S),  # duplicate, params reordered
        ('sig1=("Date");keyid="k"', S),  # uppercase field name
        ('sig1=("@status")', S),  # response-only component
        ('sig1=("@signature-params")', S),
        ('sig1=("@method");created=1;created=2', S),
        ('sig1=("@method");keyid="a";keyid="b"', S),
        ('sig1=("@method");created="1"', S),
        ('sig1=("@method");created=-1', S),
        ('sig1=("@method");created=1.5', S),
        ('sig1=("@method");keyid=k', S),  # token keyid
        ('sig1=("@method");keyid=:AAAA:', S),
        ('sig1=("@method");alg=1', S),
        ('sig1=("@method");keyid="caf\u00e9"', S),
        ('sig1=("@method"), sig1=("@method")', "sig1=:AAAA:, sig1=:AAAA:"),
        (INP, "sig2=:AAAA:"),  # no Signature for sig1
        (INP, "sig1=:AAAA:, sig2=:AAAA:"),  # Signature label without input
        (INP, "sig1=AAAA"),
        (INP, "sig1=:AAAA"),
        (INP, "sig1=::AAAA:"),
        (INP, "sig1=:A*AA:"),
        (INP, "sig1=?1"),
        (INP, 'sig1="AAAA"'),
        (INP, "sig1=(:AAAA:)"),
        (INP, "Sig1=:AAAA:"),
        ('Sig1=("@method")', S),
        (INP + ",", S),
        (INP + ", ", S),
        (INP + " ;x", S),
        ('sig1=("@method")x', S),
        ('sig1=("a""b")', S),
        ('sig1=("@method";)', S),
        ('sig1=("@method")\n;keyid="k"', S),
        ("sig1=1234567890123456", S),
        ('sig1=("@method");created=1234567890123456', S),
    ],
)
def test_malformed(sig_input: str, signature: str) -> None:
    headers = {"Signature-Input": sig_input, "Signature": signature}
    with pytest.raises(MalformedSignatureError):
        parse_signatures(headers)


def test_one_header_without_the_other() -> None:
    with pytest.raises(MalformedSignatureError):
        parse_signatures({"Signature-Input": INP})
    with pytest.raises(MalformedSignatureError):
        parse_signatures({"Signature": S})


def test_huge_values_are_refused_quickly() -> None:
    start = time.perf_counter()
    big_component = 'sig1=("' + "a" * 2_000_000 + '");keyid="k"'
    big_keyid = 'sig1=("@method");keyid="' + "k" * 1_000_000 + '"'
    many = "sig1=(" + " ".join(f'"h{i}"' for i in range(100_000)) + ")"
    labels = ", ".join(f"s{i}=()" for i in range(100_000))
    for sig_input, signature in [
        (big_component, S), (big_keyid, S), (many, S), (labels, S),
        (INP, "sig1=:" + "A" * 4_000_000 + ":"),
    ]:  # fmt: skip
        with pytest.raises(MalformedSignatureError):
            parse_signatures({"Signature-Input": sig_input, "Signature": signature})
    many_params = 'sig1=("@method")' + "".join(f";p{i}=1" for i in range(100))
    with pytest.raises(MalformedSignatureError):
        parse_signatures({"Signature-Input": many_params, "Signature": S})
    with pytest.raises(MalformedSignatureError):
        split_url("https://e.example/" + "a" * 1_000_000)
    assert time.perf_counter() - start < 2


def test_injection_into_the_signature_base(rsa_key: PrivateKey) -> None:
    headers = signed_post(rsa_key, components=["@method", "@target-uri", "content-digest", "date"])
    evil = {**headers, "Date": 'x\n"@method": GET'}
    with pytest.raises(MalformedSignatureError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=evil, body=ACTIVITY)
    with pytest.raises(MalformedSignatureError):
        verify_request(rsa_key.public_key, method="POST\n", url=INBOX, headers=headers,
                       body=ACTIVITY)  # fmt: skip
    non_ascii = {**headers, "Date": "Tue, 20 Apr 2021 02:07:55 GMT\u00e9"}
    with pytest.raises(MalformedSignatureError):
        verify_request(rsa_key.public_key, method="POST", url=INBOX, headers=non_ascii,
                       body=ACTIVITY)  # fmt: skip
    for url in ["inbox", "https://e.example/a b", "https://e.example/\u00e9", "https:///x"]:
        with pytest.raises(MalformedSignatureError):
            verify_request(rsa_key.public_key, method="POST", url=url, headers=headers,
                           body=ACTIVITY)  # fmt: skip


def test_every_failure_is_a_signature_error() -> None:
    for cls in (AlgorithmMismatchError, ClockSkewError, DigestMismatchError,
                InvalidSignatureError, MalformedSignatureError, MissingComponentError,
                MissingDigestError, SignatureExpiredError, UnsupportedAlgorithmError):  # fmt: skip
        assert issubclass(cls, SignatureError)


def test_sign_request_arguments(rsa_key: PrivateKey) -> None:
    keyless = PrivateKey.generate("ed25519")
    with pytest.raises(ValueError):
        sign_request("GET", INBOX, BASE, None, keyless)
    with pytest.raises(MalformedSignatureError):
        sign_request("GET", INBOX, BASE, None, rsa_key, label="Bad Label")
    with pytest.raises(MalformedSignatureError):
        sign_request("GET", INBOX, BASE, None, rsa_key, components=["@method", '"@method"'])
    added = sign_request("GET", INBOX, BASE, None, rsa_key, label="ap", nonce='q"uo\\te',
                         components=["@method", "@target-uri", "@authority", "@path",
                                     "@query", "@scheme", "@request-target", "host"])  # fmt: skip
    assert added["Signature-Input"].startswith('ap=("@method" "@target-uri" "@authority"')
    assert 'nonce="q\\"uo\\\\te"' in added["Signature-Input"]
    result = verify_request(rsa_key.public_key, method="GET", url=INBOX,
                            headers={**BASE, **added})  # fmt: skip
    assert result.nonce == 'q"uo\\te'
    assert isinstance(parse_signatures({**BASE, **added})[0], SignatureInput)
