"""NodeInfo 2.x: which software a server runs (Mastodon, Lemmy, Misskey ...).

Discovery is two requests: ``/.well-known/nodeinfo`` lists schema links, and
the highest 2.x one is fetched. The link's ``href`` comes from the remote
server, so it is checked like any other URL and must stay on the host that
served the list (Fedify fetched it blindly: CVE-2026-62857). Only the pure
parts live here; the requests are :meth:`Client.nodeinfo
<activitypub.client.Client.nodeinfo>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from activitypub.errors import NodeInfoError

__all__ = ["NodeInfo", "parse_nodeinfo", "schema_link"]

_SCHEMA_RE: Final = re.compile(r"https?://nodeinfo\.diaspora\.software/ns/schema/2\.([0-9]{1,3})#?")


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """The fields federation cares about; ``raw`` is the whole document."""

    software: str  # lower-cased: "mastodon", "lemmy", "mbin", "misskey", "pleroma" ...
    version: str
    protocols: tuple[str, ...]
    schema: str  # "2.0", "2.1" ...
    raw: dict[str, Any] = field(repr=False, compare=False)


def schema_link(links_document: Mapping[str, Any]) -> tuple[str, str]:
    """``(schema version, href)`` of the highest NodeInfo 2.x link listed."""
    links = links_document.get("links")
    if not isinstance(links, list):
        raise NodeInfoError("the NodeInfo discovery document has no links")
    best: tuple[int, str] | None = None
    for link in links:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            continue
        rel = link.get("rel")
        m = _SCHEMA_RE.fullmatch(rel) if isinstance(rel, str) else None
        if m is not None and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), link["href"])
    if best is None:
        raise NodeInfoError("no NodeInfo 2.x schema link")
    return f"2.{best[0]}", best[1]


def parse_nodeinfo(doc: Mapping[str, Any], schema: str = "2.0") -> NodeInfo:
    """Read a NodeInfo 2.x document; ``software.name`` is required."""
    software = doc.get("software")
    name = software.get("name") if isinstance(software, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise NodeInfoError("NodeInfo document without software.name")
    version = software.get("version") if isinstance(software, dict) else None
    protocols = doc.get("protocols")
    if not isinstance(protocols, list):
        protocols = []
    declared = doc.get("version")
    return NodeInfo(
        software=name.strip().lower()[:100],
        version=str(version)[:100] if isinstance(version, str | int | float) else "",
        protocols=tuple(dict.fromkeys(p.lower() for p in protocols if isinstance(p, str))),
        schema=declared if isinstance(declared, str) and len(declared) < 10 else schema,
        raw=dict(doc),
    )
