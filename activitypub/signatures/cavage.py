"""HTTP Signatures as the Fediverse uses them: draft-cavage-http-signatures-12.

Signing (:func:`sign_request`) produces what Mastodon sends: ``algorithm``
``rsa-sha256`` (or ``hs2019``), ``(request-target) host date digest`` on POST
and ``(request-target) host date`` on GET.

Verification is two steps so that no I/O happens here:

1. :func:`parse_signature_header` (or :func:`signature_params`, which finds the
   header) reads the ``Signature`` header into :class:`SignatureParams`, so the
   inbox can learn ``keyId`` and fetch the key (asynchronously, elsewhere);
2. :func:`verify_request` checks coverage, time window, body digest and the
   signature against a :class:`~activitypub.keys.PublicKey`.

The default :class:`VerificationPolicy` is Mastodon's (``signature_verification.rb``):
``date`` or ``(created)`` signed; ``(request-target)`` or ``digest`` signed; GET
signs ``host``; POST signs ``digest`` and the ``Digest`` header matches the
body; creation (``created`` else ``Date``) at most 1 h in the future; expiry
(``expires`` else creation + 5 min, never beyond creation + 12 h) passed by at
most 1 h.

``(request-target)`` is rebuilt from the raw path and query as sent on the
request line; a signature over the path without the query is also accepted
(Mastodon does the same: several signers drop the query).

Errors are the classes of :mod:`activitypub.errors`; malformed input of any
shape raises :class:`MalformedSignatureError` and nothing else.
"""

from __future__ import annotations

import binascii
import calendar
import email.utils
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature

from activitypub.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    SignatureExpiredError,
    UnknownSignatureAlgorithmError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import Algorithm, KeyType, PrivateKey, PublicKey
from activitypub.signatures.digest import verify_content_digest, verify_digest

__all__ = [
    "CAVAGE_ALGORITHMS",
    "DEFAULT_POLICY",
    "MAX_SIGNATURE_HEADER_LENGTH",
    "CavageAlgorithm",
    "Headers",
    "SignatureParams",
    "VerificationPolicy",
    "VerifiedSignature",
    "format_signature_header",
    "parse_signature_header",
    "sign_request",
    "signature_params",
    "signing_string",
    "verify_request",
]

CavageAlgorithm: TypeAlias = Literal["rsa-sha256", "hs2019"]

#: The ``algorithm`` values accepted (Mastodon accepts exactly these two).
CAVAGE_ALGORITHMS: Final = frozenset({"rsa-sha256", "hs2019"})

#: Longest ``Signature`` header we parse: an RSA-4096 signature with a long
#: keyId and a dozen headers is under 1.5 KiB.
MAX_SIGNATURE_HEADER_LENGTH: Final = 8192

#: Request headers in any usual shape: a ``dict`` (any case), a multidict
#: (aiohttp, case-insensitive, repeated fields), ``httpx.Headers``, or a
#: sequence of ``(name, value)`` pairs (str or bytes, as in ASGI). A value may
#: be a list of values; repeated fields are joined with ``", "`` (draft §2.3).
Headers: TypeAlias = Mapping[str, Any] | Iterable[tuple[str | bytes, str | bytes]]

_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})

# -- the Signature header --------------------------------------------------------

# One ``name=value`` parameter and the separator after it. Quoted strings use
# the "unrolled loop" form with possessive quantifiers: linear on any input.
_CTL = r"\x00-\x08\x0a-\x1f\x7f"
_PARAM_RE: Final = re.compile(
    r"[ \t]*([A-Za-z][A-Za-z0-9_.-]*)[ \t]*=[ \t]*"
    rf'(?:"([^"\\{_CTL}]*+(?:\\[^{_CTL}][^"\\{_CTL}]*+)*+)"|([^\s",\\]++))'
    r"[ \t]*(?:(,)|\Z)"
)
_UNESCAPE_RE: Final = re.compile(r"\\(.)", re.DOTALL)
_CTL_RE: Final = re.compile(f"[{_CTL}\t]")
_HEADER_LIST_RE: Final = re.compile(
    r"[ ]*(?:(?:\((?:request-target|created|expires)\)|[!#$%&'*+.^_`|~0-9a-z-]+)(?:[ ]+|\Z))+"
)
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
_DEFAULT_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "rsa-sha256": ("date",),
    "hs2019": ("(created)",),
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


def _malformed(reason: str) -> MalformedSignatureError:
    return MalformedSignatureError(f"malformed Signature header: {reason}")


def parse_signature_header(value: str) -> SignatureParams:
    """Parse a ``Signature`` header value (an ``Authorization: Signature ...`` works too).

    Raises :class:`MalformedSignatureError` for anything that is not a usable
    draft-cavage signature (its subclass :class:`UnknownSignatureAlgorithmError`
    for an ``algorithm`` other than rsa-sha256/hs2019).
    """
    return _params(_parse(value))


# What _parse returns: the fields of SignatureParams (the covered list as its
# _Plan), without building one on the verification hot path.
_Parsed: TypeAlias = tuple[
    str, CavageAlgorithm, "_Plan", bytes, int | None, float | None, str | None
]


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


def _parse(value: str) -> _Parsed:
    if (
        value.__class__ is str
        and value[-1:] == '"'
        and len(value) <= MAX_SIGNATURE_HEADER_LENGTH
    ):
        end = value.rfind(_SIGNATURE_MARK)
        head = _HEADS.get(value[:end]) if end > 0 else None
        if head is not None:
            encoded = value[end + 12 : -1]
            if encoded and '"' not in encoded:
                try:
                    signature = _a2b_base64(encoded, strict_mode=True)
                except (binascii.Error, ValueError):
                    raise _malformed("signature is not base64") from None
                if signature:
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


@lru_cache(maxsize=256)
def _header_list(listed: str) -> _Plan:
    """The ``headers`` parameter as a plan; cached, since senders repeat a few lists."""
    if len(listed) > 1024:
        raise _malformed("headers list too long")
    listed = listed.lower()
    if _HEADER_LIST_RE.fullmatch(listed) is None:
        raise _malformed("headers is not a space-separated list of header names")
    return _plan(tuple(listed.split()))


class _Plan:
    """A covered-header list and what it implies, worked out once per distinct list.

    ``template`` is the signing string as a ``str.format`` template: ``{0}``
    the method, ``{1}`` the target, ``{2}`` created, ``{3}`` expires, then the
    values of ``fields`` (the covered real headers, in order). It is ``None``
    when the list has an unknown pseudo-header, or none at all; :func:`_build`
    then takes the general way, which raises the right error.
    """

    __slots__ = (
        "checked",
        "content_digest",
        "created",
        "digest",
        "expires",
        "fields",
        "names",
        "newlines",
        "template",
        "text",
    )

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.text = " ".join(names)
        self.created = "(created)" in names
        self.expires = "(expires)" in names
        self.digest = "digest" in names
        self.content_digest = "content-digest" in names
        #: (method, id(policy)) -> policy, for each policy whose coverage rules
        #: this list meets for that method (the value keeps the id from reuse).
        self.checked: dict[tuple[str, int], VerificationPolicy] = {}
        self.newlines = len(names) - 1
        fields: list[str] = []
        parts: list[str] = []
        template: str | None = None
        for name in names:
            if not name.startswith("("):
                escaped = name.replace("{", "{{").replace("}", "}}")
                parts.append(f"{escaped}: {{{4 + len(fields)}}}")
                fields.append(name)
            elif name == "(request-target)":
                parts.append("(request-target): {0} {1}")
            elif name == "(created)":
                parts.append("(created): {2}")
            elif name == "(expires)":
                parts.append("(expires): {3}")
            else:
                break
        else:
            if names:
                template = "\n".join(parts)
        self.fields = tuple(fields)
        self.template = template


_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(names: tuple[str, ...]) -> _Plan:
    plan = _PLANS.get(names)
    if plan is None:
        plan = _Plan(names)
        if len(_PLANS) < 512:
            _PLANS[names] = plan
    return plan


_DEFAULT_PLANS: Final = {name: _plan(names) for name, names in _DEFAULT_HEADERS.items()}


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


# -- headers -----------------------------------------------------------------------


def _clean(value: Any) -> str:
    """One header value as a string; repeated values joined with ", " (draft §2.3)."""
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1").strip()
    elif isinstance(value, list | tuple):
        text = ", ".join([_clean(v) for v in value])
    else:
        raise TypeError(f"header value of type {type(value).__name__}")
    return text


class _Shape:
    """The names of a plain ``dict`` of headers, lower-cased, seen once per distinct key tuple.

    ``index`` maps each lower-cased name to the dict's own key; ``builders``
    holds, per :class:`_Plan`, the signing-string builder for dicts of this
    shape (``None`` where there is none; see :func:`_fast_builder`).
    """

    __slots__ = ("builders", "index")

    def __init__(self, index: dict[str, str]) -> None:
        self.index = index
        self.builders: dict[_Plan, _Builder | None] = {}


# One entry per tuple of header names seen in a plain dict (``None``: not all
# str, or two differ only in case). Real traffic repeats a few shapes.
_SHAPES: dict[tuple[Any, ...], _Shape | None] = {}
_NOT_SEEN: Final = _Shape({})


def _dict_shape(headers: dict[Any, Any]) -> _Shape | None:
    keys = tuple(headers)
    shape = _SHAPES.get(keys, _NOT_SEEN)
    if shape is not _NOT_SEEN:
        return shape
    shape = None
    if all(key.__class__ is str for key in keys):
        index = {key.lower(): key for key in keys}
        if len(index) == len(keys):
            shape = _Shape(index)
    if len(_SHAPES) < 1024 and sum(len(key) for key in (shape.index if shape else ())) < 4096:
        _SHAPES[keys] = shape
    return shape


def _lookup(headers: Headers) -> tuple[Callable[[str], Any], _Shape | None]:
    """:func:`_header_getter`, and the :class:`_Shape` of ``headers`` if it is a plain dict."""
    if type(headers) is dict:
        shape = _dict_shape(headers)
        if shape is not None:
            index = shape.index
            dict_headers = headers

            def get(name: str) -> Any:
                key = index.get(name)
                return None if key is None else dict_headers[key]

            return get, shape
    return _header_getter(headers), None


def _header_getter(headers: Headers) -> Callable[[str], Any]:
    """A case-insensitive lookup ``name -> value`` (repeated fields joined).

    The value of a plain ``dict`` is returned as it is in the dict: where it is
    used, anything but a ``str`` goes through :func:`_clean`. Other shapes give
    cleaned strings.
    """
    if type(headers) is dict:
        # The common case: no two keys differing only in case. Values are
        # stripped where they are used and line breaks are caught on the whole
        # signing string (_build).
        shape = _dict_shape(headers)
        if shape is not None:
            return _lookup(headers)[0]
    getall = getattr(headers, "getall", None)
    if getall is not None and type(headers).__name__.startswith("CI"):
        # aiohttp's CIMultiDict(Proxy): case-insensitive and multi-valued already.
        def get_multi(name: str) -> str | None:
            values = getall(name, None)
            if values is None:
                return None
            if len(values) == 1 and values[0].__class__ is str:
                return values[0]  # stripped where used
            return _clean(values)

        return get_multi
    merged: dict[str, list[Any]] = {}
    multi_items = getattr(headers, "multi_items", None)  # httpx.Headers: one pair per field line
    if multi_items is not None:
        items = multi_items()
    else:
        items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        name = (key.decode("latin-1") if isinstance(key, bytes) else key).lower()
        if isinstance(value, list | tuple):
            merged.setdefault(name, []).extend(value)
        else:
            merged.setdefault(name, []).append(value)

    def get_merged(name: str) -> str | None:
        values = merged.get(name)
        return None if values is None else _clean(values if len(values) > 1 else values[0])

    return get_merged


def signature_params(headers: Headers) -> SignatureParams:
    """Find and parse the signature of a request: ``Signature``, else ``Authorization: Signature``.

    Raises :class:`MissingComponentError` when the request carries neither.
    """
    return _params(_parse(_find_header(_header_getter(headers))))


def _find_header(get: Callable[[str], Any]) -> str:
    value: Any = get("signature")
    if value is None:
        auth = get("authorization")
        if auth is not None and auth.__class__ is not str:
            auth = _clean(auth)
        if auth is None or auth[:10].lower() != "signature ":
            raise MissingComponentError("the request has no Signature header")
        value = "Signature " + auth[10:]
    elif value.__class__ is not str:
        value = _clean(value)
    text: str = value
    return text


# -- time ------------------------------------------------------------------------

_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_IMF_FIXDATE_RE: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


@lru_cache(maxsize=1024)
def _parse_http_date(value: str) -> float | None:
    """Unix time of an HTTP-date (IMF-fixdate, or the obsolete forms), else ``None``.

    Cached: every request of the same second carries the same Date.
    """
    m = _IMF_FIXDATE_RE.fullmatch(value)
    try:
        if m is not None:
            day, month, year, hour, minute, second = m.groups()
            moment = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second)
            )
            return float(calendar.timegm(moment.timetuple()))
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        # HTTP dates are GMT: a missing zone (asctime form) is UTC, not local time.
        return float(calendar.timegm(parsed[:6]) - (parsed[9] or 0))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


_last_date: tuple[int, str] = (0, "")


def _format_http_date(seconds: int) -> str:
    """IMF-fixdate of ``seconds``; the last one is kept (one tuple: thread-safe)."""
    global _last_date
    cached = _last_date
    if cached[0] == seconds:
        return cached[1]
    text = email.utils.formatdate(seconds, usegmt=True)
    _last_date = (seconds, text)
    return text


def _timestamp(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.timestamp()
    return float(now)


# -- algorithms --------------------------------------------------------------------

# (declared cavage algorithm, key type) -> the key algorithm that verifies it.
# rsa-sha256 and hs2019 with RSA are RSASSA-PKCS1-v1_5 with SHA-256 (Mastodon);
# hs2019 with Ed25519 is Ed25519. ECDSA has no agreed cavage encoding.
_KEY_ALGORITHM: Final[dict[tuple[str, KeyType], Algorithm]] = {
    ("rsa-sha256", "rsa"): "rsa-v1_5-sha256",
    ("hs2019", "rsa"): "rsa-v1_5-sha256",
    ("hs2019", "ed25519"): "ed25519",
}


def _key_algorithm(algorithm: str, key_type: KeyType) -> Algorithm:
    try:
        return _KEY_ALGORITHM[algorithm, key_type]
    except KeyError:
        pass
    if algorithm == "rsa-sha256":
        raise AlgorithmMismatchError(f"rsa-sha256 signature but the key is {key_type}")
    if algorithm == "hs2019":
        raise UnsupportedAlgorithmError(f"hs2019 is not supported with {key_type} keys")
    raise UnknownSignatureAlgorithmError(f"unsupported signature algorithm {algorithm!r}")


# -- the signing string ---------------------------------------------------------------


_Builder: TypeAlias = Callable[[str, str, dict[Any, Any]], str]
_strip: Final = str.strip  # raises TypeError for anything but a str


def _fast_builder(plan: _Plan, index: Mapping[str, str]) -> _Builder | None:
    """An f-string builder of ``plan``'s signing string from a dict of headers of one shape.

    Only for ``(request-target)`` followed by two to four headers all present in
    ``index`` (every list Mastodon, Misskey, Pleroma and GoToSocial send);
    ``None`` otherwise. The builder raises ``TypeError`` for a value that is not a
    ``str``; :func:`_build` then takes the general way.
    """
    names = plan.names
    if plan.template is None or names[0] != "(request-target)":
        return None
    fields = names[1:]
    keys = [index.get(name) for name in fields]
    if len(plan.fields) != len(fields) or not keys or None in keys:
        return None
    if len(fields) == 2:
        n1, n2 = fields
        k1, k2 = keys

        def build2(method: str, target: str, h: dict[Any, Any]) -> str:
            return (
                f"(request-target): {method} {target}\n{n1}: {_strip(h[k1])}\n{n2}: {_strip(h[k2])}"
            )

        return build2
    if len(fields) == 3:
        n1, n2, n3 = fields
        k1, k2, k3 = keys

        def build3(method: str, target: str, h: dict[Any, Any]) -> str:
            return (
                f"(request-target): {method} {target}\n{n1}: {_strip(h[k1])}\n{n2}: "
                f"{_strip(h[k2])}\n{n3}: {_strip(h[k3])}"
            )

        return build3
    if len(fields) == 4:
        n1, n2, n3, n4 = fields
        k1, k2, k3, k4 = keys

        def build4(method: str, target: str, h: dict[Any, Any]) -> str:
            return (
                f"(request-target): {method} {target}\n{n1}: {_strip(h[k1])}\n{n2}: "
                f"{_strip(h[k2])}\n{n3}: {_strip(h[k3])}\n{n4}: {_strip(h[k4])}"
            )

        return build4
    return None


def _no_builder(method: str, target: str, h: dict[Any, Any]) -> str:  # pragma: no cover
    raise AssertionError("a marker, never called")


def _build(
    plan: _Plan,
    method: str,
    target: str,
    get: Callable[[str], Any] | None,
    created: int | None,
    expires: str | None,
    fallback_host: str | None = None,
    shape: _Shape | None = None,
    headers: Any = None,
) -> bytes:
    """The signing string of ``plan``: ``shape`` and ``headers`` (the plain dict
    ``get`` reads) allow the f-string builder, else the template. ``get`` may be
    ``None`` when ``shape`` is given: it is then made from ``headers``."""
    text: str | None = None
    if shape is not None:
        builder = shape.builders.get(plan, _no_builder)
        if builder is _no_builder:
            builder = _fast_builder(plan, shape.index)
            if len(shape.builders) < 64:
                shape.builders[plan] = builder
        if builder is not None:
            try:
                text = builder(method, target, headers)
            except TypeError:  # a value that is not a str: the general way cleans it
                text = None
    if text is None:
        if get is None:
            get = _lookup(headers)[0]
        template = plan.template
        if template is None:
            return _build_lines(plan.names, method, target, get, created, expires, fallback_host)
        values: list[str] = []
        for name in plan.fields:
            value = get(name)
            if value is None:
                if name == "host" and fallback_host:
                    value = fallback_host
                else:
                    raise MissingComponentError(f"signed header {name!r} is not in the request")
            elif value.__class__ is not str:
                value = _clean(value)
            values.append(value.strip())
        text = template.format(method, target, created, expires, *values)
    if text.count("\n") != plan.newlines or "\r" in text:
        # A line break inside a value would forge lines of the signing string.
        raise MalformedSignatureError("a signed value contains a line break")
    try:
        return text.encode()
    except UnicodeEncodeError:
        pass
    try:  # servers decode raw header bytes with surrogateescape
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise MalformedSignatureError("header value is not encodable") from None


def _build_lines(
    names: Sequence[str],
    method: str,
    target: str,
    get: Callable[[str], Any],
    created: int | None,
    expires: str | None,
    fallback_host: str | None = None,
) -> bytes:
    """:func:`_build` for the lists it has no template for (the errors come from here)."""
    lines: list[str] = []
    append = lines.append
    for name in names:
        if not name.startswith("("):
            value = get(name)
            if value is None:
                if name == "host" and fallback_host:
                    value = fallback_host
                else:
                    raise MissingComponentError(f"signed header {name!r} is not in the request")
            elif value.__class__ is not str:
                value = _clean(value)
            append(f"{name}: {value.strip()}")
        elif name == "(request-target)":
            append(f"(request-target): {method} {target}")
        elif name == "(created)":
            append(f"(created): {created}")
        elif name == "(expires)":
            append(f"(expires): {expires}")
        else:
            raise MalformedSignatureError(f"unknown pseudo-header {name[:40]!r}")
    text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1 or "\r" in text:
        # A line break inside a value would forge lines of the signing string.
        raise MalformedSignatureError("a signed value contains a line break")
    try:
        return text.encode()
    except UnicodeEncodeError:
        pass
    try:  # servers decode raw header bytes with surrogateescape
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise MalformedSignatureError("header value is not encodable") from None


def signing_string(
    method: str,
    target: str,
    headers: Headers,
    params: SignatureParams,
) -> bytes:
    """The exact bytes a draft-cavage signature covers (for debugging and tests).

    ``target`` is the path with query (``/inbox?x=1``) or a full URL.
    """
    path, _, host = _split_target(target)
    return _build(
        _plan(tuple(params.headers)),
        method.lower(),
        path,
        _header_getter(headers),
        params.created,
        params.expires_text,
        host,
    )


@lru_cache(maxsize=2048)
def _split_target(target: str) -> tuple[str, str, str | None]:
    """``(path with query, path without query, host from a full URL or None)``."""
    host: str | None = None
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        host = parts.netloc.rpartition("@")[2] or None
        path = parts.path or "/"
        full = f"{path}?{parts.query}" if parts.query else path
        return full, path, host
    full = target.partition("#")[0] or "/"
    return full, full.partition("?")[0], host


@lru_cache(maxsize=2048)
def _url_parts(url: str) -> tuple[str, str]:
    """``(Host header value, request target)`` of an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and port != (443 if parts.scheme == "https" else 80):
        host = f"{host}:{port}"
    path = parts.path or "/"
    return host, f"{path}?{parts.query}" if parts.query else path


# -- signing ------------------------------------------------------------------------


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key: PrivateKey,
    key_id: str,
    *,
    algorithm: CavageAlgorithm = "rsa-sha256",
    headers_to_sign: Sequence[str] | None = None,
    created: bool | int = False,
    expires_in: float | None = None,
    now: float | datetime | None = None,
) -> dict[str, str]:
    """Sign a request; return the headers to add: ``Signature`` and, when missing,
    ``Date``, ``Host`` and (for a body) ``Digest``.

    ``url`` is the absolute URL requested. ``headers`` are the request's other
    headers (those given are signed as given; a given ``Digest`` must match
    ``body``). POST, PUT and PATCH always get a ``Digest``, of ``b""`` if
    ``body`` is ``None``. Default coverage is Mastodon's:
    ``(request-target) host date`` plus ``digest`` with a body.

    ``created=True`` (or a Unix time) adds ``created`` and ``(created)``;
    ``expires_in`` seconds adds ``expires`` and ``(expires)``. Both need
    ``algorithm="hs2019"``: the draft forbids them with rsa-sha256.
    """
    key_algorithm = _KEY_ALGORITHM.get((algorithm, key.type))
    if key_algorithm is None:
        # The right error: UnknownSignatureAlgorithmError for an algorithm not
        # in CAVAGE_ALGORITHMS, else the mismatch with the key.
        key_algorithm = _key_algorithm(algorithm, key.type)
    host, target = _url_parts(url)
    moment = time.time() if now is None else _timestamp(now)
    if body is None and method.upper() in _BODY_METHODS:
        body = b""

    get: Callable[[str], Any] | None = None
    shape: _Shape | None = None
    if type(headers) is dict:
        shape = _SHAPES.get(tuple(headers), _NOT_SEEN)
        if shape is _NOT_SEEN:
            shape = _dict_shape(headers)
    if shape is not None:  # a plain dict: read it through its shape, no getter
        index = shape.index
        name = index.get("date")
        date = None if name is None else headers[name]  # type: ignore[index]
        name = index.get("host")
        given_host = None if name is None else headers[name]  # type: ignore[index]
        name = index.get("digest") if body is not None else None
        digest = None if name is None else headers[name]  # type: ignore[index]
    else:
        get = _header_getter(headers)
        date = get("date")
        given_host = get("host")
        digest = None if body is None else get("digest")

    # Values we make are clean; given ones are stripped as _build would.
    added: dict[str, str] = {}
    if date is None:
        seconds = int(moment)
        last = _last_date
        date = added["Date"] = last[1] if last[0] == seconds else _format_http_date(seconds)
    else:
        date = (date if date.__class__ is str else _clean(date)).strip()
    if given_host is None:
        host_value = added["Host"] = host
    else:
        if given_host.__class__ is not str:
            given_host = _clean(given_host)
        host_value = given_host.strip() if given_host else host
    if body is not None:
        if digest is None:
            digest = added["Digest"] = (
                "SHA-256=" + _b2a_base64(_sha256(body).digest(), newline=False).decode("ascii")
            )
        else:
            if digest.__class__ is not str:
                digest = _clean(digest)
            verify_digest(digest, body)
            digest = digest.strip()

    created_at: int | None = None
    expires_at: int | None = None
    lookup: Callable[[str], Any]
    if headers_to_sign is None and created is False and expires_in is None:
        # Mastodon's coverage, `(request-target) host date [digest]`: the
        # f-string is what _build makes.
        if body is not None:
            text = (
                f"(request-target): {method.lower()} {target}\n"
                f"host: {host_value}\ndate: {date}\ndigest: {digest}"
            )
            plan = _SIGN_PLAN_BODY
        else:
            text = f"(request-target): {method.lower()} {target}\nhost: {host_value}\ndate: {date}"
            plan = _SIGN_PLAN
        if text.count("\n") != plan.newlines or "\r" in text:
            raise MalformedSignatureError("a signed value contains a line break")
        try:
            data = text.encode()
        except UnicodeEncodeError:
            signed = {"host": host_value, "date": date, "digest": digest}
            data = _build(plan, method.lower(), target, signed.get, None, None)
        # key.sign, less one call: _KEY_ALGORITHM only gives an algorithm of the key's type.
        signature = _b2a_base64(key._signers[key_algorithm](data), newline=False).decode("ascii")
        prefix = _signature_prefix(key_id, algorithm)
        added["Signature"] = f'{prefix}headers="{plan.text}",signature="{signature}"'
        return added
    else:
        if created is True:
            created_at = int(moment)
        elif created is not False:
            created_at = int(created)
        if expires_in is not None:
            expires_at = (created_at if created_at is not None else int(moment)) + int(expires_in)
        if headers_to_sign is None:
            names = ["(request-target)"]
            if created_at is not None:
                names.append("(created)")
            if expires_at is not None:
                names.append("(expires)")
            names += ("host", "date", "digest") if body is not None else ("host", "date")
        else:
            names = [name.lower() for name in headers_to_sign]
            if not names or _HEADER_LIST_RE.fullmatch(" ".join(names)) is None:
                raise ValueError(f"headers_to_sign is not a list of header names: {names!r}")
            if "(created)" in names and created_at is None:
                created_at = int(moment)
            if "(expires)" in names and expires_at is None:
                raise ValueError("(expires) is to be signed but expires_in is not given")
        if algorithm == "rsa-sha256" and (created_at is not None or expires_at is not None):
            raise ValueError("created/expires need algorithm='hs2019' (draft-cavage-12 §2.1.4)")
        plan = _plan(tuple(names))

        values: dict[str, str | None] = {"host": host_value, "date": date, "digest": digest}
        getter = _header_getter(headers) if get is None else get

        def lookup(name: str) -> Any:
            value = values.get(name)
            return value if value is not None else getter(name)

    expires_text = None if expires_at is None else str(expires_at)
    data = _build(plan, method.lower(), target, lookup, created_at, expires_text)
    signature = _b64(key.sign(data, key_algorithm))
    prefix = _signature_prefix(key_id, algorithm)
    if created_at is None and expires_at is None:
        added["Signature"] = f'{prefix}headers="{plan.text}",signature="{signature}"'
    else:
        times = "" if created_at is None else f"created={created_at},"
        if expires_text is not None:
            times += f"expires={expires_text},"
        added["Signature"] = f'{prefix}{times}headers="{plan.text}",signature="{signature}"'
    return added


def _b64(data: bytes) -> str:
    return _b2a_base64(data, newline=False).decode("ascii")


_b2a_base64: Final = binascii.b2a_base64
_a2b_base64: Final = binascii.a2b_base64
_compare_digest: Final = hmac.compare_digest
_sha256: Final = hashlib.sha256
_SIGN_PLAN: Final = _plan(("(request-target)", "host", "date"))
_SIGN_PLAN_BODY: Final = _plan(("(request-target)", "host", "date", "digest"))


@lru_cache(maxsize=256)
def _signature_prefix(key_id: str, algorithm: str) -> str:
    """``keyId="...",algorithm="...",``; ``ValueError`` for a keyId with control characters."""
    if _CTL_RE.search(key_id):
        raise ValueError("keyId contains control characters")
    return f'keyId={_quote(key_id)},algorithm="{algorithm}",'


# -- verification -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """What a signature must cover and how old it may be. Defaults are Mastodon's."""

    #: ``date`` or ``(created)`` must be signed.
    require_date_or_created: bool = True
    #: ``(request-target)`` or ``digest`` must be signed.
    require_target_or_digest: bool = True
    #: Stricter than Mastodon: ``(request-target)`` itself must be signed.
    require_request_target: bool = False
    #: Methods that must sign ``host``.
    host_required_for: frozenset[str] = frozenset({"GET", "HEAD"})
    #: Methods that must sign ``digest`` (or ``content-digest``).
    digest_required_for: frozenset[str] = frozenset({"POST", "PUT", "PATCH"})
    #: Further headers that must be signed (lower-case names).
    required_headers: frozenset[str] = frozenset()
    #: Accepted ``algorithm`` values.
    algorithms: frozenset[str] = CAVAGE_ALGORITHMS
    #: Check the time window at all.
    check_time: bool = True
    #: Clock-skew margin, seconds, on both sides.
    clock_skew: float = 3600.0
    #: Lifetime when the signature has no ``expires``, seconds.
    default_lifetime: float = 300.0
    #: Lifetime never exceeds this, whatever ``expires`` says, seconds.
    max_lifetime: float = 12 * 3600.0
    #: Also accept ``(request-target)`` signed without the query string.
    query_fallback: bool = True


DEFAULT_POLICY: Final = VerificationPolicy()


@dataclass(frozen=True, slots=True, init=False)
class VerifiedSignature:
    """A signature that verified.

    ``key_id`` is the header's ``keyId``: the caller must still check that the
    key belongs to the activity's actor. ``created``/``expires`` are the
    effective window (Unix times) or ``None`` when the request had no time.
    """

    key_id: str
    algorithm: CavageAlgorithm
    headers: tuple[str, ...]
    created: float | None
    expires: float | None
    key: PublicKey = field(repr=False)

    def __init__(
        self,
        key_id: str,
        algorithm: CavageAlgorithm,
        headers: tuple[str, ...],
        created: float | None,
        expires: float | None,
        key: PublicKey,
    ) -> None:
        # Slot descriptors directly: half the cost of the generated frozen
        # __init__, which matters on the verification hot path.
        _set_key_id(self, key_id)
        _set_algorithm(self, algorithm)
        _set_headers(self, headers)
        _set_created(self, created)
        _set_expires(self, expires)
        _set_key(self, key)


_set_key_id = VerifiedSignature.__dict__["key_id"].__set__
_set_algorithm = VerifiedSignature.__dict__["algorithm"].__set__
_set_headers = VerifiedSignature.__dict__["headers"].__set__
_set_created = VerifiedSignature.__dict__["created"].__set__
_set_expires = VerifiedSignature.__dict__["expires"].__set__
_set_key = VerifiedSignature.__dict__["key"].__set__
_new_object: Final = object.__new__

KeySource: TypeAlias = PublicKey | Callable[[str], PublicKey]


def _check_coverage(names: tuple[str, ...], method: str, policy: VerificationPolicy) -> None:
    if policy.require_date_or_created and "date" not in names and "(created)" not in names:
        raise MissingComponentError("the signature must cover date or (created)")
    if (
        policy.require_target_or_digest
        and "(request-target)" not in names
        and "digest" not in names
    ):
        raise MissingComponentError("the signature must cover (request-target) or digest")
    if policy.require_request_target and "(request-target)" not in names:
        raise MissingComponentError("the signature must cover (request-target)")
    if method in policy.host_required_for and "host" not in names:
        raise MissingComponentError(f"a {method} signature must cover host")
    if (
        method in policy.digest_required_for
        and "digest" not in names
        and "content-digest" not in names
    ):
        raise MissingComponentError(f"a {method} signature must cover digest")
    for name in policy.required_headers:
        if name not in names:
            raise MissingComponentError(f"the signature must cover {name}")


def verify_request(
    method: str,
    target: str,
    headers: Headers,
    body: bytes | None,
    key: KeySource,
    *,
    params: SignatureParams | None = None,
    policy: VerificationPolicy = DEFAULT_POLICY,
    now: float | datetime | None = None,
) -> VerifiedSignature:
    """Verify the draft-cavage signature of a received request.

    ``target`` is the raw path and query from the request line (``/inbox?a=b``)
    or the full URL. ``body`` is the exact received bytes. ``key`` is the
    signer's public key, or a synchronous ``keyId -> PublicKey`` lookup (a
    cache); for an asynchronous fetch, call :func:`signature_params` first,
    fetch the key for ``params.key_id``, then pass both here.

    Checks, cheapest first: algorithm against the key, coverage, time window,
    body digest, then the signature. Returns a :class:`VerifiedSignature`;
    raises a :class:`~activitypub.errors.SignatureError` subclass otherwise.
    """
    # One straight function: this is the inbox hot path (see bench/).
    get: Callable[[str], Any] | None = None
    shape: _Shape | None = None
    if type(headers) is dict:
        shape = _SHAPES.get(tuple(headers), _NOT_SEEN)
        if shape is _NOT_SEEN:
            shape = _dict_shape(headers)
    if shape is not None:
        # A plain dict: ``hget(iget(name))`` is the case-insensitive lookup
        # (``None`` is never a key of a dict with a shape), with no getter.
        hget: Callable[[str | None], Any] = headers.get  # type: ignore[union-attr,assignment]
        iget = shape.index.get
    else:
        get = _header_getter(headers)
    if params is None:
        header = None if get is not None else hget(iget("signature"))
        if header.__class__ is not str:
            header = _find_header(get if get is not None else _lookup(headers)[0])
        # _parse's first case, inline: a known head, then `,signature="<base64>"`.
        signature = b""
        if header[-1:] == '"' and len(header) <= MAX_SIGNATURE_HEADER_LENGTH:
            end = header.rfind(_SIGNATURE_MARK)
            head = _HEADS.get(header[:end]) if end > 0 else None
            if head is not None:
                encoded = header[end + 12 : -1]
                if encoded and '"' not in encoded:
                    try:
                        signature = _a2b_base64(encoded, strict_mode=True)
                    except (binascii.Error, ValueError):
                        raise _malformed("signature is not base64") from None
        if signature:
            key_id, algorithm, plan = head  # type: ignore[misc]
            created_param = expires_param = expires_text = None
        else:
            key_id, algorithm, plan, signature, created_param, expires_param, expires_text = (
                _parse(header)
            )
    else:
        key_id, algorithm, plan = params.key_id, params.algorithm, _plan(tuple(params.headers))
        signature, created_param = params.signature, params.created
        expires_param, expires_text = params.expires, params.expires_text
    if algorithm not in policy.algorithms:
        raise UnsupportedAlgorithmError(f"signature algorithm {algorithm!r} is disabled")
    public_key = key if isinstance(key, PublicKey) else key(key_id)
    key_algorithm = _KEY_ALGORITHM.get((algorithm, public_key.type))
    if key_algorithm is None:
        key_algorithm = _key_algorithm(algorithm, public_key.type)  # raises the right error
    method_upper = method.upper()
    checked = (method_upper, id(policy))
    if plan.checked.get(checked) is not policy:
        _check_coverage(plan.names, method_upper, policy)
        if len(plan.checked) < 64:
            plan.checked[checked] = policy

    # Time window (Mastodon): creation = covered `created`, else Date.
    creation: float | None
    if created_param is not None and plan.created:
        creation = float(created_param)
    else:
        date = hget(iget("date")) if get is None else get("date")
        if date is None:
            creation = None
        else:
            if date.__class__ is not str:
                date = _clean(date)
            if len(date) > 64:  # keep hostile values out of the date cache
                raise MalformedSignatureError("unparseable Date header")
            creation = _parse_http_date(date.strip())
            if creation is None:
                raise MalformedSignatureError("unparseable Date header")
    expiry: float | None
    if expires_param is not None and plan.expires:
        expiry = float(expires_param)
    elif creation is not None:
        expiry = creation + policy.default_lifetime
    else:
        expiry = None
    if creation is not None and expiry is not None and expiry > creation + policy.max_lifetime:
        expiry = creation + policy.max_lifetime
    if policy.check_time:
        moment = time.time() if now is None else _timestamp(now)
        if creation is not None and creation > moment + policy.clock_skew:
            raise ClockSkewError("the signature was created in the future")
        if expiry is not None and moment > expiry + policy.clock_skew:
            raise SignatureExpiredError("the signature has expired")

    if plan.digest:
        digest = hget(iget("digest")) if get is None else get("digest")
        if digest.__class__ is not str or not (
            len(digest) == 52
            and digest.isascii()
            and _compare_digest(
                digest,
                "SHA-256="
                + _b2a_base64(_sha256(body or b"").digest(), newline=False).decode("ascii"),
            )
        ):
            # All but the canonical `SHA-256=<base64>` of this body (verify_digest's
            # first case, inline): verify_digest says what is wrong, if anything.
            if digest is not None and digest.__class__ is not str:
                digest = _clean(digest)
            verify_digest(digest, body or b"")
    if plan.content_digest:
        content_digest = hget(iget("content-digest")) if get is None else get("content-digest")
        if content_digest is not None and content_digest.__class__ is not str:
            content_digest = _clean(content_digest)
        verify_content_digest(content_digest, body or b"")

    full, bare, host = _split_target(target)
    method_lower = method.lower()
    # _build's f-string way, inline: the builder of this shape and plan, then the
    # same checks; anything else (including every error) through _build itself.
    builder = None if shape is None else shape.builders.get(plan)
    text = None
    if builder is not None:
        try:
            text = builder(method_lower, full, headers)  # type: ignore[arg-type]
        except TypeError:
            text = None
    if (
        text is not None
        and text.count("\n") == plan.newlines
        and "\r" not in text
        and text.isascii()
    ):
        data = text.encode("ascii")
    else:
        data = _build(
            plan, method_lower, full, get, created_param, expires_text, host, shape, headers
        )
    try:
        public_key._verifiers[key_algorithm](signature, data)
    except InvalidSignature:
        if not (policy.query_fallback and full != bare and "(request-target)" in plan.names):
            raise InvalidSignatureError("signature does not verify") from None
        data = _build(
            plan, method_lower, bare, get, created_param, expires_text, host, shape, headers
        )
        public_key.verify(signature, data, key_algorithm)
    # VerifiedSignature(...), without the call of its __init__.
    verified: VerifiedSignature = _new_object(VerifiedSignature)
    _set_key_id(verified, key_id)
    _set_algorithm(verified, algorithm)
    _set_headers(verified, plan.names)
    _set_created(verified, creation)
    _set_expires(verified, expiry)
    _set_key(verified, public_key)
    return verified
