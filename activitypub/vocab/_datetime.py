"""Date-times as servers send them, and as RFC 3339 says to write them.

Reading accepts what real servers emit: any number of fraction digits
(Go sends nanoseconds, JavaScript milliseconds), ``Z`` or an offset, a space
instead of ``T``, a missing offset (taken as UTC) and a bare date. Anything
else is not a date and is refused rather than guessed at.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from activitypub.errors import VocabularyError

__all__ = ["format_datetime", "parse_datetime"]

_PATTERN = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)"
    r"(?:[Tt ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,12}))?)?"
    r"\s*([Zz]|[+-]\d\d(?::?\d\d)?)?)?"
)


def parse_datetime(text: str) -> datetime:
    """Read an RFC 3339 / ISO 8601 date-time; always returns an aware datetime."""
    match = _PATTERN.fullmatch(text.strip())
    if match is None:
        raise VocabularyError(f"not a date-time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = UTC
    if offset and offset not in "Zz":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if delta >= timedelta(hours=24):
            raise VocabularyError(f"not a date-time: {text[:40]!r}")
        tz = timezone(sign * delta)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            min(int(second or 0), 59),  # a leap second reads as :59
            micro,
            tzinfo=tz,
        )
    except ValueError:
        raise VocabularyError(f"not a date-time: {text[:40]!r}") from None


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``; fraction digits only when there is a fraction.

    A naive datetime is taken to be UTC already.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    micro = value.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"
