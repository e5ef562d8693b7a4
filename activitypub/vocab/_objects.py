"""The ActivityStreams object types: posts, media, places, events, tombstones."""

from __future__ import annotations

from datetime import datetime

from activitypub.vocab._core import IntransitiveActivity, Object, Ref
from activitypub.vocab._node import Many

__all__ = [
    "Article",
    "Audio",
    "Document",
    "Event",
    "Image",
    "Note",
    "Page",
    "Place",
    "Profile",
    "Question",
    "Relationship",
    "Tombstone",
    "Video",
]


class Note(Object):
    """A short post: a toot, a comment, a direct message."""

    TYPE = "Note"


class Article(Object):
    """A long post with a title."""

    TYPE = "Article"


class Page(Object):
    """A web page; Lemmy's posts are Pages."""

    TYPE = "Page"


class Document(Object):
    """A file; the base of Image, Audio and Video."""

    TYPE = "Document"

    width: int | None = None
    height: int | None = None
    blurhash: str | None = None


class Image(Document):
    """A picture: attachments, avatars (``icon``), headers (``image``)."""

    TYPE = "Image"


class Audio(Document):
    """A sound recording."""

    TYPE = "Audio"


class Video(Document):
    """A video; PeerTube's videos list their files in ``url``."""

    TYPE = "Video"


class Event(Object):
    """Something that happens at a time (``start_time``, ``end_time``)."""

    TYPE = "Event"


class Place(Object):
    """A location, given by coordinates or just by name."""

    TYPE = "Place"

    accuracy: float | None = None
    altitude: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius: float | None = None
    units: str | None = None


class Profile(Object):
    """A description of another object (``describes``)."""

    TYPE = "Profile"

    describes: Ref | None = None


class Relationship(Object):
    """A relationship between two objects."""

    TYPE = "Relationship"

    subject: Ref | None = None
    object: Many[Ref] | None = None
    relationship: Many[Ref] | None = None


class Tombstone(Object):
    """What is left where a deleted object was."""

    TYPE = "Tombstone"

    former_type: str | None = None
    deleted: datetime | None = None


class Question(IntransitiveActivity):
    """A poll: options in ``one_of`` (single choice) or ``any_of`` (multiple)."""

    TYPE = "Question"

    one_of: Many[Ref] | None = None
    any_of: Many[Ref] | None = None
    closed: datetime | bool | None = None
    voters_count: int | None = None
