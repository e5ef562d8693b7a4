"""Reading database URLs, the way SQLAlchemy and dj-database-url do."""

from __future__ import annotations

__all__ = ["sqlite_path"]


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:`` URL names.

    ``sqlite:///app.db`` is relative, ``sqlite:////var/app.db`` absolute
    (three slashes, then the path), and ``sqlite://`` or
    ``sqlite://:memory:`` a private in-memory database.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("sqlite", "sqlite3"):
        raise ValueError(f"not a memory:// or sqlite:// URL: {url!r}")
    if rest in ("", ":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/") or rest == "/":
        raise ValueError(f"a sqlite URL is sqlite:///path/to.db, got {url!r}")
    return rest[1:]
