"""Forwarded activities: signed over HTTP by one server, authored by another actor.

Such an activity is trusted only when its body carries the author's own
signature, an FEP-8b32 integrity proof or a Linked Data signature
(RsaSignature2017), made with a key the author's actor document lists.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from activitypub.errors import ActivityPubError
from activitypub.signatures import (
    ld_signature_creator,
    proof_verification_method,
    verify_ld_signature,
    verify_proof,
)

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["verify_forwarded"]

log = logging.getLogger("activitypub.inbox")


async def verify_forwarded(fed: Federation, data: dict[str, Any], actor: str) -> bool:
    """True when ``data`` carries a valid proof or LD signature by ``actor``."""
    try:
        if "proof" in data:
            key_id = proof_verification_method(data)
            remote = await fed.keys.key(key_id)
            if remote.owner != actor:
                return False
            verify_proof(data, remote.key)
            return True
        if "signature" in data:
            key_id = ld_signature_creator(data)
            remote = await fed.keys.key(key_id)
            if remote.owner != actor:
                return False
            # Canonicalisation is CPU-bound and time-budgeted: keep it off the event loop.
            await asyncio.to_thread(verify_ld_signature, data, remote.key)
            return True
    except ActivityPubError as exc:
        log.info("forwarded activity from %s not verified: %s", actor, exc)
    return False
