"""Who signed this request: HTTP signature verification with remote keys.

RFC 9421 when the request carries ``Signature-Input``, draft-cavage
otherwise. The key is fetched through the cache; when a cached key fails to
verify, the actor may have rotated it, so it is refetched once (as Mastodon
does) before the request is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from activitypub.errors import InvalidSignatureError, MissingComponentError
from activitypub.federation.http import Request
from activitypub.keys import PublicKey
from activitypub.signatures import cavage, rfc9421

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["SignedBy", "has_http_signature", "verify_http_signature"]


@dataclass(frozen=True, slots=True)
class SignedBy:
    """A verified request: ``owner`` is the actor that owns ``key_id``."""

    owner: str
    key_id: str
    scheme: str
    actor: dict[str, Any]


def has_http_signature(request: Request) -> bool:
    h = request.headers
    return "Signature-Input" in h or "Signature" in h or "Authorization" in h


@lru_cache(maxsize=8)
def _policies(window: float) -> tuple[cavage.VerificationPolicy, rfc9421.VerifyPolicy]:
    """One policy object per window: the verifiers cache their plans per policy."""
    return cavage.VerificationPolicy(clock_skew=window), rfc9421.VerifyPolicy(
        clock_skew=int(window)
    )


async def verify_http_signature(
    fed: Federation, request: Request, *, now: float | None = None
) -> SignedBy:
    """Verify ``request``'s signature; raises a SignatureError subclass (401)."""
    headers = request.headers
    check: Callable[[PublicKey], object]
    if "Signature-Input" in headers:  # case-insensitive: a CIMultiDictProxy
        sig = rfc9421.select_signature(rfc9421.parse_signatures(headers))
        if not sig.keyid:
            raise MissingComponentError("RFC 9421 signature without keyid")
        key_id, scheme = sig.keyid, "rfc9421"
        policy = _policies(fed.signature_window)[1]

        def check(key: PublicKey) -> object:
            return rfc9421.verify(
                sig,
                key,
                method=request.method,
                url=request.url,
                headers=headers,
                body=request.body,
                policy=policy,
                now=now,
            )
    else:
        params = cavage.signature_params(headers)
        key_id, scheme = params.key_id, "cavage"
        cpolicy = _policies(fed.signature_window)[0]

        def check(key: PublicKey) -> object:
            return cavage.verify_request(
                request.method,
                request.url,
                headers,
                request.body,
                key,
                params=params,
                policy=cpolicy,
                now=now,
            )

    remote = await fed.keys.key(key_id)
    try:
        check(remote.key)
    except InvalidSignatureError:
        if remote.fresh:
            raise
        remote = await fed.keys.key(key_id, refresh=True)  # the actor may have rotated keys
        check(remote.key)
    return SignedBy(remote.owner, key_id, scheme, remote.actor)
