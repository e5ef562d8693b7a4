"""Building blocks of RFC 9421: structured fields, component identifiers and values.

This module holds what :mod:`activitypub.signatures.rfc9421` assembles into
signing and verification:

* a strict RFC 8941 parser and serialiser for the shapes HTTP Message
  Signatures use (dictionaries of items and inner lists, with parameters).
  It is written by hand because the general-purpose ``http_sfv`` parser costs
  about as much as an RSA-2048 verification, and the verifier must stay within
  a small multiple of the raw crypto cost. The tests check it against
  ``http_sfv`` on generated input.
* :class:`Component`, a parsed component identifier (``"@method"``,
  ``"content-type"``, ``"@query-param";name="id"`` ...) and the derivation of
  its value from a request (RFC 9421 §2.1 and §2.2).
* header normalisation (lowercase names, multiple field lines combined per
  §2.1) and a lean split of the target URI.

Nothing here performs I/O. Every failure raises an ``activitypub.errors`` class.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, TypeAlias
from urllib.parse import quote, unquote_plus

from activitypub.errors import MalformedSignatureError, MissingComponentError, MissingDigestError

__all__ = [
    "DERIVED_COMPONENTS",
    "MAX_FIELD_LENGTH",
    "BareItem",
    "Component",
    "Headers",
    "Item",
    "Member",
    "Params",
    "Token",
    "Url",
    "component_value",
    "normalize_headers",
    "parse_component",
    "parse_dictionary",
    "parse_inner_list",
    "serialize_bare",
    "serialize_dictionary",
    "serialize_params",
    "split_url",
    "unfold",
]


class Token(str):
    """An RFC 8941 Token (a bare word), told apart from a String by its type."""

    __slots__ = ()


BareItem: TypeAlias = int | Decimal | str | bytes | bool
Params: TypeAlias = tuple[tuple[str, BareItem], ...]
Item: TypeAlias = tuple[BareItem, Params]
#: A dictionary member: an item, or an inner list (a list of items) with its parameters.
Member: TypeAlias = tuple[BareItem | tuple[Item, ...], Params]
#: Header input: a mapping, a multi-dict (whose ``items()`` repeats names), or pairs.
Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]

#: Longest structured field we parse. Signature headers of a few signatures
#: are well under 4 KiB; a megabyte header is an attack, not a signature.
MAX_FIELD_LENGTH: Final = 16384
_MAX_MEMBERS: Final = 64
_MAX_INNER: Final = 64
_MAX_PARAMS: Final = 32

# -- RFC 8941 parsing ----------------------------------------------------------

_KEY: Final = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_STRING: Final = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"')
_ESCAPE: Final = re.compile(r'\\(["\\])')
_TOKEN: Final = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUMBER: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_BYTES: Final = re.compile(r":([A-Za-z0-9+/=]*):")
_SP_RUN: Final = re.compile(r" *")
_OWS_RUN: Final = re.compile(r"[ \t]*")


def _fail(why: str, pos: int) -> MalformedSignatureError:
    return MalformedSignatureError(f"malformed structured field: {why} at offset {pos}")


def _parse_bare(s: str, pos: int) -> tuple[BareItem, int]:
    if pos >= len(s):
        raise _fail("missing value", pos)
    c = s[pos]
    if c == '"':
        m = _STRING.match(s, pos)
        if m is None:
            raise _fail("bad string", pos)
        raw = m.group(1)
        return (_ESCAPE.sub(r"\1", raw) if "\\" in raw else raw), m.end()
    if c == "-" or "0" <= c <= "9":
        m = _NUMBER.match(s, pos)
        if m is None:
            raise _fail("bad number", pos)
        sign, whole, frac = m.groups()
        if frac is None:
            if len(whole) > 15:
                raise _fail("integer too long", pos)
            value = int(whole)
            return (-value if sign else value), m.end()
        if len(whole) > 12 or len(frac) > 3:
            raise _fail("decimal too long", pos)
        return Decimal(m.group(0)), m.end()
    if c == ":":
        m = _BYTES.match(s, pos)
        if m is None:
            raise _fail("bad byte sequence", pos)
        text = m.group(1)
        stripped = text.rstrip("=")
        if "=" in stripped or len(text) - len(stripped) > 2:
            raise _fail("bad base64 padding", pos)
        try:
            data = base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
        except binascii.Error:
            raise _fail("bad base64", pos) from None
        return data, m.end()
    if c == "?":
        flag = s[pos + 1 : pos + 2]
        if flag == "1":
            return True, pos + 2
        if flag == "0":
            return False, pos + 2
        raise _fail("bad boolean", pos)
    m = _TOKEN.match(s, pos)
    if m is None:
        raise _fail("unexpected character", pos)
    return Token(m.group(0)), m.end()


# One parameter whose value is a String or an Integer (or absent: true), the
# shapes signature parameters take; anything else goes the general way.
_PARAM_FAST: Final = re.compile(
    r';[ ]*+([a-z*][a-z0-9_\-.*]*+)(?:=(?:"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"'
    r"|(-?[0-9]{1,15})(?![0-9.])))?(?!=)"
)


def _parse_params(s: str, pos: int) -> tuple[Params, int]:
    params: list[tuple[str, BareItem]] = []
    n = len(s)
    fast = _PARAM_FAST.match
    while pos < n and s[pos] == ";":
        value: BareItem
        m = fast(s, pos)
        if m is not None:
            key, text, number = m.groups()
            if text is not None:
                value = _ESCAPE.sub(r"\1", text) if "\\" in text else text
            elif number is not None:
                value = int(number)
            else:
                value = True
            pos = m.end()
        else:
            pos = _SP_RUN.match(s, pos + 1).end()  # type: ignore[union-attr]
            km = _KEY.match(s, pos)
            if km is None:
                raise _fail("bad parameter key", pos)
            key = km.group(0)
            pos = km.end()
            if pos < n and s[pos] == "=":
                value, pos = _parse_bare(s, pos + 1)
            else:
                value = True
        params.append((key, value))
        if len(params) > _MAX_PARAMS:
            raise _fail("too many parameters", pos)
    return tuple(params), pos


def _parse_inner_list(s: str, pos: int) -> tuple[tuple[Item, ...], int]:
    # s[pos] == "("
    items: list[Item] = []
    n = len(s)
    pos += 1
    while True:
        pos = _SP_RUN.match(s, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            raise _fail("unterminated inner list", pos)
        if s[pos] == ")":
            return tuple(items), pos + 1
        value, pos = _parse_bare(s, pos)
        params, pos = _parse_params(s, pos)
        items.append((value, params))
        if len(items) > _MAX_INNER:
            raise _fail("inner list too long", pos)
        if pos >= n or s[pos] not in " )":
            raise _fail("bad inner list", pos)


# Senders repeat the same covered-component list on every request, so inner
# lists are cached by their exact text. Sound because an inner list's parse
# depends only on its own characters, from "(" to the ")" that closes it.
_INNER_TEXT: Final = re.compile(r'\((?:[^()"]++|"(?:[^"\\]++|\\.)*+")*+\)')
_INNER_CACHE: dict[str, tuple[Item, ...]] = {}
_INNER_CACHE_MAX: Final = 512


def _inner_list(s: str, pos: int) -> tuple[tuple[Item, ...], int]:
    m = _INNER_TEXT.match(s, pos)
    if m is not None:
        hit = _INNER_CACHE.get(m.group(0))
        if hit is not None:
            return hit, m.end()
    items, end = _parse_inner_list(s, pos)
    if len(_INNER_CACHE) < _INNER_CACHE_MAX:
        _INNER_CACHE[s[pos:end]] = items
    return items, end


def parse_inner_list(text: str) -> tuple[Item, ...]:
    """Parse exactly one inner list with no parameters, such as ``("@method" "date")``."""
    if not text.startswith("("):
        raise _fail("expected '('", 0)
    items, end = _inner_list(text, 0)
    if end != len(text):
        raise _fail("trailing characters after inner list", end)
    return items


def parse_dictionary(text: str, *, name: str = "field") -> list[tuple[str, Member]]:
    """Parse an RFC 8941 Dictionary, keeping duplicate keys (callers decide).

    Raises :class:`MalformedSignatureError` for anything that is not one.
    """
    if len(text) > MAX_FIELD_LENGTH:
        raise MalformedSignatureError(f"{name} is longer than {MAX_FIELD_LENGTH} characters")
    s = text.rstrip(" ")
    n = len(s)
    pos = _SP_RUN.match(s, 0).end()  # type: ignore[union-attr]
    out: list[tuple[str, Member]] = []
    if pos >= n:
        return out
    while True:
        m = _KEY.match(s, pos)
        if m is None:
            raise _fail(f"bad key in {name}", pos)
        key = m.group(0)
        pos = m.end()
        value: BareItem | tuple[Item, ...]
        if pos < n and s[pos] == "=":
            pos += 1
            if pos < n and s[pos] == "(":
                value, pos = _inner_list(s, pos)
            else:
                value, pos = _parse_bare(s, pos)
        else:
            value = True
        params, pos = _parse_params(s, pos)
        out.append((key, (value, params)))
        if len(out) > _MAX_MEMBERS:
            raise _fail(f"too many members in {name}", pos)
        pos = _OWS_RUN.match(s, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return out
        if s[pos] != ",":
            raise _fail(f"expected ',' in {name}", pos)
        pos = _OWS_RUN.match(s, pos + 1).end()  # type: ignore[union-attr]
        if pos >= n:
            raise _fail(f"trailing comma in {name}", pos)


# -- RFC 8941 serialisation ----------------------------------------------------

_NEEDS_ESCAPE: Final = re.compile(r'["\\]')
_PRINTABLE: Final = re.compile(r"[\x20-\x7e]*")


def serialize_bare(value: BareItem) -> str:
    if type(value) is str:
        if _PRINTABLE.fullmatch(value) is None:
            raise MalformedSignatureError("strings must be printable ASCII")
        if '"' in value or "\\" in value:
            value = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{value}"'
    if value is True:
        return "?1"
    if value is False:
        return "?0"
    if isinstance(value, Token):
        if _TOKEN.fullmatch(value) is None:
            raise MalformedSignatureError(f"not a valid token: {value!r}")
        return str(value)
    if isinstance(value, str):
        if _PRINTABLE.fullmatch(value) is None:
            raise MalformedSignatureError("strings must be printable ASCII")
        if _NEEDS_ESCAPE.search(value):
            value = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{value}"'
    if isinstance(value, int):
        if abs(value) > 999_999_999_999_999:
            raise MalformedSignatureError("integer out of range")
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Decimal):
        q = value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
        if abs(q) >= Decimal("1000000000000"):
            raise MalformedSignatureError("decimal out of range")
        whole, _, frac = f"{q:f}".partition(".")
        return f"{whole}.{frac.rstrip('0') or '0'}"
    raise MalformedSignatureError(f"cannot serialise {type(value).__name__}")


def serialize_params(params: Params) -> str:
    out = []
    for key, value in params:
        out.append(f";{key}" if value is True else f";{key}={serialize_bare(value)}")
    return "".join(out)


def _serialize_member(value: BareItem | tuple[Item, ...], params: Params) -> str:
    if isinstance(value, tuple):
        inner = " ".join(serialize_bare(v) + serialize_params(p) for v, p in value)
        return f"({inner}){serialize_params(params)}"
    return serialize_bare(value) + serialize_params(params)


def serialize_dictionary(members: Iterable[tuple[str, Member]]) -> str:
    out = []
    for key, (value, params) in members:
        if _KEY.fullmatch(key) is None:
            raise MalformedSignatureError(f"not a valid dictionary key: {key!r}")
        if value is True:
            out.append(key + serialize_params(params))
        else:
            out.append(f"{key}={_serialize_member(value, params)}")
    return ", ".join(out)


# -- headers and URLs ----------------------------------------------------------


# The lower-cased names of each tuple of dict keys seen (``()`` when they are
# not all str or two differ only in case): real traffic repeats a few shapes.
_LOWERED: dict[tuple[object, ...], tuple[str, ...]] = {}


def _lowered(keys: tuple[object, ...]) -> tuple[str, ...]:
    lowered: tuple[str, ...] = ()
    if keys and all(type(k) is str for k in keys):
        names = tuple(str(k).lower() for k in keys)
        if len(set(names)) == len(names):
            lowered = names
    if len(_LOWERED) < 1024 and sum(map(len, lowered)) < 4096:
        _LOWERED[keys] = lowered
    return lowered


# For each tuple of dict keys seen: lower-cased name -> the dict's own key, or
# None where normalize_headers does not take the dict as it is (see _lowered).
_INDEXES: dict[tuple[object, ...], dict[str, Any] | None] = {}
_NO_INDEX: Final[dict[str, Any]] = {}


def _field_index(keys: tuple[object, ...]) -> dict[str, Any] | None:
    lowered = _LOWERED.get(keys)
    if lowered is None:
        lowered = _lowered(keys)
    index = dict(zip(lowered, keys, strict=True)) if lowered else None
    if len(_INDEXES) < 1024 and sum(map(len, lowered)) < 4096:
        _INDEXES[keys] = index
    return index


def _header_index(headers: Headers) -> dict[str, Any] | None:
    """Lower-cased name -> key of a plain ``dict`` of headers that
    :func:`normalize_headers` takes as it is (all keys ``str``, no two equal but
    for case); ``None`` for any other headers."""
    if type(headers) is not dict:
        return None
    keys = tuple(headers)
    index = _INDEXES.get(keys, _NO_INDEX)
    return _field_index(keys) if index is _NO_INDEX else index


def _pick_fields(
    headers: Any, index: dict[str, Any], names: Iterable[str], into: dict[str, str]
) -> dict[str, str] | None:
    """``into`` with what ``normalize_headers(headers)`` gives for ``names`` (absent
    ones left out), ``index`` being :func:`_header_index` of ``headers``; ``None``
    when a value read is not a ``str`` (the general way then says what to do).

    A verifier needs two to four fields of a dozen: this strips only those.
    """
    for name in names:
        key = index.get(name)
        if key is not None:
            value = headers[key]
            if type(value) is not str:
                return None
            into[name] = value.strip(" \t")
    return into


def normalize_headers(headers: Headers) -> dict[str, str]:
    """Lowercase names; combine repeated fields with ``", "`` (RFC 9421 §2.1).

    Each field line's value is stripped of surrounding spaces and tabs. Accepts
    a mapping, a multi-dict whose ``items()`` repeats names (aiohttp's
    ``CIMultiDict``), or ``(name, value)`` pairs. A value holding a line break
    is kept as is: covering it makes the signature base invalid.
    """
    if type(headers) is dict:
        keys = tuple(headers)
        lowered = _LOWERED.get(keys)
        if lowered is None:
            lowered = _lowered(keys)
        if lowered:
            # Every key a str, none differing from another only in case.
            return {k: v.strip(" \t") for k, v in zip(lowered, headers.values(), strict=True)}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        lname = name.lower()
        v = value.strip(" \t")
        previous = out.get(lname)
        out[lname] = v if previous is None else f"{previous}, {v}"
    return out


class Url:
    """The parts of an absolute ``http(s)`` target URI that components need."""

    __slots__ = (
        "authority",
        "path",
        "query",
        "raw_authority",
        "request_target",
        "scheme",
        "target_uri",
    )

    def __init__(self, scheme: str, raw_authority: str, path: str, query: str | None) -> None:
        self.scheme = scheme
        self.raw_authority = raw_authority
        self.path = path
        self.query = query
        self.authority = _normalize_authority(scheme, raw_authority)
        self.request_target = path if query is None else f"{path}?{query}"
        self.target_uri = f"{scheme}://{raw_authority}{self.request_target}"


_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_URL_CHARS: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%#\[\]]*")


def _normalize_authority(scheme: str, authority: str) -> str:
    host, port = authority, ""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise MalformedSignatureError("bad IPv6 literal in the target URI")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise MalformedSignatureError("bad authority in the target URI")
            port = rest[1:]
    elif ":" in authority:
        host, _, port = authority.rpartition(":")
    if port and not port.isdigit():
        raise MalformedSignatureError("bad port in the target URI")
    port = port.lstrip("0") or ("0" if port else "")
    if not host:
        raise MalformedSignatureError("the target URI has no host")
    host = host.lower()
    if not port or _DEFAULT_PORTS.get(scheme) == port:
        return host
    return f"{host}:{port}"


def split_url(url: str) -> Url:
    """Split an absolute URL; the fragment and any userinfo are dropped."""
    if len(url) > MAX_FIELD_LENGTH:
        raise MalformedSignatureError("target URI too long")
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.isascii() or not scheme.isalpha():
        raise MalformedSignatureError(f"not an absolute URL: {url[:100]!r}")
    if _URL_CHARS.fullmatch(rest) is None:
        raise MalformedSignatureError("the target URI has characters that must be percent-encoded")
    rest = rest.partition("#")[0]
    cut = len(rest)
    for ch in "/?":
        i = rest.find(ch)
        if 0 <= i < cut:
            cut = i
    authority, rest = rest[:cut], rest[cut:]
    authority = authority.rpartition("@")[2]
    path, qmark, query = rest.partition("?")
    return Url(scheme.lower(), authority, path or "/", query if qmark else None)


# -- component identifiers -----------------------------------------------------

#: Derived components supported for requests (RFC 9421 §2.2).
DERIVED_COMPONENTS: Final = frozenset(
    {
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@query-param",
    }
)
_FIELD_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")


class Component:
    """A component identifier: a lowercase name and its parameters.

    ``text`` is its canonical serialisation as it appears in
    ``Signature-Input`` and at the start of its signature base line.
    """

    __slots__ = ("identity", "name", "params", "text")

    def __init__(self, name: str, params: Params = ()) -> None:
        if name.startswith("@"):
            if name not in DERIVED_COMPONENTS:
                raise MalformedSignatureError(f"unsupported derived component {name!r}")
            if name == "@query-param":
                if len(params) != 1 or params[0][0] != "name" or type(params[0][1]) is not str:
                    raise MalformedSignatureError('@query-param needs exactly one string "name"')
            elif params:
                raise MalformedSignatureError(f"{name} takes no parameters")
        else:
            if _FIELD_NAME.fullmatch(name) is None:
                raise MalformedSignatureError(
                    f"component name {name[:100]!r} is not a lowercase field name"
                )
            keys = {k for k, _ in params}
            if len(keys) != len(params):
                raise MalformedSignatureError(f"repeated parameter on component {name!r}")
            if keys - {"sf", "key", "bs"}:
                raise MalformedSignatureError(
                    f"unsupported parameters {sorted(keys - {'sf', 'key', 'bs'})} on {name!r}"
                )
            for k, v in params:
                if (k == "key" and type(v) is not str) or (k != "key" and v is not True):
                    raise MalformedSignatureError(f"bad value for parameter {k!r} on {name!r}")
            if "bs" in keys and len(keys) > 1:
                raise MalformedSignatureError("'bs' cannot be combined with 'sf' or 'key'")
        self.name = name
        self.params = params
        self.text = serialize_bare(name) + serialize_params(params) if params else f'"{name}"'
        self.identity = (name, frozenset(params)) if params else name

    def __repr__(self) -> str:
        return f"Component({self.text})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Component) and self.identity == other.identity

    def __hash__(self) -> int:
        return hash(self.identity)


_COMPONENT_CACHE: dict[str, Component] = {}


def parse_component(spec: str | Component) -> Component:
    """Read ``"@method"``, ``@method``, ``content-type`` or ``"@query-param";name="x"``."""
    if isinstance(spec, Component):
        return spec
    cached = _COMPONENT_CACHE.get(spec)
    if cached is not None:
        return cached
    text = spec.strip()
    if text.startswith('"'):
        value, pos = _parse_bare(text, 0)
        if type(value) is not str:
            raise MalformedSignatureError(f"bad component identifier {spec!r}")
        name = value
    else:
        head, sep, tail = text.partition(";")
        name = head.strip()
        if not name.startswith("@"):
            name = name.lower()
        text = name + sep + tail
        pos = len(name)
    params, pos = _parse_params(text, pos)
    if pos != len(text):
        raise MalformedSignatureError(f"bad component identifier {spec!r}")
    component = Component(name, params)
    if len(_COMPONENT_CACHE) < 1024:
        _COMPONENT_CACHE[spec] = component
    return component


# -- component values ----------------------------------------------------------

# HTML's application/x-www-form-urlencoded percent-encode set keeps only
# alphanumerics and "*-._"; quote() always keeps "~" too, so it is fixed after.
_FORM_SAFE: Final = "*-._"


def _query_param(url: Url, encoded_name: str) -> str:
    wanted = unquote_plus(encoded_name)
    found: list[str] = []
    for pair in (url.query or "").split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        if unquote_plus(raw_name) == wanted:
            found.append(raw_value)
    if not found:
        raise MissingComponentError(f"query parameter {wanted!r} is absent from the target URI")
    if len(found) > 1:
        raise MalformedSignatureError(f"query parameter {wanted!r} occurs more than once")
    return quote(unquote_plus(found[0]), safe=_FORM_SAFE).replace("~", "%7E")


_OBS_FOLD: Final = re.compile(r"[ \t]*\r\n[ \t]+")


def unfold(value: str) -> str:
    """Replace obsolete line folding with one space (RFC 9421 §2.1); refuse bare breaks."""
    value = _OBS_FOLD.sub(" ", value)
    if "\n" in value or "\r" in value:
        raise MalformedSignatureError("a covered field value contains a line break")
    return value


def _field_value(component: Component, headers: Mapping[str, str], raw: Headers | None) -> str:
    name = component.name
    value = headers.get(name)
    if value is None:
        if name == "content-digest":
            raise MissingDigestError("content-digest is covered but the request has none")
        raise MissingComponentError(f"covered field {name!r} is absent from the request")
    if "\n" in value or "\r" in value:
        value = unfold(value)
    if not component.params:
        return value
    params = dict(component.params)
    if "bs" in params:
        lines = _field_lines(name, raw) if raw is not None else [value]
        parts = []
        for line in lines:
            try:
                data = line.encode("latin-1")
            except UnicodeEncodeError:
                data = line.encode("utf-8")
            parts.append(serialize_bare(data))
        return ", ".join(parts)
    members = parse_dictionary(value, name=name)
    if "key" in params:
        wanted = params["key"]
        chosen: Member | None = None
        for key, member in members:
            if key == wanted:
                chosen = member  # RFC 8941: the last occurrence wins
        if chosen is None:
            raise MissingComponentError(f"field {name!r} has no member {wanted!r}")
        return _serialize_member(*chosen)
    merged: dict[str, Member] = {}
    for key, member in members:
        merged[key] = member
    return serialize_dictionary(merged.items())


def _field_lines(name: str, raw: Headers) -> list[str]:
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [unfold(v.strip(" \t")) for k, v in items if k.lower() == name]


def component_value(
    component: Component,
    method: str,
    url: Url | None,
    headers: Mapping[str, str],
    raw_headers: Headers | None = None,
) -> str:
    """The value of ``component`` for a request (RFC 9421 §2.1, §2.2)."""
    name = component.name
    if not name.startswith("@"):
        return _field_value(component, headers, raw_headers)
    if name == "@method":
        return method
    if url is None:
        raise MissingComponentError(f"{name} needs the target URI")
    if name == "@target-uri":
        return url.target_uri
    if name == "@authority":
        return url.authority
    if name == "@path":
        return url.path
    if name == "@query":
        return "?" + (url.query or "")
    if name == "@request-target":
        return url.request_target
    if name == "@scheme":
        return url.scheme
    # @query-param (Component validated the name parameter)
    return _query_param(url, str(component.params[0][1]))
