"""Fixtures for the interop tests against live peers.

Fedify: ``fedify_peer`` runs ``tests/interop/fedify/peer.mjs`` once per Fedify version
for the whole session (``1.5.9``: draft-cavage only, on Node 20; ``2.3.6``: RFC 9421
first with draft-cavage fallback, on the npm-shipped Node 22). Tests that need a fresh
peer use :func:`fedify_peer.run_fedify_peer` themselves. The peers keep their events
for the session, so tests pick theirs out by activity id or by their own actor URL
(each test serves its own actor on its own port).

Without ``npm ci`` in ``tests/interop/fedify`` these skip, or fail when
``ACTIVITYPUB_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fedify_peer import (
    VERSIONS,
    FedifyPeer,
    FedifyUnavailableError,
    check_available,
    run_fedify_peer,
    services_required,
)

FEDIFY_VERSIONS = list(VERSIONS)  # ["1.5.9", "2.3.6"]


def require_fedify(version: str) -> None:
    """Skip (or, with ACTIVITYPUB_REQUIRE_SERVICES=1, fail) unless ``version`` can run."""
    try:
        check_available(version)
    except FedifyUnavailableError as error:
        if services_required():
            pytest.fail(f"Fedify peer required (ACTIVITYPUB_REQUIRE_SERVICES=1): {error}")
        pytest.skip(f"Fedify peer unavailable: {error}")


@pytest.fixture(scope="session", params=FEDIFY_VERSIONS, ids=lambda v: f"fedify-{v}")
def fedify_peer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FedifyPeer]:
    """A running Fedify peer (alice), one per version, shared by the session."""
    version: str = request.param
    require_fedify(version)
    with run_fedify_peer(version, tmp_path_factory.mktemp(f"fedify-{version}")) as peer:
        yield peer
