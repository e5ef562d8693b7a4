"""activitypub: an async ActivityPub library for Python web servers."""

from activitypub.errors import *  # noqa: F403
from activitypub.errors import __all__ as _errors_all

__version__ = "0.1.0"

__all__ = ["__version__", *_errors_all]
