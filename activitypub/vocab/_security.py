"""Keys published on actors: security/v1 ``publicKey`` and Multikey.

These are JSON-LD nodes; ``to_key()`` turns them into :mod:`activitypub.keys`
keys that verify, and ``from_key()`` publishes one. The security/v1 node is
called ``CryptographicKey`` (as in Fedify) so that ``PublicKey`` stays the
name of the verifying key.
"""

from __future__ import annotations

from activitypub import keys
from activitypub.errors import KeyFormatError
from activitypub.vocab._node import Node

__all__ = ["CryptographicKey", "Multikey"]


class CryptographicKey(Node):
    """An actor's key as HTTP Signatures use it (``publicKey``, security/v1).

    Written without a ``type``, as Mastodon writes it.
    """

    owner: str | None = None
    public_key_pem: str | None = None

    @classmethod
    def from_key(cls, key: keys.PublicKey, *, id: str, owner: str) -> CryptographicKey:
        """Publish ``key`` as SPKI PEM: the form every server (Lemmy included) parses."""
        return cls(id=id, owner=owner, public_key_pem=key.to_pem("spki"))

    def to_key(self) -> keys.PublicKey:
        """The verifying key; raises :class:`~activitypub.errors.KeyFormatError`."""
        if self.public_key_pem is None:
            raise KeyFormatError("publicKey has no publicKeyPem")
        return keys.PublicKey.from_pem(self.public_key_pem, id=self.id)


class Multikey(Node):
    """A key in multibase form (FEP-521a ``assertionMethod``)."""

    TYPE = "Multikey"

    controller: str | None = None
    public_key_multibase: str | None = None

    @classmethod
    def from_key(cls, key: keys.PublicKey, *, id: str, controller: str) -> Multikey:
        return cls(id=id, controller=controller, public_key_multibase=key.to_multibase())

    def to_key(self) -> keys.PublicKey:
        """The verifying key; raises :class:`~activitypub.errors.KeyFormatError`."""
        if self.public_key_multibase is None:
            raise KeyFormatError("Multikey has no publicKeyMultibase")
        return keys.PublicKey.from_multibase(self.public_key_multibase, id=self.id)
