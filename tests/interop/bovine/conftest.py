"""Fixtures for the bovine-herd interop tests: ``bovine_peer`` (see ../bovine_peer.py)."""

import sys
from pathlib import Path

_INTEROP = str(Path(__file__).resolve().parent.parent)
if _INTEROP not in sys.path:
    sys.path.insert(0, _INTEROP)

from bovine_peer import bovine_peer  # noqa: E402

__all__ = ["bovine_peer"]
