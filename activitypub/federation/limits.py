"""Caps on how many items an incoming activity's lists may hold (S-31).

A 1 MiB body holds tens of thousands of addressees, tags or poll options,
and every one of them may cost the worker a lookup, a row or a fetch. Real
servers send far fewer (Mastodon lets a post mention and tag a few dozen
accounts and offers four poll options), so an inbox refuses an activity
over a cap with 400 before queueing it, rather than truncate what the
sender meant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from activitypub.errors import TooManyItemsError

__all__ = ["ItemCaps", "check_items"]

_ADDRESSING = ("to", "cc", "bto", "bcc", "audience")


@dataclass(frozen=True, slots=True)
class ItemCaps:
    """Most items per activity and per embedded object; ``Federation(item_caps=...)``."""

    recipients: int = 1000
    """``to``, ``cc``, ``bto``, ``bcc`` and ``audience`` together."""
    tags: int = 1000
    attachments: int = 200
    poll_options: int = 500
    """``oneOf`` and ``anyOf`` each."""


def check_items(caps: ItemCaps, document: dict[str, Any], body: bytes | None = None) -> None:
    """Raise :class:`TooManyItemsError` if the activity or its embedded object
    (``document`` read as JSON-LD: a normalised document) exceeds a cap.

    With the ``body`` that ``document`` was parsed from (not a compaction of
    it): no list of one JSON object can hold more items than the body has
    commas plus one (commas inside strings only raise that bound), so a body
    with fewer commas than the smallest cap needs no counting.
    """
    if body is not None and body.count(b",") < min(
        caps.recipients, caps.tags, caps.attachments, caps.poll_options
    ):
        return
    _check(caps, document)
    obj = document.get("object")
    if isinstance(obj, dict):
        _check(caps, obj)


def _check(caps: ItemCaps, node: dict[str, Any]) -> None:
    recipients = sum(_count(node.get(key)) for key in _ADDRESSING)
    if recipients > caps.recipients:
        raise TooManyItemsError(f"{recipients} recipients (at most {caps.recipients})")
    for key, cap in (
        ("tag", caps.tags),
        ("attachment", caps.attachments),
        ("oneOf", caps.poll_options),
        ("anyOf", caps.poll_options),
    ):
        count = _count(node.get(key))
        if count > cap:
            raise TooManyItemsError(f"{count} {key} items (at most {cap})")


def _count(value: Any) -> int:
    if value is None:
        return 0
    return len(value) if isinstance(value, list) else 1
