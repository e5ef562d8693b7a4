"""RFC 8785 JSON Canonicalization Scheme (JCS).

JCS is the canonical form ``eddsa-jcs-2022`` integrity proofs (FEP-8b32) hash:
object members sorted by the UTF-16 code units of their names, no
whitespace, strings with the minimal escaping of RFC 8785 section 3.2.2.2,
numbers written the way ECMAScript's ``Number.prototype.toString`` writes
them (``1e+21``, ``1e-7``, ``-0`` as ``0``).

The serialiser itself is Trail of Bits' ``rfc8785`` package (used by
sigstore-python); this module is the project's front door to it. It accepts
any ``Mapping``/``Sequence`` (not only ``dict``/``list``), bounds nesting,
reads integers the way RFC 8785 does, and turns every refusal into
:class:`~activitypub.errors.ParseError`.

Integers: RFC 8785 models every number as an IEEE 754 double, as a
JavaScript signer's ``JSON.parse`` does. Python's ``json`` reads ``1e20``'s
canonical form ``100000000000000000000`` back as an exact ``int``, which
``rfc8785`` alone would refuse (it accepts only ``|n| < 2**53``). So integers
outside that range are converted to ``float`` first: exact for every value
that came from a double, and rounded like JavaScript for the rest
(``2**53 + 1`` canonicalises as ``9007199254740992``). Values that need
more precision belong in strings.

Refused:

* ``NaN`` and infinities (Python's ``json`` module accepts them; JSON has none);
* integers too large for a double (beyond ~1.8e308);
* strings with lone surrogates (not encodable as UTF-8), non-string keys,
  and values that are not JSON (``bytes``, ``set``, ``datetime`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

import rfc8785

from activitypub.errors import ParseError

__all__ = ["MAX_DEPTH", "canonicalize"]

#: Deepest nesting of arrays/objects accepted. Real documents stay far below;
#: the bound keeps a crafted document from exhausting the interpreter stack.
MAX_DEPTH: Final = 256


def canonicalize(value: object) -> bytes:
    """The RFC 8785 canonical form of ``value``, as UTF-8 bytes.

    ``value`` is JSON data as ``json.loads`` returns it (``dict``, ``list``,
    ``str``, ``int``, ``float``, ``bool``, ``None``); other ``Mapping`` and
    ``Sequence`` types (tuples, ``MappingProxyType``) are accepted too.
    Raises :class:`ParseError` when ``value`` has no canonical form.
    """
    plain = _plain(value, 0)
    try:
        return rfc8785.dumps(plain)
    except rfc8785.CanonicalizationError as exc:
        raise ParseError(f"cannot canonicalize JSON: {exc}") from None
    except UnicodeError:
        # rfc8785 sorts keys by their UTF-16 encoding, which a lone surrogate breaks.
        raise ParseError("cannot canonicalize JSON: lone surrogate in a key") from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps us well clear
        raise ParseError("cannot canonicalize JSON: nested too deeply") from None


_Json: TypeAlias = "bool | int | float | str | list[_Json] | dict[str, _Json] | None"

_SCALARS: Final = (str, int, float, type(None))
_SAFE: Final = 2**53  # integers in (-2**53, 2**53) are exact doubles


def _plain(value: object, depth: int) -> _Json:
    """``value`` as dict/list/scalars only, checked for depth and key types."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_SAFE < value < _SAFE:
        try:
            return float(value)
        except OverflowError:
            raise ParseError("cannot canonicalize JSON: integer too large for a double") from None
    if isinstance(value, _SCALARS):  # bool is an int
        return value
    if depth >= MAX_DEPTH:
        raise ParseError(f"cannot canonicalize JSON: nested deeper than {MAX_DEPTH}")
    if isinstance(value, Mapping):
        out: dict[str, _Json] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParseError(f"cannot canonicalize JSON: non-string key {key!r}")
            out[key] = _plain(item, depth + 1)
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_plain(item, depth + 1) for item in value]
    raise ParseError(f"cannot canonicalize JSON: {type(value).__name__} is not a JSON value")
