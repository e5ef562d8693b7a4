"""Where the federation layer keeps its state: one protocol, two backends.

``storage_from_url("sqlite:///instance.db")`` picks a backend from a URL;
``MemoryStorage`` is for tests.
"""

from __future__ import annotations

from activitypub.storage.base import (
    CachedDocument,
    Follower,
    Following,
    FollowState,
    LocalActor,
    Storage,
    StoredObject,
    Visibility,
)
from activitypub.storage.memory import MemoryStorage
from activitypub.storage.sqlite import SqliteStorage
from activitypub.storage.urls import sqlite_path

__all__ = [
    "Storage",
    "MemoryStorage",
    "SqliteStorage",
    "storage_from_url",
    "LocalActor",
    "Follower",
    "Following",
    "FollowState",
    "StoredObject",
    "Visibility",
    "CachedDocument",
]


def storage_from_url(url: str) -> Storage:
    """``memory://``, ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``sqlite://`` (in memory); the storage still needs ``open()``."""
    if url == "memory://":
        return MemoryStorage()
    return SqliteStorage(sqlite_path(url))
