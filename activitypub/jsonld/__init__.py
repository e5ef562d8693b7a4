"""JSON-LD where a document needs it, and offline.

pyld is slow (about a millisecond to expand a Mastodon post, three to compact
it), so the vocabulary reads usual documents straight from their compact JSON
and comes here only for the rest: ``needs_compaction``/``normalize`` decide and
convert, ``canonicalize`` serves Linked Data signatures.  All processing uses
contexts bundled with the package; remote contexts are refused unless the
application prefetches them through its own HTTP client
(``DocumentLoader.prefetch``).
"""

from __future__ import annotations

from .contexts import (
    AS_CONTEXT,
    DATA_INTEGRITY_V1,
    DATA_INTEGRITY_V2,
    DEFAULT_CONTEXT,
    EXTENSION_PREFIXES,
    EXTENSION_TERMS,
    IDENTITY_V1,
    LEMMY_CONTEXT,
    MULTIKEY_V1,
    SECURITY_V1,
    SECURITY_V2,
    WEBFINGER_CONTEXT,
    bundled_context,
)
from .loader import DocumentLoader, Fetch, default_loader
from .processing import DEFAULT_TIMEOUT, canonicalize, compact, expand, to_nquads
from .reading import is_usual_context, needs_compaction, normalize
from .writing import context_for

__all__ = [
    "IDENTITY_V1",
    "AS_CONTEXT",
    "DATA_INTEGRITY_V1",
    "DATA_INTEGRITY_V2",
    "DEFAULT_CONTEXT",
    "DEFAULT_TIMEOUT",
    "EXTENSION_PREFIXES",
    "EXTENSION_TERMS",
    "LEMMY_CONTEXT",
    "MULTIKEY_V1",
    "SECURITY_V1",
    "SECURITY_V2",
    "WEBFINGER_CONTEXT",
    "DocumentLoader",
    "Fetch",
    "bundled_context",
    "canonicalize",
    "compact",
    "context_for",
    "default_loader",
    "expand",
    "is_usual_context",
    "needs_compaction",
    "normalize",
    "to_nquads",
]
