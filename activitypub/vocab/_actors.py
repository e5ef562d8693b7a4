"""Actors: the things that have an inbox and can act.

``Actor`` is not an ActivityStreams type; it holds what the five actor
types share, so that an actor of a type we do not know still reads its
inbox, keys and endpoints.
"""

from __future__ import annotations

from activitypub.vocab._core import Object, Ref
from activitypub.vocab._node import Many, Node
from activitypub.vocab._security import CryptographicKey, Multikey

__all__ = [
    "Actor",
    "Application",
    "Endpoints",
    "Group",
    "Organization",
    "Person",
    "Service",
]


class Endpoints(Node):
    """Server-wide endpoints of an actor, above all ``sharedInbox``."""

    shared_inbox: str | None = None
    oauth_authorization_endpoint: str | None = None
    oauth_token_endpoint: str | None = None
    provide_client_key: str | None = None
    sign_client_key: str | None = None
    proxy_url: str | None = None
    upload_media: str | None = None


class Actor(Object):
    """What every actor type carries."""

    inbox: Ref | None = None
    outbox: Ref | None = None
    followers: Ref | None = None
    following: Ref | None = None
    liked: Ref | None = None
    streams: Many[Ref] | None = None
    preferred_username: str | None = None
    endpoints: Endpoints | str | None = None
    public_key: Many[str | CryptographicKey] | None = None
    assertion_method: Many[str | Multikey] | None = None
    manually_approves_followers: bool | None = None
    discoverable: bool | None = None
    indexable: bool | None = None
    featured: Ref | None = None
    featured_tags: Ref | None = None
    also_known_as: Many[str] | None = None
    moved_to: str | None = None
    suspended: bool | None = None
    memorial: bool | None = None


class Person(Actor):
    """A user account."""

    TYPE = "Person"


class Group(Actor):
    """A group or community; Lemmy's communities are Groups."""

    TYPE = "Group"

    posting_restricted_to_mods: bool | None = None
    moderators: Ref | None = None


class Organization(Actor):
    """An organisation."""

    TYPE = "Organization"


class Service(Actor):
    """An automated account (a bot, or Lemmy's and Mbin's instance actor)."""

    TYPE = "Service"


class Application(Actor):
    """A software application; servers use it for their instance actor."""

    TYPE = "Application"
