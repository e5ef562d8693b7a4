"""Well-known JSON-LD contexts: URLs, bundled copies, and the Fediverse's extra terms.

Every context a real server names in ``@context`` is shipped as package data so
that reading a document never needs the network (see ``contexts/LICENSES.md``
for where each copy comes from).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

__all__ = [
    "DID_V1",
    "IDENTITY_V1",
    "AS_CONTEXT",
    "DATA_INTEGRITY_V1",
    "DATA_INTEGRITY_V2",
    "DEFAULT_CONTEXT",
    "EXTENSION_PREFIXES",
    "EXTENSION_TERMS",
    "LEMMY_CONTEXT",
    "MULTIKEY_V1",
    "SECURITY_V1",
    "SECURITY_V2",
    "WEBFINGER_CONTEXT",
    "bundled_context",
    "bundled_file",
]

AS_CONTEXT: Final = "https://www.w3.org/ns/activitystreams"
SECURITY_V1: Final = "https://w3id.org/security/v1"
SECURITY_V2: Final = "https://w3id.org/security/v2"
DATA_INTEGRITY_V1: Final = "https://w3id.org/security/data-integrity/v1"
DATA_INTEGRITY_V2: Final = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
WEBFINGER_CONTEXT: Final = "https://purl.archive.org/socialweb/webfinger"
LEMMY_CONTEXT: Final = "https://join-lemmy.org/context.json"
#: Mastodon canonicalises RsaSignature2017 options under this context.
IDENTITY_V1: Final = "https://w3id.org/identity/v1"
#: bovine puts the DID context on every document it sends.
DID_V1: Final = "https://www.w3.org/ns/did/v1"

_FILES: Final[Mapping[str, str]] = {
    AS_CONTEXT: "activitystreams.jsonld",
    SECURITY_V1: "security-v1.jsonld",
    SECURITY_V2: "security-v2.jsonld",
    DATA_INTEGRITY_V1: "data-integrity-v1.jsonld",
    DATA_INTEGRITY_V2: "data-integrity-v2.jsonld",
    MULTIKEY_V1: "multikey-v1.jsonld",
    WEBFINGER_CONTEXT: "webfinger.jsonld",
    LEMMY_CONTEXT: "lemmy-context.jsonld",
    IDENTITY_V1: "identity-v1.jsonld",
    DID_V1: "did-v1.jsonld",
    # Contexts Fedify preloads and sends (GoToSocial interaction policies, FEP-5711
    # inverse properties, controlled identifiers, FEP-ef61, Mastodon's namespace).
    "https://gotosocial.org/ns": "gotosocial-ns.jsonld",
    "https://w3id.org/fep/5711": "fep-5711.jsonld",
    "https://www.w3.org/ns/cid/v1": "cid-v1.jsonld",
    "https://w3id.org/fep/ef61": "fep-ef61.jsonld",
    "https://joinmastodon.org/ns": "mastodon-ns.jsonld",
    "https://purl.archive.org/miscellany": "miscellany.jsonld",
}

# Contexts served per instance: Pleroma/Akkoma publish LitePub on every host,
# Mbin publishes its context at /contexts on every host.
_PER_HOST: Final = (
    (re.compile(r"https?://[^/?#]+/schemas/litepub-0\.1\.jsonld"), "litepub-0.1.jsonld"),
    (re.compile(r"https?://[^/?#]+/contexts"), "mbin-contexts.jsonld"),
)

# Same document under another spelling: http/https, a ".jsonld" suffix.
_SPELLING = re.compile(r"^https?://(?P<rest>[^?#]*?)(?:\.jsonld)?$")


def bundled_file(url: str) -> str | None:
    """Name of the package-data file holding ``url``'s context, or None."""
    m = _SPELLING.match(url)
    if m is not None:
        canonical = "https://" + m["rest"]
        name = _FILES.get(canonical)
        if name is not None:
            return name
    for pattern, name in _PER_HOST:
        if pattern.fullmatch(url):
            return name
    return None


@cache
def _read(name: str) -> Any:
    text = resources.files(__package__).joinpath("contexts").joinpath(name).read_text("utf-8")
    return json.loads(text)


def bundled_context(url: str) -> Any | None:
    """The parsed context document for ``url`` if bundled (shared: do not mutate)."""
    name = bundled_file(url)
    return None if name is None else _read(name)


EXTENSION_PREFIXES: Final[Mapping[str, str]] = {
    "toot": "http://joinmastodon.org/ns#",
    "schema": "http://schema.org#",
    "ostatus": "http://ostatus.org#",
    "litepub": "http://litepub.social/ns#",
    "lemmy": "https://join-lemmy.org/ns#",
    "pt": "https://joinpeertube.org/ns#",
    "misskey": "https://misskey-hub.net/ns#",
    "fedibird": "http://fedibird.com/ns#",
    "gts": "https://gotosocial.org/ns#",
}

_ID = "@id"
_T = "@type"

# Definitions copied (as facts) from the contexts these servers publish, so
# expanding with them yields the servers' own triples.  Terms already in the
# ActivityStreams context (Dislike, audience, alsoKnownAs, ...) are not here.
EXTENSION_TERMS: Final[Mapping[str, Any]] = {
    **EXTENSION_PREFIXES,
    # ActivityStreams terms in the as: namespace that the AS context lacks
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "movedTo": {_ID: "as:movedTo", _T: "@id"},
    "quoteUrl": "as:quoteUrl",
    # Mastodon
    "featured": {_ID: "toot:featured", _T: "@id"},
    "featuredTags": {_ID: "toot:featuredTags", _T: "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "suspended": "toot:suspended",
    "memorial": "toot:memorial",
    "attributionDomains": {_ID: "toot:attributionDomains", _T: "@id"},
    "Emoji": "toot:Emoji",
    "focalPoint": {"@container": "@list", _ID: "toot:focalPoint"},
    "blurhash": "toot:blurhash",
    "votersCount": "toot:votersCount",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "atomUri": "ostatus:atomUri",
    "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
    "conversation": "ostatus:conversation",
    "Device": "toot:Device",
    "Ed25519Signature": "toot:Ed25519Signature",
    "Ed25519Key": "toot:Ed25519Key",
    "Curve25519Key": "toot:Curve25519Key",
    "EncryptedMessage": "toot:EncryptedMessage",
    "publicKeyBase64": "toot:publicKeyBase64",
    "deviceId": "toot:deviceId",
    "claim": {_T: "@id", _ID: "toot:claim"},
    "fingerprintKey": {_T: "@id", _ID: "toot:fingerprintKey"},
    "identityKey": {_T: "@id", _ID: "toot:identityKey"},
    "devices": {_T: "@id", _ID: "toot:devices"},
    "messageFranking": "toot:messageFranking",
    "messageType": "toot:messageType",
    "cipherText": "toot:cipherText",
    # quote posts (Mastodon 4.4, FEP-044f) and GoToSocial interaction policies
    "quote": {_ID: "https://w3id.org/fep/044f#quote", _T: "@id"},
    "quoteAuthorization": {_ID: "https://w3id.org/fep/044f#quoteAuthorization", _T: "@id"},
    "quoteUri": "fedibird:quoteUri",
    "interactionPolicy": {_ID: "gts:interactionPolicy", _T: "@id"},
    "canQuote": {_ID: "gts:canQuote", _T: "@id"},
    "automaticApproval": {_ID: "gts:automaticApproval", _T: "@id"},
    "manualApproval": {_ID: "gts:manualApproval", _T: "@id"},
    # Misskey and forks
    "_misskey_content": "misskey:_misskey_content",
    "_misskey_quote": "misskey:_misskey_quote",
    "_misskey_summary": "misskey:_misskey_summary",
    "_misskey_reaction": "misskey:_misskey_reaction",
    "isCat": "misskey:isCat",
    # Pleroma / Akkoma (LitePub)
    "directMessage": "litepub:directMessage",
    "ChatMessage": "litepub:ChatMessage",
    "EmojiReact": "litepub:EmojiReact",
    "invisible": "litepub:invisible",
    "listMessage": {_ID: "litepub:listMessage", _T: "@id"},
    "capabilities": "litepub:capabilities",
    # Lemmy (join-lemmy.org/context.json; it binds "sc" to http://schema.org/)
    "postingRestrictedToMods": "lemmy:postingRestrictedToMods",
    "moderators": {_T: "@id", _ID: "lemmy:moderators"},
    "stickied": "lemmy:stickied",
    "distinguished": "lemmy:distinguished",
    "matrixUserId": "lemmy:matrixUserId",
    "removeData": "lemmy:removeData",
    "commentsEnabled": "pt:commentsEnabled",
    "expires": "as:endTime",
    "language": "http://schema.org/inLanguage",
    "identifier": "http://schema.org/identifier",
    # FEP-2c59 (webfinger address of an actor)
    "webfinger": {
        _ID: "https://purl.archive.org/socialweb/webfinger#webfinger",
        _T: "http://www.w3.org/2001/XMLSchema#string",
    },
    # FEP-521a: keys listed on the actor (values typed Multikey)
    "assertionMethod": {
        _ID: "https://w3id.org/security#assertionMethod",
        _T: "@id",
        "@container": "@set",
    },
}

# What a document without "@context" is read as: what its sender most likely
# meant (Lemmy's test documents and some relays omit the context).
DEFAULT_CONTEXT: Final[list[Any]] = [AS_CONTEXT, SECURITY_V1, dict(EXTENSION_TERMS)]
