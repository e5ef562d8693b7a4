"""Signing a request the way Mastodon does (:func:`sign_request`).

Mastodon's coverage, ``(request-target) host date [digest]``, is written as one
f-string with no plan look-up; other coverage goes through the general builder.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

from activitypub.errors import MalformedSignatureError
from activitypub.keys import KeyType, PrivateKey
from activitypub.signatures.cavage._common import (
    _BODY_METHODS,
    _CTL_RE,
    _KEY_ALGORITHM,
    CavageAlgorithm,
    Headers,
    _b2a_base64,
    _b64,
    _key_algorithm,
    _sha256,
)
from activitypub.signatures.cavage._coverage import _HEADER_LIST_RE, _plan
from activitypub.signatures.cavage._fields import (
    _SHAPES,
    _clean,
    _dict_shape,
    _header_getter,
    _Shape,
)
from activitypub.signatures.cavage._parse import _quote
from activitypub.signatures.cavage._signing_string import _build
from activitypub.signatures.cavage._time import _LAST_DATE, _format_http_date, _timestamp
from activitypub.signatures.digest import verify_digest

# Methods seen that are letters only (so hold no line break) -> lower case.
_LETTER_METHODS: dict[str, str] = {}

# The last body digested: a fan-out signs one body for many inboxes, and the
# body is hashed once. Keyed by the bytes object itself (held here, so no
# other object can have its identity); bytes are immutable.
_LAST_BODY: tuple[bytes, str] | None = None


def _body_digest(body: bytes) -> str:
    global _LAST_BODY
    last = _LAST_BODY
    if last is not None and last[0] is body:
        return last[1]
    digest = "SHA-256=" + _b2a_base64(_sha256(body).digest(), newline=False).decode("ascii")
    if body.__class__ is bytes:
        _LAST_BODY = (body, digest)
    return digest


_SIGN_PLAN: Final = _plan(("(request-target)", "host", "date"))
_SIGN_PLAN_BODY: Final = _plan(("(request-target)", "host", "date", "digest"))


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
    if (
        headers_to_sign is None
        and created is False
        and expires_in is None
        and type(headers) is dict
    ):
        known = _SHAPES.get(tuple(headers))
        if known is not None and known.sign_keys == _NONE_GIVEN:
            # What Mastodon sends, none of Date, Host, Digest given: the way below
            # in fewer steps, from what this (method, url, keyId) always gives.
            template = _TEMPLATES.get((method, url, key_id, algorithm, key.type), _UNSEEN)
            if template is _UNSEEN:
                template = _template(method, url, key_id, algorithm, key.type)
            if template is not None:
                return template.sign(body, key, now)
    key_algorithm = _KEY_ALGORITHM.get((algorithm, key.type))
    if key_algorithm is None:
        # The right error: UnknownSignatureAlgorithmError for an algorithm not
        # in CAVAGE_ALGORITHMS, else the mismatch with the key.
        key_algorithm = _key_algorithm(algorithm, key.type)
    host, target, url_clean = _url_parts(url)
    moment = time.time() if now is None else _timestamp(now)
    if body is None and method.upper() in _BODY_METHODS:
        body = b""

    get: Callable[[str], Any] | None = None
    shape: _Shape | None = None
    if type(headers) is dict:
        shape = _dict_shape(headers)
    if shape is not None:  # a plain dict: read it through its shape, no getter
        date_key, host_key, digest_key = shape.sign_keys
        date = None if date_key is None else headers[date_key]  # type: ignore[index]
        given_host = None if host_key is None else headers[host_key]  # type: ignore[index]
        digest = None if digest_key is None or body is None else headers[digest_key]  # type: ignore[index]
    else:
        get = _header_getter(headers)
        date = get("date")
        given_host = get("host")
        digest = None if body is None else get("digest")

    # Values we make are clean; given ones are stripped as _build would.
    added: dict[str, str] = {}
    made = url_clean  # every value signed so far is free of line breaks
    if date is None:
        seconds = int(moment)
        last = _LAST_DATE[0]
        date = added["Date"] = last[1] if last[0] == seconds else _format_http_date(seconds)
    else:
        date = (date if date.__class__ is str else _clean(date)).strip()
        made = False
    if given_host is None:
        host_value = added["Host"] = host
    else:
        if given_host.__class__ is not str:
            given_host = _clean(given_host)
        host_value = given_host.strip() if given_host else host
        made = False
    if body is not None:
        if digest is None:
            digest = added["Digest"] = _body_digest(body)
        else:
            if digest.__class__ is not str:
                digest = _clean(digest)
            verify_digest(digest, body)
            digest = digest.strip()
            made = False

    created_at: int | None = None
    expires_at: int | None = None
    lookup: Callable[[str], Any]
    if headers_to_sign is None and created is False and expires_in is None:
        # Mastodon's coverage, `(request-target) host date [digest]`: the
        # f-string is what _build makes.
        lowered = _LETTER_METHODS.get(method)
        if lowered is None:
            lowered = method.lower()
            if method.isalpha() and len(_LETTER_METHODS) < 64:
                _LETTER_METHODS[method] = lowered
        if body is not None:
            text = (
                f"(request-target): {lowered} {target}\n"
                f"host: {host_value}\ndate: {date}\ndigest: {digest}"
            )
            plan = _SIGN_PLAN_BODY
        else:
            text = f"(request-target): {lowered} {target}\nhost: {host_value}\ndate: {date}"
            plan = _SIGN_PLAN
        # A line break inside a value would forge lines; only given values and the
        # method can have one (a method of letters cannot).
        if not (made and method in _LETTER_METHODS) and (
            text.count("\n") != plan.newlines or "\r" in text
        ):
            raise MalformedSignatureError("a signed value contains a line break")
        try:
            data = text.encode()
        except UnicodeEncodeError:
            signed = {"host": host_value, "date": date, "digest": digest}
            data = _build(plan, lowered, target, signed.get, None, None)
        # key.sign, less one call: _KEY_ALGORITHM only gives an algorithm of the key's type.
        signature = _b2a_base64(key._signers[key_algorithm](data), newline=False).decode("ascii")
        added["Signature"] = f'{_signature_head(key_id, algorithm, plan.text)}{signature}"'
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


_NONE_GIVEN: Final = (None, None, None)


class _Template:
    """Mastodon's signing of one (method, url, keyId, algorithm, key type), worked out once.

    Only for requests that give none of Date, Host and Digest (``sign_request``
    checks), a method of letters and a URL without line breaks (``usable``):
    then every signed value is one made here, so the signing string needs no checks.
    """

    __slots__ = (
        "body_method",
        "dated",
        "head",
        "head_body",
        "host",
        "key_algorithm",
        "prefix",
        "usable",
    )

    def __init__(
        self, method: str, url: str, key_id: str, algorithm: str, key_type: KeyType
    ) -> None:
        # The errors sign_request raises for these, in its order.
        self.key_algorithm = _key_algorithm(algorithm, key_type)
        host, target, url_clean = _url_parts(url)
        self.head = _signature_head(key_id, algorithm, _SIGN_PLAN.text)
        self.head_body = _signature_head(key_id, algorithm, _SIGN_PLAN_BODY.text)
        self.host = host
        #: The signing string up to the value of date.
        self.prefix = f"(request-target): {method.lower()} {target}\nhost: {host}\ndate: "
        self.body_method = method.upper() in _BODY_METHODS
        self.usable = url_clean and method.isalpha()
        #: (second, its Date, the signing string up to the digest's value):
        #: the Date changes once a second, not once a request.
        self.dated: tuple[int, str, str] = (-1, "", "")
        if self.usable:
            try:
                self.prefix.encode()
            except UnicodeEncodeError:  # surrogates: the general way encodes them its way
                self.usable = False

    def sign(
        self, body: bytes | None, key: PrivateKey, now: float | datetime | None
    ) -> dict[str, str]:
        """What ``sign_request`` returns for this template."""
        seconds = int(time.time() if now is None else _timestamp(now))
        dated = self.dated
        if dated[0] != seconds:
            last = _LAST_DATE[0]
            date = last[1] if last[0] == seconds else _format_http_date(seconds)
            dated = self.dated = (seconds, date, f"{self.prefix}{date}\ndigest: ")
        date = dated[1]
        if body is None and not self.body_method:
            signature = key._signers[self.key_algorithm]((self.prefix + date).encode())
            return {
                "Date": date,
                "Host": self.host,
                "Signature": f'{self.head}{_b64(signature)}"',
            }
        digest = _body_digest(b"" if body is None else body)
        signature = key._signers[self.key_algorithm]((dated[2] + digest).encode())
        encoded = _b2a_base64(signature, newline=False).decode("ascii")  # _b64, inlined
        return {
            "Date": date,
            "Host": self.host,
            "Digest": digest,
            "Signature": f'{self.head_body}{encoded}"',
        }


# (method, url, keyId, algorithm, key type) -> its _Template, or None where the
# general way must sign. Bounded; the oldest entry goes first.
_TEMPLATES: dict[tuple[str, str, str, str, str], _Template | None] = {}
_TEMPLATES_MAX: Final = 1024


def _template(
    method: str, url: str, key_id: str, algorithm: str, key_type: KeyType
) -> _Template | None:
    """The usable :class:`_Template` of these, made and kept, else ``None``.

    Raises what ``sign_request`` raises for them (algorithm, URL, keyId).
    """
    made = _Template(method, url, key_id, algorithm, key_type)
    template = made if made.usable else None
    if len(url) + len(key_id) < 4096:
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            # Another thread may change it meanwhile: then nothing to do.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del _TEMPLATES[next(iter(_TEMPLATES))]
        _TEMPLATES[method, url, key_id, algorithm, key_type] = template
    return template


@lru_cache(maxsize=2048)
def _url_parts(url: str) -> tuple[str, str, bool]:
    """``(Host header value, request target, neither has a line break)`` of an
    absolute http(s) URL (``urlsplit`` drops line breaks; the flag makes sure)."""
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
    target = f"{path}?{parts.query}" if parts.query else path
    both = host + target
    return host, target, "\n" not in both and "\r" not in both


@lru_cache(maxsize=256)
def _signature_head(key_id: str, algorithm: str, names: str) -> str:
    """The ``Signature`` value up to its signature: ``...,headers="<names>",signature="``."""
    return f'{_signature_prefix(key_id, algorithm)}headers="{names}",signature="'


@lru_cache(maxsize=256)
def _signature_prefix(key_id: str, algorithm: str) -> str:
    """``keyId="...",algorithm="...",``; ``ValueError`` for a keyId with control characters."""
    if _CTL_RE.search(key_id):
        raise ValueError("keyId contains control characters")
    return f'keyId={_quote(key_id)},algorithm="{algorithm}",'


#: Marks a tuple not in _TEMPLATES (a _Template, so that look-ups stay one type).
_UNSEEN: Final = _Template("GET", "http://unseen.invalid/", "unseen", "hs2019", "ed25519")
