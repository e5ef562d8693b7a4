"""The bovine-herd server used as an interop peer (run with the bovine venv).

Served by ``hypercorn -b 127.0.0.1:PORT app:app`` from a fresh working directory:
the database (``BOVINE_DB_URL``, default ``sqlite://bovine.sqlite3``) and bovine's
JSON-LD cache (``bovine_jsonld_cache.sqlite``, opened relative to the current
directory when bovine is imported) both live there, so every run starts clean.
"""

import logging
import os

from bovine_herd import BovineHerd
from quart import Quart

logging.basicConfig(
    level=os.environ.get("BOVINE_LOG_LEVEL", "INFO"),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

app = Quart(__name__)
BovineHerd(app, db_url=os.environ.get("BOVINE_DB_URL", "sqlite://bovine.sqlite3"))
