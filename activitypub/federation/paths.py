"""The URL layout of a federation: where actors, inboxes and collections live.

Ids are built from templates and requests are matched against the same
templates, so the two can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import quote, unquote

__all__ = ["INSTANCE_ACTOR", "COLLECTIONS", "Paths"]

#: Identifier of the instance actor (an Application, as Mastodon's ``/actor``):
#: it signs fetches made on behalf of the server rather than of a user.
INSTANCE_ACTOR = "__instance__"

#: Per-actor collections served from storage.
COLLECTIONS = ("outbox", "followers", "following", "liked", "featured")

_IDENTIFIER = r"(?P<identifier>[^/?#]+)"


@dataclass(frozen=True)
class Paths:
    actor: str = "/users/{identifier}"
    inbox: str = "/users/{identifier}/inbox"
    collection: str = "/users/{identifier}/{collection}"
    shared_inbox: str = "/inbox"
    instance_actor: str = "/actor"
    objects: str = "/objects/{id}"

    def actor_path(self, identifier: str) -> str:
        if identifier == INSTANCE_ACTOR:
            return self.instance_actor
        return self.actor.format(identifier=quote(identifier, safe=""))

    def inbox_path(self, identifier: str) -> str:
        if identifier == INSTANCE_ACTOR:
            return self.instance_actor + "/inbox"
        return self.inbox.format(identifier=quote(identifier, safe=""))

    def collection_path(self, identifier: str, collection: str) -> str:
        if identifier == INSTANCE_ACTOR:
            return f"{self.instance_actor}/{collection}"
        return self.collection.format(identifier=quote(identifier, safe=""), collection=collection)

    @cached_property
    def _actor_re(self) -> re.Pattern[str]:
        return _compile(self.actor)

    @cached_property
    def _inbox_re(self) -> re.Pattern[str]:
        return _compile(self.inbox)

    @cached_property
    def _collection_re(self) -> re.Pattern[str]:
        return _compile(self.collection)

    def match_actor(self, path: str) -> str | None:
        if path == self.instance_actor:
            return INSTANCE_ACTOR
        m = self._actor_re.fullmatch(path)
        return unquote(m["identifier"]) if m else None

    def match_inbox(self, path: str) -> str | None:
        """The identifier of a personal inbox, or None (the shared inbox is separate)."""
        if path == self.instance_actor + "/inbox":
            return INSTANCE_ACTOR
        m = self._inbox_re.fullmatch(path)
        return unquote(m["identifier"]) if m else None

    def match_collection(self, path: str) -> tuple[str, str] | None:
        if path.startswith(self.instance_actor + "/"):
            name = path[len(self.instance_actor) + 1 :]
            return (INSTANCE_ACTOR, name) if name in COLLECTIONS else None
        m = self._collection_re.fullmatch(path)
        if m is None or m["collection"] not in COLLECTIONS:
            return None
        return unquote(m["identifier"]), m["collection"]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    pattern = pattern.replace(re.escape("{identifier}"), _IDENTIFIER)
    pattern = pattern.replace(re.escape("{collection}"), r"(?P<collection>[a-z]+)")
    return re.compile(pattern)
