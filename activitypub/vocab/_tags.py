"""What posts tag and profiles attach: mentions, hashtags, emoji, profile fields."""

from __future__ import annotations

from datetime import datetime

from activitypub.vocab._core import Link, Object

__all__ = ["Emoji", "Hashtag", "Mention", "PropertyValue"]


class Mention(Link):
    """A mention of an actor; ``href`` is the actor, ``name`` its ``@handle``."""

    TYPE = "Mention"


class Hashtag(Link):
    """A hashtag; ``href`` is the tag's page, ``name`` the ``#tag``."""

    TYPE = "Hashtag"


class Emoji(Object):
    """A custom emoji (Mastodon): ``name`` is ``:shortcode:``, ``icon`` its Image."""

    TYPE = "Emoji"

    updated: datetime | None = None


class PropertyValue(Object):
    """A profile metadata field (schema.org): ``name`` and an HTML ``value``."""

    TYPE = "PropertyValue"

    value: str | None = None
