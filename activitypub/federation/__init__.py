"""The federation core: actors, discovery, inbox pipeline, collections, publishing."""

from activitypub.federation.context import InboxContext
from activitypub.federation.federation import Federation, UnknownActorError
from activitypub.federation.http import Request, Response
from activitypub.federation.limits import ItemCaps
from activitypub.federation.paths import INSTANCE_ACTOR, Paths
from activitypub.federation.worker import drain

__all__ = [
    "INSTANCE_ACTOR",
    "Federation",
    "InboxContext",
    "ItemCaps",
    "Paths",
    "Request",
    "Response",
    "UnknownActorError",
    "drain",
]
