"""HTTP Message Signatures (RFC 9421) for ActivityPub requests.

Verification is split in two so that an inbox can fetch the signer's key
asynchronously in between; this module itself never performs I/O::

    sigs = parse_signatures(request.headers)        # MalformedSignatureError
    sig = select_signature(sigs)                    # or label="sig1"
    key = await fetch_actor_key(sig.keyid)          # the caller's I/O
    result = verify(sig, key, method=request.method, url=public_url,
                    headers=request.headers, body=body)
    # result.keyid names the key: check its owner is the activity's actor.

``url`` must be the URL the *sender* addressed (scheme and host as seen from
outside any reverse proxy), since ``@target-uri`` and ``@authority`` are
derived from it.

Signing returns the headers to add::

    extra = sign_request("POST", inbox_url, headers, body, key, key_id)
    # {"Content-Digest": ..., "Signature-Input": ..., "Signature": ...}

By default a signature covers ``@method`` and ``@target-uri``, plus
``content-digest`` for POST/PUT/PATCH or any non-empty body, and carries
``created`` and ``keyid``: what Mastodon requires of RFC 9421 signatures.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, TypeAlias

from cryptography.exceptions import InvalidSignature

from activitypub.errors import (
    AlgorithmMismatchError,
    ClockSkewError,
    DigestMismatchError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    SignatureExpiredError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import ALGORITHMS, PrivateKey, PublicKey
from activitypub.signatures.digest import verify_content_digest
from activitypub.signatures.rfc9421_components import (
    MAX_FIELD_LENGTH,
    BareItem,
    Component,
    Headers,
    Item,
    Params,
    Url,
    _header_index,
    _pick_fields,
    component_value,
    normalize_headers,
    parse_component,
    parse_dictionary,
    parse_inner_list,
    serialize_bare,
    serialize_params,
    split_url,
)

__all__ = [
    "DEFAULT_COMPONENTS",
    "DEFAULT_POLICY",
    "Component",
    "SignatureInput",
    "VerifiedSignature",
    "VerifyPolicy",
    "has_signature",
    "parse_signatures",
    "select_signature",
    "sign_request",
    "signature_base",
    "verify",
    "verify_request",
]

#: Covered by default when signing, and required by default when verifying.
DEFAULT_COMPONENTS: Final = ("@method", "@target-uri")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_STRING_PARAMS: Final = frozenset({"keyid", "alg", "nonce", "tag"})
_INT_PARAMS: Final = frozenset({"created", "expires"})
_MAX_PARAMS: Final = 32
_KEY_RE: Final = re.compile(r"[a-z*][a-z0-9_\-.*]*")


@dataclass(slots=True)
class SignatureInput:
    """One signature of a request, parsed but not yet verified.

    ``keyid`` is what the caller resolves to a key before calling
    :func:`verify`. Nothing here is trustworthy until then.
    """

    label: str
    components: tuple[Component, ...]
    params: Params
    signature: bytes
    keyid: str | None = None
    alg: str | None = None
    created: int | None = None
    expires: int | None = None
    nonce: str | None = None
    tag: str | None = None
    #: Canonical serialisation of the inner list: the ``@signature-params`` value.
    signature_params: str = ""
    #: The covered component identifiers as serialised (``'"@method"'`` ...).
    component_ids: tuple[str, ...] = ()
    #: Component identities (names, or name and parameters), for coverage checks.
    identities: frozenset[object] = frozenset()
    #: Whether ``content-digest`` (with or without parameters) is covered.
    covers_digest: bool = False
    _coverage: _Coverage | None = field(default=None, repr=False, compare=False)

    def covers(self, component: str | Component) -> bool:
        """Whether ``component`` (``"@method"``, ``"content-digest"`` ...) is covered."""
        return parse_component(component).identity in self.identities


@dataclass(slots=True)
class VerifiedSignature:
    """A signature that verified. Check that ``keyid``'s owner is the actor."""

    label: str
    keyid: str | None
    alg: str
    components: tuple[str, ...]
    created: int | None
    expires: int | None
    nonce: str | None
    tag: str | None
    params: Params = field(default=())

    @property
    def key_id(self) -> str | None:
        """``keyid`` under the name the draft-cavage result uses, so callers treat both alike."""
        return self.keyid


@dataclass(frozen=True, slots=True)
class VerifyPolicy:
    """What a verifier demands beyond a correct signature.

    The time window follows the draft-cavage verifier of this package: a
    signature is refused when ``created`` is more than ``clock_skew`` seconds
    in the future, or when now is past its end of life plus ``clock_skew``.
    The end of life is ``expires``, else ``created + default_lifetime``, and
    never later than ``created + max_lifetime``.
    """

    #: Components every signature must cover (identifiers as in ``Signature-Input``).
    required_components: tuple[str, ...] = DEFAULT_COMPONENTS
    #: Require ``content-digest`` coverage on POST/PUT/PATCH and any non-empty body.
    require_content_digest: bool = True
    #: Check a covered ``content-digest`` against the body.
    verify_digest: bool = True
    require_keyid: bool = True
    require_created: bool = True
    clock_skew: int = 3600
    default_lifetime: int = 300
    max_lifetime: int = 12 * 3600
    #: Algorithms accepted; ``None`` accepts all four RFC 9421 asymmetric ones.
    algorithms: frozenset[str] | None = None
    #: Signature to verify when several are present (else the first, or ``tag``'s).
    label: str | None = None
    tag: str | None = None


DEFAULT_POLICY: Final = VerifyPolicy()

# -- parsing -------------------------------------------------------------------

_COMPONENT_CACHE: dict[tuple[str, Params], Component] = {}
_new_object: Final = object.__new__


def _component(name: str, params: Params) -> Component:
    cache_key = (name, params)
    component = _COMPONENT_CACHE.get(cache_key)
    if component is None:
        component = Component(name, params)
        if len(_COMPONENT_CACHE) < 4096:
            _COMPONENT_CACHE[cache_key] = component
    return component


class _Coverage:
    """What a covered-component list implies, computed once per distinct list."""

    __slots__ = (
        "components",
        "covers_digest",
        "field_names",
        "fields",
        "identities",
        "inner",
        "texts",
    )

    def __init__(self, components: tuple[Component, ...]) -> None:
        self.components = components
        self.texts = tuple(c.text for c in components)
        self.inner = " ".join(self.texts)
        self.identities = frozenset(c.identity for c in components)
        self.covers_digest = any(c.name == "content-digest" for c in components)
        #: For ``"@method" "@target-uri"`` then fields without parameters (what
        #: Mastodon and we sign): ``('\n"name": ', name)`` per field, for the
        #: short way of :func:`_base`; else ``None``.
        self.fields: tuple[tuple[str, str], ...] | None = None
        #: The names in ``fields``: all a verifier reads of the headers then.
        self.field_names: tuple[str, ...] | None = None
        names = [c.name for c in components]
        if names[:2] == ["@method", "@target-uri"] and not any(
            c.params or c.name[0] == "@" for c in components[2:]
        ):
            self.fields = tuple((f"\n{c.text}: ", c.name) for c in components[2:])
            self.field_names = tuple(c.name for c in components[2:])


def _build_coverage(label: str, members: tuple[Item, ...]) -> _Coverage:
    components: list[Component] = []
    identities: set[object] = set()
    for name, cparams in members:
        if type(name) is not str:
            raise MalformedSignatureError(f"Signature-Input {label!r}: components must be strings")
        component = _component(name, cparams)
        if component.identity in identities:
            raise MalformedSignatureError(
                f"Signature-Input {label!r}: component {component.text} repeated"
            )
        identities.add(component.identity)
        components.append(component)
    return _Coverage(tuple(components))


_COMPONENTS_CACHE: dict[tuple[Item, ...], _Coverage] = {}


def _coverage(label: str, members: tuple[Item, ...]) -> _Coverage:
    coverage = _COMPONENTS_CACHE.get(members)
    if coverage is None:
        coverage = _build_coverage(label, members)
        if len(_COMPONENTS_CACHE) < 512:
            _COMPONENTS_CACHE[members] = coverage
    return coverage


def has_signature(headers: Headers) -> bool:
    """Whether the request carries an RFC 9421 signature (a ``Signature-Input`` field)."""
    index = _header_index(headers)
    if index is not None:
        return "signature-input" in index
    items = headers.keys() if isinstance(headers, Mapping) else (k for k, _ in headers)
    return any(k.lower() == "signature-input" for k in items)


def parse_signatures(headers: Headers) -> list[SignatureInput]:
    """Every signature of a request, in ``Signature-Input`` order.

    Returns ``[]`` when neither ``Signature-Input`` nor ``Signature`` is
    present. Raises :class:`MalformedSignatureError` when either field is not a
    valid structured field, the labels of the two do not match, a component is
    not a string, is repeated or unsupported, or a parameter has the wrong type.
    """
    index = _header_index(headers)
    h = None if index is None else _pick_fields(headers, index, _SIGNATURE_FIELDS, {})
    return _parse_signatures(normalize_headers(headers) if h is None else h)


#: All that parsing reads of the headers.
_SIGNATURE_FIELDS: Final = ("signature-input", "signature")


# The usual Signature-Input: one member whose parameters are canonical Strings
# (no escapes) and Integers. It is read with two regular expressions; anything
# else goes through the general RFC 8941 parser, which gives the same result.
_ONE_INPUT: Final = re.compile(
    r' *([a-z*][a-z0-9_\-.*]*+)=(\((?:[^()"]++|"(?:[^"\\]++|\\.)*+")*+\))'
    r'((?:;[a-z*][a-z0-9_\-.*]*+=(?:"[\x20\x21\x23-\x5b\x5d-\x7e]*+"|(?:0|[1-9][0-9]{0,14}+)(?![0-9.])))*+)'
    r"[ \t]*"
)
_CANONICAL_PARAM: Final = re.compile(r';([a-z*][a-z0-9_\-.*]*+)=(?:"([^"]*)"|([0-9]+))')
_INNER_COVERAGE: dict[str, _Coverage] = {}
_findall_params: Final = _CANONICAL_PARAM.findall
_LABELS: dict[str, bool] = {}


# One parameter as _ONE_INPUT reads it: a String without escapes, or an Integer.
_ONE_PARAM: Final = re.compile(
    r";([a-z*][a-z0-9_\-.*]*+)="
    r'(?:"([\x20\x21\x23-\x5b\x5d-\x7e]*+)"|(0|[1-9][0-9]{0,14}+)(?![0-9.]))'
)


def _short_input(text: str) -> tuple[str, _Coverage, Params, str] | None:
    """What _ONE_INPUT reads from ``label=(inner list);params``, without running it,
    when the inner list is one seen before; ``None`` sends the text the long way.

    The inner list is the text up to the first ``)``: if that text is a cached
    (so well-formed) inner list, its closing parenthesis is outside any string,
    hence it is the inner list's end.
    """
    label, sep, rest = text.partition("=(")
    if not sep or not _valid_label(label):
        return None
    close = rest.find(")")
    if close < 0:
        return None
    coverage = _INNER_COVERAGE.get("(" + rest[: close + 1])
    if coverage is None:
        return None
    params_text = rest[close + 1 :]
    params: list[tuple[str, BareItem]] = []
    match = _ONE_PARAM.match
    pos, end = 0, len(params_text)
    while pos < end and params_text[pos] == ";":
        m = match(params_text, pos)
        if m is None:
            return None
        key, string, number = m.groups()
        params.append((key, string if number is None else int(number)))
        pos = m.end()
    if pos < end:
        if params_text[pos:].strip(" \t"):
            return None
        params_text = params_text[:pos]
    return label, coverage, tuple(params), params_text


def _valid_label(label: str) -> bool:
    """Whether ``label`` is a dictionary key; cached, since senders use a few (``sig1``)."""
    valid = _LABELS.get(label)
    if valid is None:
        valid = _KEY_RE.fullmatch(label) is not None
        if len(_LABELS) < 256 and len(label) < 64:
            _LABELS[label] = valid
    return valid


def _parse_signatures(h: Mapping[str, str]) -> list[SignatureInput]:
    inputs_text = h.get("signature-input")
    sigs_text = h.get("signature")
    if inputs_text is None and sigs_text is None:
        return []
    if inputs_text is None or sigs_text is None:
        raise MalformedSignatureError("Signature-Input and Signature must come together")
    if len(inputs_text) > MAX_FIELD_LENGTH or len(sigs_text) > MAX_FIELD_LENGTH:
        raise MalformedSignatureError("signature field too long")
    known = _INPUTS.get(inputs_text)
    if known is not None:
        # Signature-Input was parsed and checked before; only Signature is new.
        if len(known) == 1:
            # Usually `<its label>=:<base64>:`, what _signature_values reads first
            # (a label has no "=:", so this is its partition); else the general way.
            member = known[0]
            n = len(member[0])
            if (
                len(sigs_text) > n + 2  # the closing ":" is not the one of "=:"
                and sigs_text[-1] == ":"
                and sigs_text.startswith(member[0])
                and sigs_text.startswith("=:", n)
            ):
                try:
                    return [_bind_value(member, _a2b(sigs_text[n + 2 : -1], strict_mode=True))]
                except binascii.Error:
                    pass
        signatures = _signature_values(sigs_text)
        return _check_labels([_bind(member, signatures) for member in known], signatures)
    short = _short_input(inputs_text)
    fast = None if short is not None else _ONE_INPUT.fullmatch(inputs_text)
    inputs = (
        None
        if short is not None or fast is not None
        else parse_dictionary(inputs_text, name="Signature-Input")
    )
    signatures = _signature_values(sigs_text)
    out: list[SignatureInput] = []
    coverage: _Coverage | None
    if short is not None:
        label, coverage, params, params_text = short
        out.append(
            _signature_input(
                label, coverage, params, signatures, f"({coverage.inner}){params_text}"
            )
        )
    elif fast is not None:
        label, inner_text, params_text = fast.groups()
        coverage = _INNER_COVERAGE.get(inner_text)
        if coverage is None:
            coverage = _coverage(label, parse_inner_list(inner_text))
            if len(_INNER_COVERAGE) < 512:
                _INNER_COVERAGE[inner_text] = coverage
        params = tuple([(k, int(n) if n else v) for k, v, n in _findall_params(params_text)])
        out.append(
            _signature_input(
                label, coverage, params, signatures, f"({coverage.inner}){params_text}"
            )
        )
    else:
        assert inputs is not None
        for label, (members, params) in inputs:
            if any(sig.label == label for sig in out):
                raise MalformedSignatureError(f"label {label!r} repeated in Signature-Input")
            if not isinstance(members, tuple):
                raise MalformedSignatureError(f"Signature-Input {label!r} is not an inner list")
            coverage = _coverage(label, members)
            serialized = f"({coverage.inner}){serialize_params(params)}"
            out.append(_signature_input(label, coverage, params, signatures, serialized))
    _check_labels(out, signatures)
    if len(inputs_text) <= _INPUTS_KEY_MAX:
        _remember(inputs_text, tuple([_member_of(sig) for sig in out]))
    return out


def _check_labels(
    out: list[SignatureInput], signatures: Mapping[str, bytes]
) -> list[SignatureInput]:
    """``out``, unless ``Signature`` has labels that ``Signature-Input`` lacks."""
    if len(out) != len(signatures):
        extra = sorted(set(signatures) - {sig.label for sig in out})
        raise MalformedSignatureError(f"Signature labels {extra} have no Signature-Input")
    return out


def _signature_values(text: str) -> dict[str, bytes]:
    """The ``Signature`` field: label -> signature bytes."""
    signatures: dict[str, bytes] = {}
    # The usual single ``label=:base64:`` (padded) is read without the general
    # parser: strict base64 decoding refuses any other character, so a second
    # member or parameters make it fall through.
    label, sep, value_text = text.partition("=:")
    if sep and value_text[-1:] == ":" and _valid_label(label):
        try:
            signatures[label] = _a2b(value_text[:-1], strict_mode=True)
            return signatures
        except binascii.Error:
            pass
    for label, (value, _params) in parse_dictionary(text, name="Signature"):
        if label in signatures:
            raise MalformedSignatureError(f"label {label!r} repeated in Signature")
        if type(value) is not bytes:
            raise MalformedSignatureError(f"Signature {label!r} is not a byte sequence")
        signatures[label] = value
    return signatures


# One member of Signature-Input, parsed and checked, without its signature:
# (label, coverage, params, signature_params, keyid, alg, created, expires, nonce, tag).
_Member: TypeAlias = tuple[
    str,
    _Coverage,
    Params,
    str,
    str | None,
    str | None,
    int | None,
    int | None,
    str | None,
    str | None,
]

# Signature-Input texts seen lately -> their members. The value is a function of
# the text alone (no signature, no key, no time), so a repeat of the text, which a
# sender makes for every request within one second, skips the parse. Bounded;
# the oldest entry goes first, since ``created`` makes old texts useless.
_INPUTS: dict[str, tuple[_Member, ...]] = {}
_INPUTS_MAX: Final = 512
_INPUTS_KEY_MAX: Final = 1024


def _remember(text: str, members: tuple[_Member, ...]) -> None:
    if len(_INPUTS) >= _INPUTS_MAX:
        # Another thread may empty or change it meanwhile: then nothing to do.
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del _INPUTS[next(iter(_INPUTS))]
    _INPUTS[text] = members


def _member_of(sig: SignatureInput) -> _Member:
    assert sig._coverage is not None
    return (
        sig.label,
        sig._coverage,
        sig.params,
        sig.signature_params,
        sig.keyid,
        sig.alg,
        sig.created,
        sig.expires,
        sig.nonce,
        sig.tag,
    )


def _bind(member: _Member, signatures: Mapping[str, bytes]) -> SignatureInput:
    """The :class:`SignatureInput` of a checked member and its value in ``signatures``."""
    signature = signatures.get(member[0])
    if signature is None:
        raise MalformedSignatureError(f"Signature has no value for label {member[0]!r}")
    return _bind_value(member, signature)


def _bind_value(member: _Member, signature: bytes) -> SignatureInput:
    """The :class:`SignatureInput` of a checked member and its signature."""
    label, coverage, params, signature_params, keyid, alg, created, expires, nonce, tag = member
    # SignatureInput(...) without its keyword __init__: this is the verification hot path.
    sig: SignatureInput = _new_object(SignatureInput)
    sig.label = label
    sig.components = coverage.components
    sig.params = params
    sig.signature = signature
    sig.keyid = keyid
    sig.alg = alg
    sig.created = created
    sig.expires = expires
    sig.nonce = nonce
    sig.tag = tag
    sig.signature_params = signature_params
    sig.component_ids = coverage.texts
    sig.identities = coverage.identities
    sig.covers_digest = coverage.covers_digest
    sig._coverage = coverage
    return sig


def _signature_input(
    label: str,
    coverage: _Coverage,
    params: Params,
    signatures: Mapping[str, bytes],
    signature_params: str,
) -> SignatureInput:
    signature = signatures.get(label)
    if signature is None:
        raise MalformedSignatureError(f"Signature has no value for label {label!r}")
    keyid = alg = nonce = tag = None
    created = expires = None
    if len(params) > _MAX_PARAMS:
        raise MalformedSignatureError(f"Signature-Input {label!r}: too many parameters")
    if len(dict(params)) != len(params):
        raise MalformedSignatureError(f"Signature-Input {label!r}: a parameter is repeated")
    for key, value in params:
        if key in _INT_PARAMS:
            if type(value) is not int or value < 0:
                raise MalformedSignatureError(f"{key} must be a non-negative integer")
            if key == "created":
                created = value
            else:
                expires = value
        elif key in _STRING_PARAMS:
            if type(value) is not str:
                raise MalformedSignatureError(f"{key} must be a string")
            if key == "keyid":
                keyid = value
            elif key == "alg":
                alg = value
            elif key == "nonce":
                nonce = value
            else:
                tag = value
    member = (label, coverage, params, signature_params, keyid, alg, created, expires, nonce, tag)
    return _bind(member, signatures)


def select_signature(
    signatures: Sequence[SignatureInput], label: str | None = None, tag: str | None = None
) -> SignatureInput:
    """The signature named ``label`` (or the first, or the first with ``tag``).

    Raises :class:`MissingComponentError` when there is no such signature
    (including when the request is not signed at all).
    """
    for sig in signatures:
        if (label is None or sig.label == label) and (tag is None or sig.tag == tag):
            return sig
    if not signatures:
        raise MissingComponentError("the request carries no RFC 9421 signature")
    wanted = f"label {label!r}" if label is not None else f"tag {tag!r}"
    raise MissingComponentError(f"no signature with {wanted}")


# -- signature base ------------------------------------------------------------


_URL_CACHE: dict[str, Url] = {}


def _url(url: str) -> Url:
    parts = _URL_CACHE.get(url)
    if parts is None:
        parts = split_url(url)
        if len(_URL_CACHE) < 256:
            _URL_CACHE[url] = parts
    return parts


def _short_base(
    fields: tuple[tuple[str, str], ...],
    signature_params: str,
    method: str,
    url: str,
    h: Mapping[str, str],
) -> bytes | None:
    """:func:`_base` of ``"@method" "@target-uri"`` and plain fields, or ``None``
    when a field is absent or has a line break (the general way says why)."""
    parts = _URL_CACHE.get(url)
    target_uri = (_url(url) if parts is None else parts).target_uri
    base = f'"@method": {method}\n"@target-uri": {target_uri}'
    for line, name in fields:
        value = h.get(name)
        if value is None or "\n" in value or "\r" in value:
            return None
        base = base + line + value
    base = f'{base}\n"@signature-params": {signature_params}'
    if base.count("\n") != len(fields) + 2:
        raise MalformedSignatureError("a covered component value contains a line break")
    try:
        return base.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedSignatureError("a covered component value is not ASCII") from None


def _base(
    components: Iterable[Component],
    signature_params: str,
    method: str,
    url: str,
    h: Mapping[str, str],
    raw: Headers | None,
) -> bytes:
    parts: Url | None = None
    lines = []
    count = 0
    for component in components:
        name = component.name
        value: str | None
        if name == "@method":
            value = method
        elif name[0] == "@":
            if parts is None:
                parts = _URL_CACHE.get(url)
                if parts is None:
                    parts = split_url(url)
                    if len(_URL_CACHE) < 256:
                        _URL_CACHE[url] = parts
            value = (
                parts.target_uri
                if name == "@target-uri"
                else component_value(component, method, parts, h, raw)
            )
        else:
            value = None if component.params else h.get(name)
            if value is None or "\n" in value or "\r" in value:
                value = component_value(component, method, parts, h, raw)
        lines.append(f"{component.text}: {value}")
        count += 1
    lines.append(f'"@signature-params": {signature_params}')
    base = "\n".join(lines)
    if base.count("\n") != count:
        raise MalformedSignatureError("a covered component value contains a line break")
    try:
        return base.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedSignatureError("a covered component value is not ASCII") from None


def signature_base(sig: SignatureInput, *, method: str, url: str, headers: Headers) -> bytes:
    """The exact bytes signed (RFC 9421 §2.5), for debugging and tests."""
    return _base(
        sig.components, sig.signature_params, method, url, normalize_headers(headers), headers
    )


# -- verification --------------------------------------------------------------


def verify(
    signature: SignatureInput,
    key: PublicKey,
    *,
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None = None,
    policy: VerifyPolicy = DEFAULT_POLICY,
    algorithm: str | None = None,
    now: float | None = None,
) -> VerifiedSignature:
    """Verify one parsed signature with ``key``; raise unless it holds under ``policy``.

    ``body`` is the raw request body (``None`` is taken as empty): when
    ``content-digest`` is covered it is checked against it. ``algorithm`` is
    the algorithm the key is known to be for (from its metadata), if any; else
    the signature's ``alg`` or the key's default is used.

    Raises (all :class:`SignatureError`): ``MissingComponentError`` (a
    required component is not covered, or a covered field is absent),
    ``MalformedSignatureError``, ``ClockSkewError``, ``SignatureExpiredError``,
    ``UnsupportedAlgorithmError``, ``AlgorithmMismatchError``,
    ``MissingDigestError``, ``DigestMismatchError``, ``InvalidSignatureError``.
    """
    h = _covered_fields(signature, headers)
    return _verify(signature, key, method, url, h, headers, body, policy, algorithm, now)


def verify_request(
    key: PublicKey,
    *,
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None = None,
    policy: VerifyPolicy = DEFAULT_POLICY,
    algorithm: str | None = None,
    now: float | None = None,
) -> VerifiedSignature:
    """Parse, select (``policy.label`` / ``policy.tag``) and verify, when the key is at hand."""
    # The inbox hot path: for a plain dict of headers, only the fields read are
    # normalised (see _pick_fields); anything else goes through normalize_headers.
    index = _header_index(headers)
    if index is not None:
        key_input, key_sig = index.get("signature-input"), index.get("signature")
        if key_input is not None and key_sig is not None:
            inputs_text, sigs_text = headers[key_input], headers[key_sig]  # type: ignore[index]
            if inputs_text.__class__ is str and sigs_text.__class__ is str:
                h = {
                    "signature-input": inputs_text.strip(" \t"),
                    "signature": sigs_text.strip(" \t"),
                }
                sig = select_signature(_parse_signatures(h), policy.label, policy.tag)
                names = _read_fields(sig)
                # h can serve _verify once it has every field the signature covers.
                if names is not None and _pick_fields(headers, index, names, h) is not None:
                    return _verify(sig, key, method, url, h, headers, body, policy, algorithm, now)
                normalized = normalize_headers(headers)
                return _verify(
                    sig, key, method, url, normalized, headers, body, policy, algorithm, now
                )
    normalized = normalize_headers(headers)
    sig = select_signature(_parse_signatures(normalized), policy.label, policy.tag)
    return _verify(sig, key, method, url, normalized, headers, body, policy, algorithm, now)


def _read_fields(sig: SignatureInput) -> tuple[str, ...] | None:
    """Every field :func:`_verify` reads for ``sig``, when it covers ``@method``,
    ``@target-uri`` and plain fields (what Mastodon and we sign); else ``None``."""
    coverage = sig._coverage
    if coverage is None or coverage.components is not sig.components:
        return None
    names = coverage.field_names
    if names is None or (sig.covers_digest and "content-digest" not in names):
        return None
    return names


def _covered_fields(sig: SignatureInput, headers: Headers) -> Mapping[str, str]:
    """The normalised headers, or as much of them as :func:`_verify` reads for ``sig``."""
    names = _read_fields(sig)
    index = None if names is None else _header_index(headers)
    if names is not None and index is not None:
        h = _pick_fields(headers, index, names, {})
        if h is not None:
            return h
    return normalize_headers(headers)


_REQUIRED: dict[tuple[str, ...], tuple[Component, ...]] = {}
_DEFAULT_REQUIRED: Final = tuple(parse_component(c) for c in DEFAULT_COMPONENTS)


def _verify(
    sig: SignatureInput,
    key: PublicKey,
    method: str,
    url: str,
    h: Mapping[str, str],
    raw: Headers,
    body: bytes | None,
    policy: VerifyPolicy,
    algorithm: str | None,
    now: float | None,
) -> VerifiedSignature:
    # 1. coverage
    required: tuple[Component, ...] | None
    if policy.required_components is DEFAULT_COMPONENTS:
        required = _DEFAULT_REQUIRED
    else:
        required = _REQUIRED.get(policy.required_components)
    if required is None:
        required = _REQUIRED[policy.required_components] = tuple(
            parse_component(r) for r in policy.required_components
        )
    covered = sig.identities
    for component in required:
        if component.identity not in covered:
            raise MissingComponentError(f"the signature does not cover {component.text}")
    if (
        policy.require_content_digest
        and not sig.covers_digest
        and (body or method.upper() in _BODY_METHODS)
    ):
        raise MissingComponentError("the signature does not cover content-digest")
    # 2. parameters and time window
    if policy.require_keyid and sig.keyid is None:
        raise MalformedSignatureError("the signature has no keyid")
    created, expires = sig.created, sig.expires
    if policy.require_created and created is None:
        raise MalformedSignatureError("the signature has no created time")
    t = time.time() if now is None else now
    if created is not None and created > t + policy.clock_skew:
        raise ClockSkewError(f"signature created {created - t:.0f} s in the future")
    end: float | None = expires
    if created is not None:
        # min(expires or created + default, created + max), without the call.
        if end is None:
            end = created + policy.default_lifetime
        longest = created + policy.max_lifetime
        if longest < end:
            end = longest
    if end is not None and t > end + policy.clock_skew:
        raise SignatureExpiredError("the signature has expired")
    # 3. algorithm
    alg = sig.alg
    if algorithm is not None:
        if alg is not None and alg != algorithm:
            raise AlgorithmMismatchError(f"signature declares {alg!r}, key is for {algorithm!r}")
        alg = algorithm
    elif alg is None:
        alg = key.default_algorithm
    key_type = ALGORITHMS.get(alg)
    if key_type is None or (policy.algorithms is not None and alg not in policy.algorithms):
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {alg!r}")
    if key_type != key.type:
        raise AlgorithmMismatchError(f"algorithm {alg!r} cannot be used with a {key.type} key")
    # 4. signature base, body digest, then the signature itself
    coverage = sig._coverage
    data = None
    fields = None if coverage is None else coverage.fields
    if fields is not None and coverage is not None and coverage.components is sig.components:
        data = _short_base(fields, sig.signature_params, method, url, h)
    if data is None:
        data = _base(sig.components, sig.signature_params, method, url, h, raw)
    if policy.verify_digest and sig.covers_digest:
        _check_content_digest(h["content-digest"], body or b"")
    verifier = key._verifiers.get(alg)  # key.verify, less one call
    if verifier is None:
        key.verify(sig.signature, data, alg)  # raises the error for alg
    else:
        try:
            verifier(sig.signature, data)
        except InvalidSignature:
            raise InvalidSignatureError("signature does not verify") from None
    # VerifiedSignature(...) without its keyword __init__.
    verified: VerifiedSignature = _new_object(VerifiedSignature)
    verified.label = sig.label
    verified.keyid = sig.keyid
    verified.alg = alg
    verified.components = sig.component_ids
    verified.created = created
    verified.expires = expires
    verified.nonce = sig.nonce
    verified.tag = sig.tag
    verified.params = sig.params
    return verified


def _check_content_digest(value: str, body: bytes) -> None:
    """``digest.verify_content_digest``, with a fast path for one sha-256/sha-512 member."""
    if value[-1:] == ":" and len(value) > 9:
        head = value[:9]  # what partition("=:") gives for the two names
        factory = _sha256 if head == "sha-256=:" else _sha512 if head == "sha-512=:" else None
        if factory is not None:
            try:
                claimed = _a2b(value[9:-1], strict_mode=True)
            except ValueError:  # binascii.Error, or not ASCII
                claimed = b""
            expected = factory(body).digest()
            if len(claimed) == len(expected):
                if not _compare_digest(claimed, expected):
                    raise DigestMismatchError(f"Content-Digest {head[:7]} does not match the body")
                return
    verify_content_digest(value, body)  # every other shape, and its errors


# -- signing -------------------------------------------------------------------


def sign_request(
    method: str,
    url: str,
    headers: Headers,
    body: bytes | None,
    key: PrivateKey,
    key_id: str | None = None,
    *,
    components: Sequence[str | Component] | None = None,
    label: str = "sig1",
    created: int | None = None,
    expires: int | None = None,
    nonce: str | None = None,
    tag: str | None = None,
    alg: str | None = None,
    now: float | None = None,
) -> dict[str, str]:
    """Sign a request; return the headers to add to it.

    ``Content-Digest`` (SHA-256) is returned too when ``body`` is given and
    ``headers`` has none; an existing one must match the body. ``components``
    defaults to ``@method``, ``@target-uri`` and, on POST/PUT/PATCH or any
    non-empty body, ``content-digest``. ``alg``, when given, is used and
    declared in the signature; otherwise the key's default algorithm is used
    undeclared. ``key_id`` defaults to ``key.id``. ``created`` defaults to now.

    If the request already carries a signature, join ours to its
    ``Signature-Input``/``Signature`` values with ``", "`` (use another label).
    """
    key_id = key.id if key_id is None else key_id
    if key_id is None:
        raise ValueError("a key id is needed: pass key_id or give the key an id")
    # The default coverage reads no field but the content-digest made here
    # (``index`` is None for keys that are not all str, or twins by case).
    index = None if components is not None else _header_index(headers)
    out: dict[str, str]
    if (
        index is not None
        and "content-digest" not in index
        and alg is None
        and expires is None
        and nonce is None
        and tag is None
    ):
        template = _SIGN_TEMPLATES.get((method, url, key_id, label), _UNSEEN)
        if template is _UNSEEN:
            template = _sign_template(method, url, key_id, label)
        stamp = int(time.time() if now is None else now) if created is None else created
        if template is not None and type(stamp) is int and abs(stamp) <= 999_999_999_999_999:
            return template.sign(body, key, stamp)
    h: dict[str, str] = (
        {} if index is not None and "content-digest" not in index else normalize_headers(headers)
    )
    out = {}
    if body is not None:
        existing = h.get("content-digest")
        if existing is None:
            h["content-digest"] = out["Content-Digest"] = (
                f"sha-256=:{_b64(hashlib.sha256(body).digest())}:"
            )
        else:
            verify_content_digest(existing, body)
    if components is None:
        with_digest = body is not None and (bool(body) or method.upper() in _BODY_METHODS)
        components = _DEFAULT_WITH_DIGEST if with_digest else DEFAULT_COMPONENTS
    coverage = _sign_coverage(components)
    used_alg = key.default_algorithm if alg is None else alg
    if used_alg not in ALGORITHMS:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm {used_alg!r}")
    if ALGORITHMS[used_alg] != key.type:
        raise AlgorithmMismatchError(f"algorithm {used_alg!r} cannot be used with a {key.type} key")
    created = int(time.time() if now is None else now) if created is None else created
    if (
        alg is None
        and expires is None
        and nonce is None
        and tag is None
        and type(created) is int
        and abs(created) <= 999_999_999_999_999
    ):
        # What serialize_params makes of (created, keyid), the usual pair.
        params_text = f";created={created};keyid={_serialize_keyid(key_id)}"
    else:
        params: list[tuple[str, BareItem]] = [("created", created), ("keyid", key_id)]
        if alg is not None:
            params.append(("alg", alg))
        if expires is not None:
            params.append(("expires", expires))
        if nonce is not None:
            params.append(("nonce", nonce))
        if tag is not None:
            params.append(("tag", tag))
        params_text = serialize_params(tuple(params))
    signature_params = f"({coverage.inner}){params_text}"
    # The label must be a valid dictionary key (what parse_dictionary reads as
    # exactly ``label``, with no value or parameters).
    if len(label) > MAX_FIELD_LENGTH or not _valid_label(label):
        raise MalformedSignatureError(f"not a valid signature label: {label!r}")
    data = None
    if coverage.fields is not None:
        data = _short_base(coverage.fields, signature_params, method, url, h)
    if data is None:
        data = _base(coverage.components, signature_params, method, url, h, headers)
    signature = key.sign(data, used_alg)
    out["Signature-Input"] = f"{label}={signature_params}"
    out["Signature"] = f"{label}=:{_b64(signature)}:"
    return out


class _SignTemplate:
    """The usual signing of one (method, url, keyid, label), worked out once.

    Default coverage, ``created`` and ``keyid`` only, for a method of ASCII
    letters: split_url admits no line break nor other than ASCII and we make the
    rest, so the signature base needs no checks.
    """

    __slots__ = ("body_method", "head", "keyid_param", "label")

    def __init__(self, method: str, url: str, key_id: str, label: str) -> None:
        # The errors sign_request raises for these, in its order.
        self.keyid_param = f";keyid={_serialize_keyid(key_id)}"
        self.head = f'"@method": {method}\n"@target-uri": {_url(url).target_uri}\n'
        self.label = label
        self.body_method = method.upper() in _BODY_METHODS

    def sign(self, body: bytes | None, key: PrivateKey, created: int) -> dict[str, str]:
        """What ``sign_request`` returns for this template and ``created``."""
        if body is None:
            digest = None
            inner = _DEFAULT_INNER
        else:
            digest = f"sha-256=:{_b2a(_sha256(body).digest(), newline=False).decode()}:"
            inner = _DIGEST_INNER if body or self.body_method else _DEFAULT_INNER
        signature_params = f"{inner};created={created}{self.keyid_param}"
        if inner is _DIGEST_INNER:
            base = f'{self.head}"content-digest": {digest}\n"@signature-params": {signature_params}'
        else:
            base = f'{self.head}"@signature-params": {signature_params}'
        signature = key._signers[key._default](base.encode())  # key.sign(...), less a call
        label = self.label
        out = {} if digest is None else {"Content-Digest": digest}
        out["Signature-Input"] = f"{label}={signature_params}"
        out["Signature"] = f"{label}=:{_b2a(signature, newline=False).decode()}:"
        return out


# (method, url, keyid, label) -> its _SignTemplate, or None where the general way
# must sign (a method not of ASCII letters, an invalid label). Bounded; the
# oldest entry goes first.
_SIGN_TEMPLATES: dict[tuple[str, str, str, str], _SignTemplate | None] = {}
_SIGN_TEMPLATES_MAX: Final = 1024


def _sign_template(method: str, url: str, key_id: str, label: str) -> _SignTemplate | None:
    """The :class:`_SignTemplate` of these, made and kept, else ``None``.

    Raises what ``sign_request`` raises for the URL and the key id.
    """
    template: _SignTemplate | None = None
    # An invalid label: the general way raises its error, after those it checks first.
    if len(label) <= MAX_FIELD_LENGTH and _valid_label(label):
        made = _SignTemplate(method, url, key_id, label)
        template = made if method.isascii() and method.isalpha() else None
    if len(url) + len(key_id) + len(label) < 4096:
        if len(_SIGN_TEMPLATES) >= _SIGN_TEMPLATES_MAX:
            # Another thread may change it meanwhile: then nothing to do.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del _SIGN_TEMPLATES[next(iter(_SIGN_TEMPLATES))]
        _SIGN_TEMPLATES[method, url, key_id, label] = template
    return template


_DEFAULT_WITH_DIGEST: Final = (*DEFAULT_COMPONENTS, "content-digest")
_DEFAULT_INNER: Final = '("@method" "@target-uri")'
_DIGEST_INNER: Final = '("@method" "@target-uri" "content-digest")'
_b2a: Final = binascii.b2a_base64
_a2b: Final = binascii.a2b_base64
_sha256: Final = hashlib.sha256
_sha512: Final = hashlib.sha512
_compare_digest: Final = hmac.compare_digest
_SIGN_COVERAGE: dict[tuple[str | Component, ...], _Coverage] = {}


def _sign_coverage(components: Sequence[str | Component]) -> _Coverage:
    """The coverage of the components to sign; cached, since a signer repeats a few lists."""
    key = tuple(components)
    coverage = _SIGN_COVERAGE.get(key)
    if coverage is None:
        parsed = [parse_component(c) for c in components]
        if len({c.identity for c in parsed}) != len(parsed):
            raise MalformedSignatureError("a component is listed twice")
        coverage = _Coverage(tuple(parsed))
        if len(_SIGN_COVERAGE) < 256:
            _SIGN_COVERAGE[key] = coverage
    return coverage


@lru_cache(maxsize=256)
def _serialize_keyid(key_id: str) -> str:
    """``serialize_bare(key_id)``; cached, since a signer uses one or two key ids."""
    text: str = serialize_bare(key_id)
    return text


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


#: Marks a tuple not in _SIGN_TEMPLATES (a _SignTemplate: look-ups stay one type).
_UNSEEN: Final = _SignTemplate("GET", "https://unseen.invalid/", "unseen", "unseen")
