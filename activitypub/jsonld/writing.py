"""Building the ``@context`` of documents we send.

A document names exactly the contexts it uses: peers that do process JSON-LD
then fetch (or look up) nothing superfluous, and an LD signature covers the
same statements everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from .contexts import (
    AS_CONTEXT,
    DATA_INTEGRITY_V2,
    EXTENSION_PREFIXES,
    EXTENSION_TERMS,
    MULTIKEY_V1,
    SECURITY_V1,
)

__all__ = ["context_for"]

# Terms that only exist inside a typed node of these contexts (scoped contexts).
_DATA_INTEGRITY_TRIGGERS = frozenset({"proof", "DataIntegrityProof"})
_DATA_INTEGRITY_SCOPED = frozenset(
    {
        "challenge",
        "created",
        "cryptosuite",
        "domain",
        "expires",
        "nonce",
        "previousProof",
        "proofPurpose",
        "proofValue",
        "verificationMethod",
    }
)
_MULTIKEY_TRIGGERS = frozenset({"Multikey", "publicKeyMultibase", "secretKeyMultibase"})
_MULTIKEY_SCOPED = frozenset({"controller", "revoked", "expires", *_MULTIKEY_TRIGGERS})


@cache
def _terms_of(filename: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath("contexts").joinpath(filename).read_text()
    ctx = json.loads(text)["@context"]
    return frozenset(k for k in ctx if not k.startswith("@"))


def context_for(
    terms: Iterable[str],
    *,
    extra: Mapping[str, Any] | None = None,
    data_integrity: str = DATA_INTEGRITY_V2,
) -> list[Any] | str:
    """The ``@context`` for a document using ``terms`` (keys and type names).

    ActivityStreams always; security v1, Multikey and Data Integrity only when
    one of their terms is used; then one inline object with the extension
    terms used (and their prefixes) plus ``extra`` definitions, which carry
    over terms we do not know from a parsed document.  A bare string when
    ActivityStreams suffices.
    """
    used = {t for t in terms if isinstance(t, str) and not t.startswith("@")}
    extra = dict(extra or {})
    as_terms = _terms_of("activitystreams.jsonld")
    security = _terms_of("security-v1.jsonld")
    multikey = bool(used & _MULTIKEY_TRIGGERS)
    integrity = bool(used & _DATA_INTEGRITY_TRIGGERS)
    covered = set(as_terms)
    if multikey:
        covered |= _MULTIKEY_SCOPED
    if integrity:
        covered |= _DATA_INTEGRITY_SCOPED | _DATA_INTEGRITY_TRIGGERS
    need_security = False
    inline: dict[str, Any] = {}
    for term in sorted(used - covered):
        if term in extra:
            continue
        if ":" in term:
            _add_prefix(inline, term)
        elif term in EXTENSION_TERMS:
            inline[term] = EXTENSION_TERMS[term]
            _add_prefix(inline, _iri_of(EXTENSION_TERMS[term]))
        elif term in security:
            need_security = True
    for term, definition in extra.items():
        inline[term] = definition
        _add_prefix(inline, _iri_of(definition))
    context: list[Any] = [AS_CONTEXT]
    if need_security:
        context.append(SECURITY_V1)
    if multikey:
        context.append(MULTIKEY_V1)
    if integrity:
        context.append(data_integrity)
    if inline:
        prefixes = {k: v for k, v in inline.items() if k in EXTENSION_PREFIXES}
        context.append({**prefixes, **{k: v for k, v in inline.items() if k not in prefixes}})
    return context[0] if len(context) == 1 else context


def _iri_of(definition: Any) -> str:
    if isinstance(definition, Mapping):
        definition = definition.get("@id", "")
    return definition if isinstance(definition, str) else ""


def _add_prefix(inline: dict[str, Any], compact_iri: str) -> None:
    prefix, sep, rest = compact_iri.partition(":")
    if sep and not rest.startswith("//") and prefix in EXTENSION_PREFIXES:
        inline.setdefault(prefix, EXTENSION_PREFIXES[prefix])
