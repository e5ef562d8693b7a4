"""Verifying a received request (:func:`verify_request`) under a :class:`VerificationPolicy`.

This is the inbox hot path, so :func:`verify_request` is one straight function
that inlines the common cases of parsing and of the signing string; every
uncommon case, and every error, is left to the general functions it inlines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeAlias

from cryptography.exceptions import InvalidSignature

from activitypub.errors import (
    ClockSkewError,
    InvalidSignatureError,
    MalformedSignatureError,
    MissingComponentError,
    SignatureExpiredError,
    UnsupportedAlgorithmError,
)
from activitypub.keys import PublicKey
from activitypub.signatures import digest as _digest
from activitypub.signatures.cavage._common import (
    _KEY_ALGORITHM,
    CAVAGE_ALGORITHMS,
    CavageAlgorithm,
    Headers,
    _b2a_base64,
    _compare_digest,
    _key_algorithm,
    _sha256,
)
from activitypub.signatures.cavage._coverage import _plan
from activitypub.signatures.cavage._fields import (
    _clean,
    _dict_shape,
    _find_header,
    _header_getter,
    _lookup,
    _Shape,
)
from activitypub.signatures.cavage._parse import SignatureParams, _known_head, _parse
from activitypub.signatures.cavage._signing_string import _build, _split_target
from activitypub.signatures.cavage._time import _parse_http_date, _timestamp
from activitypub.signatures.digest import verify_content_digest, verify_digest


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


class _Draft:
    """A :class:`VerifiedSignature` under construction: the same slots, but writable.

    Filled in with plain attribute stores, then given its real class by
    ``__class__`` assignment (allowed between classes of one slot layout): a third
    of the cost of six frozen-slot descriptor calls on the verification hot path.
    """

    __slots__ = VerifiedSignature.__slots__


KeySource: TypeAlias = PublicKey | Callable[[str], PublicKey]

# Method -> (upper case, lower case): coverage rules use one, the signing string the other.
_METHOD_CASES: dict[str, tuple[str, str]] = {}


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
        known = _known_head(header)  # _parse's first case
        if known is not None:
            (key_id, algorithm, plan), signature = known
            created_param = expires_param = expires_text = None
        else:
            key_id, algorithm, plan, signature, created_param, expires_param, expires_text = _parse(
                header
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
    cases = _METHOD_CASES.get(method)
    if cases is None:
        cases = (method.upper(), method.lower())
        if len(_METHOD_CASES) < 64 and method.__class__ is str and len(method) < 32:
            _METHOD_CASES[method] = cases
    method_upper, method_lower = cases
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
        # An inbox checks the body's digest before the signature: verify_digest
        # remembers the last good (header text, body object), so this need not hash
        # the body again. Read only: this check itself records nothing.
        good = _digest._LAST_GOOD
        if good is not None and good[1] is body and good[0] == digest:
            pass
        elif digest.__class__ is not str or not (
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
    # _build's f-string way, inline: the builder of this shape and plan, then the
    # same checks; anything else (including every error) through _build itself.
    builder = None if shape is None else shape.builders.get(plan)
    text = None
    if builder is not None:
        try:
            text = builder(method_lower, full, headers)  # type: ignore[arg-type]
        except TypeError:
            text = None
    data = None
    if text is not None and text.count("\n") == plan.newlines and "\r" not in text:
        try:
            data = text.encode()  # what _build returns, unless there are surrogates
        except UnicodeEncodeError:
            data = None
    if data is None:
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
    verified: Any = _Draft()
    verified.key_id = key_id
    verified.algorithm = algorithm
    verified.headers = plan.names
    verified.created = creation
    verified.expires = expiry
    verified.key = public_key
    verified.__class__ = VerifiedSignature
    result: VerifiedSignature = verified
    return result
