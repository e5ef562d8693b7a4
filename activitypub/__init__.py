"""activitypub: an async ActivityPub library for Python web servers.

The public surface is re-exported here: the federation (``Federation`` and
what its handlers see), the HTTP client, the ActivityStreams vocabulary,
keys, the signature schemes (by module: ``cavage``, ``rfc9421``), and the
errors. Framework adapters live in ``activitypub.server``.
"""

from activitypub import jsonld
from activitypub.client import Client, Signer
from activitypub.errors import *  # noqa: F403
from activitypub.errors import __all__ as _errors_all
from activitypub.federation import Federation, InboxContext, Paths
from activitypub.keys import PrivateKey, PublicKey
from activitypub.signatures import (
    cavage,
    create_proof,
    proof_verification_method,
    rfc9421,
    verify_ld_signature,
    verify_proof,
)
from activitypub.vocab import *  # noqa: F403
from activitypub.vocab import __all__ as _vocab_all

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Federation",
    "InboxContext",
    "Paths",
    "Client",
    "Signer",
    "PrivateKey",
    "PublicKey",
    "cavage",
    "rfc9421",
    "create_proof",
    "proof_verification_method",
    "verify_proof",
    "verify_ld_signature",
    "jsonld",
    *_vocab_all,
    *_errors_all,
]
