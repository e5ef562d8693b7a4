"""Durable at-least-once tasks for inbox handlers and delivery.

``queue_from_url("sqlite:///instance.db")`` picks a backend from a URL (the
file may be the storage's); ``MemoryQueue`` is for tests.
"""

from __future__ import annotations

from activitypub.queue.base import Queue, Task
from activitypub.queue.memory import MemoryQueue
from activitypub.queue.sqlite import SqliteQueue
from activitypub.storage.urls import sqlite_path

__all__ = ["Queue", "Task", "MemoryQueue", "SqliteQueue", "queue_from_url"]


def queue_from_url(url: str) -> Queue:
    """``memory://``, ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
    ``sqlite://`` (in memory); the queue still needs ``open()``."""
    if url == "memory://":
        return MemoryQueue()
    return SqliteQueue(sqlite_path(url))
