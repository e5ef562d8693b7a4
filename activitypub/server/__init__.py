"""Adapters that carry a :class:`~activitypub.Federation` on a web framework."""

from activitypub.server.aiohttp import aiohttp_app, aiohttp_handler
from activitypub.server.asgi import asgi_app

__all__ = ["aiohttp_app", "aiohttp_handler", "asgi_app"]
