"""Bundled contexts, the offline loader, prefetching, and processing of real documents."""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from activitypub import jsonld
from activitypub.errors import JsonLdError, JsonLdLimitError, UnknownContextError
from activitypub.jsonld import DocumentLoader

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "real").rglob("*.json"))

BUNDLED_URLS = [
    jsonld.AS_CONTEXT,
    "http://www.w3.org/ns/activitystreams",
    "https://www.w3.org/ns/activitystreams.jsonld",
    jsonld.SECURITY_V1,
    jsonld.SECURITY_V2,
    jsonld.DATA_INTEGRITY_V1,
    jsonld.DATA_INTEGRITY_V2,
    jsonld.MULTIKEY_V1,
    jsonld.WEBFINGER_CONTEXT,
    jsonld.LEMMY_CONTEXT,
    "https://queer.hacktivis.me/schemas/litepub-0.1.jsonld",
    "https://any.example/schemas/litepub-0.1.jsonld",
    "https://fedia.io/contexts",
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


@pytest.mark.parametrize("url", BUNDLED_URLS)
def test_bundled_context_loads_offline(url: str) -> None:
    remote = DocumentLoader()(url, {})
    assert remote["documentUrl"] == url
    assert remote["contextUrl"] is None
    assert "@context" in remote["document"]
    # and pyld can use it
    expanded = jsonld.expand({"@context": [jsonld.AS_CONTEXT, url], "type": "Note", "name": "x"})
    assert expanded[0]["@type"] == ["https://www.w3.org/ns/activitystreams#Note"]


def test_bundled_documents_are_parsed_once() -> None:
    assert jsonld.bundled_context(jsonld.AS_CONTEXT) is jsonld.bundled_context(jsonld.AS_CONTEXT)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_fixture_expands_offline(path: Path) -> None:
    doc = load(path)
    expanded = jsonld.expand(doc)
    assert expanded, "expansion dropped the whole document"
    assert "@type" in expanded[0] or "@id" in expanded[0]


def test_missing_context_reads_as_default_context() -> None:
    doc = load(Path(__file__).parent / "fixtures/real/lemmy/group.json")
    assert "@context" not in doc
    with_default = {"@context": jsonld.DEFAULT_CONTEXT, **doc}
    assert jsonld.canonicalize(doc) == jsonld.canonicalize(with_default)
    expanded = jsonld.expand(doc)[0]
    assert "https://join-lemmy.org/ns#postingRestrictedToMods" in expanded


def test_extension_terms_expand_to_server_iris() -> None:
    doc = {
        "type": "Note",
        "sensitive": True,
        "discoverable": True,
        "value": "v",
        "language": {"identifier": "fr", "name": "Français"},
        "moderators": "https://lemmy.example/c/x/moderators",
        "_misskey_quote": "https://misskey.example/notes/1",
    }
    expanded = jsonld.expand(doc)[0]
    for iri in (
        "https://www.w3.org/ns/activitystreams#sensitive",
        "http://joinmastodon.org/ns#discoverable",
        "http://schema.org#value",
        "http://schema.org/inLanguage",
        "https://join-lemmy.org/ns#moderators",
        "https://misskey-hub.net/ns#_misskey_quote",
    ):
        assert iri in expanded, iri
    language = expanded["http://schema.org/inLanguage"][0]
    assert language["http://schema.org/identifier"] == [{"@value": "fr"}]


# -- unknown contexts and prefetching ---------------------------------------

REMOTE = "https://remote.example/ns/context.jsonld"
REMOTE_DOC = {"@context": {"ex": "https://remote.example/ns#", "colour": "ex:colour"}}


def remote_document() -> dict[str, Any]:
    return {"@context": [jsonld.AS_CONTEXT, REMOTE], "type": "Note", "colour": "red"}


def test_unknown_remote_context_is_refused() -> None:
    with pytest.raises(UnknownContextError, match=re.escape(REMOTE)):
        jsonld.expand(remote_document(), loader=DocumentLoader())
    with pytest.raises(UnknownContextError, match=re.escape(REMOTE)):
        DocumentLoader()(REMOTE, {})


class FakeFetch:
    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents
        self.calls: list[str] = []

    async def __call__(self, url: str) -> Mapping[str, Any]:
        self.calls.append(url)
        document: Mapping[str, Any] = self.documents[url]
        return document


async def test_prefetch_then_expand() -> None:
    loader = DocumentLoader()
    fetch = FakeFetch({REMOTE: REMOTE_DOC})
    assert await loader.prefetch(remote_document(), fetch) == [REMOTE]
    assert fetch.calls == [REMOTE]  # the bundled AS context was not fetched
    expanded = jsonld.expand(remote_document(), loader=loader)[0]
    assert expanded["https://remote.example/ns#colour"] == [{"@value": "red"}]
    # already known: no second fetch
    assert await loader.prefetch(remote_document(), fetch) == []
    assert fetch.calls == [REMOTE]
    # another loader has not learnt it (no shared pyld cache)
    with pytest.raises(UnknownContextError):
        jsonld.expand(remote_document(), loader=DocumentLoader())


async def test_prefetch_never_fetches_bundled_contexts() -> None:
    fetch = FakeFetch({})
    doc = load(Path(__file__).parent / "fixtures/real/pleroma/note.json")
    assert await DocumentLoader().prefetch(doc, fetch) == []
    assert fetch.calls == []


async def test_prefetch_follows_nested_remote_contexts() -> None:
    inner = "https://remote.example/inner"
    outer = {"@context": [inner, {"shade": "https://remote.example/ns#shade"}]}
    inner_doc = {"@context": {"colour": "https://remote.example/ns#colour"}}
    fetch = FakeFetch({REMOTE: outer, inner: inner_doc})
    loader = DocumentLoader()
    await loader.prefetch(remote_document(), fetch)
    assert fetch.calls == [REMOTE, inner]
    assert "https://remote.example/ns#colour" in jsonld.expand(remote_document(), loader=loader)[0]


async def test_prefetch_failure_is_unknown_context() -> None:
    async def failing(url: str) -> Mapping[str, Any]:
        raise OSError("connection refused")

    with pytest.raises(UnknownContextError, match="connection refused"):
        await DocumentLoader().prefetch(remote_document(), failing)


def test_add_registers_a_context() -> None:
    loader = DocumentLoader()
    loader.add(REMOTE, REMOTE_DOC)
    assert jsonld.expand(remote_document(), loader=loader)
    with pytest.raises(JsonLdError):
        loader.add("https://remote.example/bad", {"no": "context"})


def test_added_contexts_are_bounded() -> None:
    loader = DocumentLoader(capacity=2)
    for i in range(3):
        loader.add(f"https://remote.example/{i}", REMOTE_DOC)
    assert not loader.knows("https://remote.example/0")
    assert loader.knows("https://remote.example/2")


async def test_prefetch_limits_number_of_remote_contexts() -> None:
    chain = {
        f"https://remote.example/{i}": {"@context": f"https://remote.example/{i + 1}"}
        for i in range(50)
    }
    doc = {"@context": "https://remote.example/0", "name": "x"}
    with pytest.raises(JsonLdLimitError):
        await DocumentLoader().prefetch(doc, FakeFetch(chain))


def test_compact_round_trip() -> None:
    doc = load(Path(__file__).parent / "fixtures/real/mastodon/create_note.json")
    compacted = jsonld.compact(doc)
    assert compacted["@context"] == jsonld.DEFAULT_CONTEXT
    assert compacted["object"]["attributedTo"] == doc["object"]["attributedTo"]
    assert jsonld.canonicalize(compacted) == jsonld.canonicalize(doc)
