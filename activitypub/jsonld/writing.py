"""Building the ``@context`` of documents we send.

A document names exactly the contexts it uses: peers that do process JSON-LD
then fetch (or look up) nothing superfluous, and an LD signature covers the
same statements everywhere.

Contexts carried over from a received document (``remote``) keep that
document's order, and the result stays valid JSON-LD: some contexts
(Data Integrity, Multikey, DID) mark their terms ``@protected``, and a
processor rejects any later context that defines such a term differently
("tried to redefine a protected term").  So only one Data Integrity version
is ever named (v1 and v2 protect ``proof`` with different definitions), a
context that would redefine a protected term goes before the context
protecting it, and the inline object leaves protected terms alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from pyld import jsonld as pyld

from .contexts import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1,
    DATA_INTEGRITY_V2,
    EXTENSION_PREFIXES,
    EXTENSION_TERMS,
    MULTIKEY_V1,
    SECURITY_V1,
    bundled_context,
    bundled_file,
)
from .loader import DocumentLoader

__all__ = ["context_for", "integrity_context"]

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
    data_integrity: str | None = None,
    remote: Sequence[str] = (),
) -> list[Any] | str:
    """The ``@context`` for a document using ``terms`` (keys and type names).

    ActivityStreams always; security v1, Multikey and Data Integrity only when
    one of their terms is used; then one inline object with the extension
    terms used (and their prefixes) plus ``extra`` definitions, which carry
    over terms we do not know from a parsed document.  A bare string when
    ActivityStreams suffices.

    ``remote`` lists the context URLs of a received document whose terms the
    output still needs, in that document's order; they are kept in it, with
    ours placed where the document had them (else ActivityStreams first and
    the rest after).  ``data_integrity`` is the Data Integrity context to
    name: by default the one ``remote`` names, else v2; another version in
    ``remote`` is left out, as the two cannot both be active.
    """
    used = {t for t in terms if isinstance(t, str) and not t.startswith("@")}
    extra = dict(extra or {})
    if data_integrity is None:
        data_integrity = integrity_context(remote) or DATA_INTEGRITY_V2
    as_terms = _terms_of("activitystreams.jsonld")
    security = _terms_of("security-v1.jsonld")
    multikey = bool(used & _MULTIKEY_TRIGGERS)
    # a term the source defined inline keeps that definition: no context for it
    integrity = bool((used - extra.keys()) & _DATA_INTEGRITY_TRIGGERS)
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
    urls: list[str] = [AS_CONTEXT]
    if need_security:
        urls.append(SECURITY_V1)
    if multikey:
        urls.append(MULTIKEY_V1)
    if integrity:
        urls.append(data_integrity)
    if remote:
        urls = _arrange(remote, urls, data_integrity)
    protected = {term for url in urls for term in _protected(url)}
    context: list[Any] = list(urls)
    # A protected term keeps its definition: one of ours or the source's would
    # be refused, and in a valid source the protected definition was in force.
    inline = {k: v for k, v in inline.items() if k not in protected}
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


# -- carrying a received document's contexts over ------------------------------------

_INTEGRITY_FILES: Mapping[str, str] = MappingProxyType(
    {
        "data-integrity-v1.jsonld": DATA_INTEGRITY_V1,
        "data-integrity-v2.jsonld": DATA_INTEGRITY_V2,
    }
)
# Ours that a received document's list only positions: named only when needed.
_ON_DEMAND = frozenset({"activitystreams.jsonld", "security-v1.jsonld"})


def integrity_context(urls: Iterable[str]) -> str | None:
    """The Data Integrity context (canonical URL) first named in ``urls``, if any."""
    for url in urls:
        found = _INTEGRITY_FILES.get(bundled_file(url) or "")
        if found is not None:
            return found
    return None


def _key(url: str) -> str:
    """What identifies a context: its bundled copy (any spelling), else its URL."""
    return bundled_file(url) or url


def _arrange(remote: Sequence[str], ours: list[str], integrity: str) -> list[str]:
    """``remote`` in its order with ``ours`` merged in, valid as one ``@context``."""
    needed = {_key(url) for url in ours}
    integrity_file = bundled_file(integrity)
    listed: list[str] = []
    seen: set[str] = set()
    for url in remote:
        key = _key(url)
        if key in seen or (key in _ON_DEMAND and key not in needed):
            continue
        if key in _INTEGRITY_FILES and key != integrity_file:
            continue  # v1 and v2 both protect "proof", differently
        seen.add(key)
        listed.append(url)
    for url in ours:
        key = _key(url)
        if key not in seen:
            seen.add(key)
            if url == AS_CONTEXT:
                listed.insert(0, url)
            else:
                listed.append(url)
    return _protect(listed)


def _protect(urls: list[str]) -> list[str]:
    """``urls`` with no context redefining a term an earlier one protects.

    Such a context moves before the first context protecting a term it
    redefines (which then wins, as the protection meant); one that is itself
    protected cannot move without the same clash the other way, and is left
    out.  Contexts we do not bundle are taken as they come.
    """
    out: list[str] = []
    for url in urls:
        defined = _definitions(url)
        clash = [
            index
            for index, earlier in enumerate(out)
            if any(
                term in defined and defined[term] != definition
                for term, definition in _protected(earlier).items()
            )
        ]
        if not clash:
            out.append(url)
        elif not _protected(url):
            out.insert(clash[0], url)
    return out


_LOADER = DocumentLoader()  # bundled contexts only
_PROCESSOR = pyld.JsonLdProcessor()
_BOOKKEEPING = frozenset({"protected", "_prefix", "_term_has_colon"})
_NOTHING: Mapping[str, Mapping[str, Any]] = MappingProxyType({})


@cache
def _processed(url: str) -> tuple[Mapping[str, Mapping[str, Any]], frozenset[str]]:
    """The term definitions a bundled context makes on its own, as a processor
    compares them (IRIs expanded, protection aside), and the terms it protects.
    Nothing for a context we do not bundle."""
    if bundled_context(url) is None:
        return _NOTHING, frozenset()
    options = _LOADER.pyld_options()
    options["base"] = ""
    try:
        initial = _PROCESSOR.process_context(None, None, options)
        active = _PROCESSOR.process_context(initial, url, options)
    except pyld.JsonLdError:  # pragma: no cover - bundled contexts are valid
        return _NOTHING, frozenset()
    mappings: Mapping[str, Mapping[str, Any]] = active["mappings"]
    definitions = {
        term: MappingProxyType({k: v for k, v in d.items() if k not in _BOOKKEEPING})
        for term, d in mappings.items()
    }
    protected = frozenset(term for term, d in mappings.items() if d.get("protected"))
    return MappingProxyType(definitions), protected


def _definitions(url: str) -> Mapping[str, Mapping[str, Any]]:
    return _processed(url)[0]


@cache
def _protected(url: str) -> Mapping[str, Mapping[str, Any]]:
    """The terms ``url`` protects, with their definitions."""
    definitions, protected = _processed(url)
    return MappingProxyType({term: definitions[term] for term in protected})
