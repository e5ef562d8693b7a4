"""HTTP dates and "now", for the ``Date`` header and the time window.

Both directions are cached because every request of one second carries the
same ``Date``: parsing it, or formatting it, once per second is enough.
"""

from __future__ import annotations

import calendar
import email.utils
import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_IMF_FIXDATE_RE: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


@lru_cache(maxsize=1024)
def _parse_http_date(value: str) -> float | None:
    """Unix time of an HTTP-date (IMF-fixdate, or the obsolete forms), else ``None``.

    Cached: every request of the same second carries the same Date.
    """
    m = _IMF_FIXDATE_RE.fullmatch(value)
    try:
        if m is not None:
            day, month, year, hour, minute, second = m.groups()
            moment = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second)
            )
            return float(calendar.timegm(moment.timetuple()))
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        # HTTP dates are GMT: a missing zone (asctime form) is UTC, not local time.
        return float(calendar.timegm(parsed[:6]) - (parsed[9] or 0))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


#: ``[(seconds, IMF-fixdate)]`` of the last date formatted. A one-item list so that
#: the signer can read it without a call; the item is swapped whole (thread-safe).
_LAST_DATE: Final[list[tuple[int, str]]] = [(0, "")]


def _format_http_date(seconds: int) -> str:
    """IMF-fixdate of ``seconds``; the last one is kept in :data:`_LAST_DATE`."""
    cached = _LAST_DATE[0]
    if cached[0] == seconds:
        return cached[1]
    text = email.utils.formatdate(seconds, usegmt=True)
    _LAST_DATE[0] = (seconds, text)
    return text


def _timestamp(now: float | datetime | None) -> float:
    """Unix time of ``now`` (a naive ``datetime`` is UTC); the current time for ``None``."""
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        return now.timestamp()
    return float(now)
