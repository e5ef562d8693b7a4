"""Reading and writing the ``Signature`` header (draft-cavage-12 §2.1).

Parsing must learn ``keyId`` before any key is fetched, so it never does I/O and
turns malformed input of any shape into :class:`MalformedSignatureError`. The
parameter order everybody sends is matched by one regex, and its part before
the signature is remembered, so a repeat sender costs a base64 decode.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from activitypub.errors import UnknownSignatureAlgorithmError
from activitypub.signatures.cavage._common import (
    _CTL,
    _CTL_RE,
    MAX_SIGNATURE_HEADER_LENGTH,
    CavageAlgorithm,
    Headers,
    _a2b_base64,
    _malformed,
)
from activitypub.signatures.cavage._coverage import _DEFAULT_PLANS, _header_list, _Plan
from activitypub.signatures.cavage._fields import _find_header, _header_getter

# One ``name=value`` parameter and the separator after it. Quoted strings use
# the "unrolled loop" form with possessive quantifiers: linear on any input.
_PARAM_RE: Final = re.compile(
    r"[ \t]*([A-Za-z][A-Za-z0-9_.-]*)[ \t]*=[ \t]*"
    rf'(?:"([^"\\{_CTL}]*+(?:\\[^{_CTL}][^"\\{_CTL}]*+)*+)"|([^\s",\\]++))'
    r"[ \t]*(?:(,)|\Z)"
)
_UNESCAPE_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_CREATED_RE: Final = re.compile(r"(?:0|[1-9][0-9]{0,14})")
_EXPIRES_RE: Final = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,9})?")
# The parameter order and quoting everybody uses (Mastodon, Lemmy, Misskey, us),
# up to the opening quote of the signature; the rest must be `<base64>"`, which
# the strict base64 decoder checks. Anything else goes through _PARAM_RE.
_QUOTED = rf'"([^"\\{_CTL}]*+)"'
_CANONICAL_RE: Final = re.compile(
    rf"keyId={_QUOTED},algorithm={_QUOTED},(?:created=([0-9]++),)?(?:expires=([0-9.]++),)?"
    rf'headers={_QUOTED},signature="'
)

_ALGORITHM_NAMES: Final[dict[str, CavageAlgorithm]] = {
    "rsa-sha256": "rsa-sha256",
    "hs2019": "hs2019",
}


@dataclass(frozen=True, slots=True)
class SignatureParams:
    """The parameters of one ``Signature`` header.

    ``algorithm`` is ``"hs2019"`` when the header has none (as Mastodon reads
    it); ``headers`` is the lower-cased list of covered headers, defaulting to
    ``("date",)`` for rsa-sha256 and ``("(created)",)`` for hs2019 (draft §2.1.6).
    ``created``/``expires`` are the parameters as given, covered or not;
    only covered ones count for the time window.
    """

    key_id: str
    algorithm: CavageAlgorithm
    headers: tuple[str, ...]
    signature: bytes
    created: int | None = None
    expires: float | None = None
    #: ``expires`` exactly as written: it is what ``(expires)`` signs.
    expires_text: str | None = field(default=None, repr=False)


def parse_signature_header(value: str) -> SignatureParams:
    """Parse a ``Signature`` header value (an ``Authorization: Signature ...`` works too).

    Raises :class:`MalformedSignatureError` for anything that is not a usable
    draft-cavage signature (its subclass :class:`UnknownSignatureAlgorithmError`
    for an ``algorithm`` other than rsa-sha256/hs2019).
    """
    return _params(_parse(value))


def signature_params(headers: Headers) -> SignatureParams:
    """Find and parse the signature of a request: ``Signature``, else ``Authorization: Signature``.

    Raises :class:`MissingComponentError` when the request carries neither.
    """
    return _params(_parse(_find_header(_header_getter(headers))))


# What _parse returns: the fields of SignatureParams (the covered list as its
# _Plan), without building one on the verification hot path.
_Parsed: TypeAlias = tuple[str, CavageAlgorithm, _Plan, bytes, int | None, float | None, str | None]


def _params(parsed: _Parsed) -> SignatureParams:
    key_id, algorithm, plan, signature, created, expires, expires_text = parsed
    return SignatureParams(key_id, algorithm, plan.names, signature, created, expires, expires_text)


def _general_fields(value: str) -> dict[str, str]:
    """Any well-formed parameter list, unescaped; a syntax error is MalformedSignatureError."""
    if value[:10] in ("Signature ", "signature "):  # Mastodon tolerates the scheme prefix
        value = value[10:]
    fields: dict[str, str] = {}
    match = _PARAM_RE.match
    pos = 0
    while True:
        m = match(value, pos)
        if m is None:
            raise _malformed("not a comma-separated list of name=value parameters")
        name, quoted, token, comma = m.groups()
        if name in fields:
            raise _malformed(f"duplicate parameter {name!r}")
        if quoted is None:
            fields[name] = token
        elif "\\" in quoted:
            fields[name] = _UNESCAPE_RE.sub(r"\1", quoted)
        else:
            fields[name] = quoted
        if comma is None:
            return fields
        pos = m.end()


# Canonical headers without created/expires, up to `signature="`: the parse of
# everything but the signature. Keyed on that text alone (never on the
# signature); a sender repeats one or two of these.
_HEADS: dict[str, tuple[str, CavageAlgorithm, _Plan]] = {}
_SIGNATURE_MARK: Final = ',signature="'


def _known_head(value: str) -> tuple[tuple[str, CavageAlgorithm, _Plan], bytes] | None:
    """The fast case: a head seen before, then ``,signature="<base64>"``; else None."""
    if value[-1:] != '"' or len(value) > MAX_SIGNATURE_HEADER_LENGTH:
        return None
    end = value.rfind(_SIGNATURE_MARK)
    head = _HEADS.get(value[:end]) if end > 0 else None
    if head is None:
        return None
    encoded = value[end + 12 : -1]
    if not encoded or '"' in encoded:
        return None
    try:
        signature = _a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _malformed("signature is not base64") from None
    return (head, signature) if signature else None


def _parse(value: str) -> _Parsed:
    known = _known_head(value) if value.__class__ is str else None
    if known is not None:
        head, signature = known
        return head[0], head[1], head[2], signature, None, None, None
    return _parse_slow(value)


def _parse_slow(value: str) -> _Parsed:
    if not isinstance(value, str):
        raise _malformed("not a string")
    if len(value) > MAX_SIGNATURE_HEADER_LENGTH:
        raise _malformed("too long")
    listed: str | None
    m = _CANONICAL_RE.match(value)
    encoded: str | None = None
    if m is not None and value[-1] == '"':
        encoded = value[m.end() : -1]
        if '"' in encoded:
            encoded = None
    canonical = encoded is not None
    if encoded is not None:  # what Mastodon, Lemmy, Misskey and we send
        assert m is not None
        key_id, declared, created_text, expires_text, listed = m.groups()
    else:
        fields = _general_fields(value)
        key_id = fields.get("keyId")
        declared = fields.get("algorithm", "hs2019")
        created_text = fields.get("created")
        expires_text = fields.get("expires")
        listed = fields.get("headers")
        encoded = fields.get("signature")

    if not key_id:
        raise _malformed("missing keyId")
    if not encoded:
        raise _malformed("missing signature")
    try:
        signature = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        raise _malformed("signature is not base64") from None
    if not signature:
        raise _malformed("empty signature")

    algorithm = _ALGORITHM_NAMES.get(declared)
    if algorithm is None:
        raise UnknownSignatureAlgorithmError(
            f"unsupported signature algorithm {declared[:40]!r} (rsa-sha256 or hs2019 only)"
        )

    plan = _DEFAULT_PLANS[algorithm] if listed is None else _header_list(listed)

    created: int | None = None
    if created_text is not None:
        if _CREATED_RE.fullmatch(created_text) is None:
            raise _malformed("created is not a Unix time")
        created = int(created_text)
    expires: float | None = None
    if expires_text is not None:
        if _EXPIRES_RE.fullmatch(expires_text) is None:
            raise _malformed("expires is not a Unix time")
        expires = float(expires_text) if "." in expires_text else int(expires_text)

    if plan.created or plan.expires:
        if algorithm == "rsa-sha256":
            raise _malformed("(created) and (expires) are not allowed with rsa-sha256")
        if plan.created and created is None:
            raise _malformed("(created) is signed but there is no created parameter")
        if plan.expires and expires is None:
            raise _malformed("(expires) is signed but there is no expires parameter")
    if (
        canonical
        and m is not None
        and created_text is None
        and expires_text is None
        and m.end() < 1024
        and len(_HEADS) < 1024
    ):
        # Canonical: `head` then `,signature="<encoded>"` is all of `value`.
        _HEADS[value[: m.end() - 12]] = (key_id, algorithm, plan)
    return key_id, algorithm, plan, signature, created, expires, expires_text


def _quote(value: str) -> str:
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def format_signature_header(params: SignatureParams) -> str:
    """Serialise ``params`` as a ``Signature`` header value (Mastodon's parameter order).

    Raises ``ValueError`` for a ``key_id`` with control characters (header injection).
    """
    if _CTL_RE.search(params.key_id):
        raise ValueError("keyId contains control characters")
    parts = [f"keyId={_quote(params.key_id)}", f'algorithm="{params.algorithm}"']
    if params.created is not None:
        parts.append(f"created={params.created}")
    if params.expires is not None:
        parts.append(f"expires={params.expires_text or _expires_text(params.expires)}")
    parts.append(f'headers="{" ".join(params.headers)}"')
    parts.append(f'signature="{binascii.b2a_base64(params.signature, newline=False).decode()}"')
    return ",".join(parts)


def _expires_text(expires: float) -> str:
    return str(int(expires)) if expires == int(expires) else repr(expires)
