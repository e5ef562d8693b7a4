"""The ActivityStreams core: Object, Link, Activity and the collections.

Properties real servers add to every kind of object (Mastodon's
``sensitive``, Lemmy's ``language`` and ``stickied``, quote posts) live on
:class:`Object` too, so that any object can carry them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

from activitypub.vocab._node import LangMap, Many, Node

__all__ = [
    "Activity",
    "Collection",
    "CollectionPage",
    "IntransitiveActivity",
    "Language",
    "Link",
    "Object",
    "OrderedCollection",
    "OrderedCollectionPage",
    "Ref",
    "Source",
]

Ref: TypeAlias = "str | Object | Link"
"""A reference: an IRI, or the object (or link) embedded in place."""


class Source(Node):
    """The text a post was written in before rendering (``source``)."""

    content: str | None = None
    media_type: str | None = None


class Language(Node):
    """Lemmy's language of a post or community: a tag and its name."""

    identifier: str | None = None
    name: str | None = None


class Link(Node):
    """A reference to a resource with some metadata about how to fetch it."""

    TYPE = "Link"

    href: str | None = None
    rel: Many[str] | None = None
    media_type: str | None = None
    name: str | None = None
    name_map: LangMap | None = None
    hreflang: str | None = None
    height: int | None = None
    width: int | None = None
    preview: Many[Ref] | None = None


class Object(Node):
    """Any ActivityStreams object; the base of everything with an identity."""

    TYPE = "Object"

    attachment: Many[Ref] | None = None
    attributed_to: Many[Ref] | None = None
    audience: Many[Ref] | None = None
    content: str | None = None
    content_map: LangMap | None = None
    context: Many[Ref] | None = None
    name: str | None = None
    name_map: LangMap | None = None
    summary: str | None = None
    summary_map: LangMap | None = None
    end_time: datetime | None = None
    generator: Many[Ref] | None = None
    icon: Many[Ref] | None = None
    image: Many[Ref] | None = None
    in_reply_to: Many[Ref] | None = None
    location: Many[Ref] | None = None
    preview: Many[Ref] | None = None
    published: datetime | None = None
    replies: Many[Ref] | None = None
    likes: Many[Ref] | None = None
    shares: Many[Ref] | None = None
    start_time: datetime | None = None
    tag: Many[Ref] | None = None
    updated: datetime | None = None
    url: Many[Ref] | None = None
    to: Many[Ref] | None = None
    bto: Many[Ref] | None = None
    cc: Many[Ref] | None = None
    bcc: Many[Ref] | None = None
    media_type: str | None = None
    duration: str | None = None
    source: Source | str | None = None
    # extensions
    sensitive: bool | None = None
    language: Many[Language] | None = None
    quote_url: str | None = None
    stickied: bool | None = None
    distinguished: bool | None = None
    comments_enabled: bool | None = None


class Activity(Object):
    """Something an actor did to an object."""

    TYPE = "Activity"

    actor: Many[Ref] | None = None
    object: Many[Ref] | None = None
    target: Many[Ref] | None = None
    result: Many[Ref] | None = None
    origin: Many[Ref] | None = None
    instrument: Many[Ref] | None = None


class IntransitiveActivity(Activity):
    """An activity without an ``object`` (Arrive, Travel, Question)."""

    TYPE = "IntransitiveActivity"


class Collection(Object):
    """A set of items, usually served a page at a time."""

    TYPE = "Collection"

    total_items: int | None = None
    current: Ref | None = None
    first: Ref | None = None
    last: Ref | None = None
    items: Many[Ref] | None = None


class OrderedCollection(Collection):
    """A collection whose items are in order (newest first, by convention)."""

    TYPE = "OrderedCollection"

    ordered_items: Many[Ref] | None = None


class CollectionPage(Collection):
    """One page of a collection."""

    TYPE = "CollectionPage"

    part_of: Ref | None = None
    next: Ref | None = None
    prev: Ref | None = None


class OrderedCollectionPage(CollectionPage, OrderedCollection):
    """One page of an ordered collection."""

    TYPE = "OrderedCollectionPage"

    start_index: int | None = None
