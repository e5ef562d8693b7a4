"""The signing string: the exact bytes a draft-cavage signature covers (draft §2.3).

One line per covered name, ``name: value``. Values are stripped; a line break
inside a value is refused, since it would forge lines. For the lists real
senders use, a plain ``dict`` of headers is read by an f-string builder made
once per (dict shape, list); anything else, and every error, goes the general way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

from activitypub.errors import MalformedSignatureError, MissingComponentError
from activitypub.signatures.cavage._common import Headers
from activitypub.signatures.cavage._coverage import _Plan, _plan
from activitypub.signatures.cavage._fields import _clean, _header_getter, _lookup, _Shape
from activitypub.signatures.cavage._parse import SignatureParams

_Builder: TypeAlias = Callable[[str, str, dict[Any, Any]], str]
_strip: Final = str.strip  # raises TypeError for anything but a str


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
            values.append(_value(name, get, fallback_host))
        text = template.format(method, target, created, expires, *values)
    return _encode(text, plan.newlines)


def _value(name: str, get: Callable[[str], Any], fallback_host: str | None) -> str:
    """A signed header's value as it goes into the signing string."""
    value = get(name)
    if value is None:
        if name == "host" and fallback_host:
            return fallback_host.strip()
        raise MissingComponentError(f"signed header {name!r} is not in the request")
    if value.__class__ is not str:
        value = _clean(value)
    return str(value).strip()


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
            append(f"{name}: {_value(name, get, fallback_host)}")
        elif name == "(request-target)":
            append(f"(request-target): {method} {target}")
        elif name == "(created)":
            append(f"(created): {created}")
        elif name == "(expires)":
            append(f"(expires): {expires}")
        else:
            raise MalformedSignatureError(f"unknown pseudo-header {name[:40]!r}")
    return _encode("\n".join(lines), len(lines) - 1)


def _encode(text: str, newlines: int) -> bytes:
    """``text`` as bytes, refusing a line break inside a value (it would forge lines)."""
    if text.count("\n") != newlines or "\r" in text:
        raise MalformedSignatureError("a signed value contains a line break")
    try:
        return text.encode()
    except UnicodeEncodeError:
        pass
    try:  # servers decode raw header bytes with surrogateescape
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise MalformedSignatureError("header value is not encodable") from None
