"""What an inbox handler receives besides the activity."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activitypub.storage import Storage

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["InboxContext"]


@dataclass(frozen=True, slots=True)
class InboxContext:
    """One received activity's circumstances.

    ``recipient`` is the local actor whose personal inbox got it, or None for
    the shared inbox; ``signer`` is the verified key owner (the actor).
    """

    federation: Federation
    recipient: str | None
    signer: str
    activity_id: str | None
    log: logging.Logger

    @property
    def storage(self) -> Storage:
        return self.federation.storage
