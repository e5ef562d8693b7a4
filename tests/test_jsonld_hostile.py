"""Hostile input: canonicalisation bombs, deep nesting, recursive contexts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from activitypub import jsonld
from activitypub.errors import JsonLdError, JsonLdLimitError, JsonLdTimeoutError
from activitypub.jsonld import AS_CONTEXT, DocumentLoader


def poisoned_dataset(n: int) -> dict[str, Any]:
    """n blank nodes that all point at each other: every one hashes alike, so
    URDNA2015 tries every permutation (pyld issue #179)."""
    return {
        "@context": {"p": {"@id": "https://ex.example/p", "@type": "@id"}},
        "@graph": [
            {"@id": f"_:b{i}", "p": [f"_:b{j}" for j in range(n) if j != i]} for i in range(n)
        ],
    }


def test_small_poisoned_dataset_still_canonicalises() -> None:
    assert jsonld.canonicalize(poisoned_dataset(4), timeout=5).count("_:c14n") > 0


def test_canonicalisation_bomb_hits_time_budget() -> None:
    start = time.monotonic()
    with pytest.raises(JsonLdTimeoutError):
        jsonld.canonicalize(poisoned_dataset(12), timeout=0.5)
    assert time.monotonic() - start < 2.0
    # the interrupted thread carries on normally afterwards
    total = sum(i for i in range(200_000))
    assert total == 199_999 * 100_000
    assert jsonld.canonicalize({"@context": AS_CONTEXT, "type": "Note", "name": "x"})


async def test_canonicalisation_bomb_in_worker_thread() -> None:
    start = time.monotonic()
    with pytest.raises(JsonLdTimeoutError):
        await asyncio.to_thread(jsonld.canonicalize, poisoned_dataset(12), timeout=0.5)
    assert time.monotonic() - start < 2.0


def test_fast_canonicalisation_leaves_no_pending_interrupt() -> None:
    for _ in range(20):
        jsonld.canonicalize({"@context": AS_CONTEXT, "type": "Note"}, timeout=0.01)
    time.sleep(0.05)  # a late watchdog would strike here
    assert sum(range(100_000)) == 4_999_950_000


def test_too_many_blank_nodes_refused_up_front() -> None:
    doc = {
        "@context": {"p": "https://ex.example/p"},
        "@graph": [{"p": {"p": i}} for i in range(3000)],
    }
    start = time.monotonic()
    with pytest.raises(JsonLdLimitError):
        jsonld.canonicalize(doc, timeout=30)
    assert time.monotonic() - start < 5


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "Note", "name": "leaf"}
    for _ in range(depth):
        doc = {"type": "Note", "inReplyTo": doc}
    return doc


@pytest.mark.parametrize("operation", ["expand", "compact", "canonicalize"])
def test_deep_document_is_refused(operation: str) -> None:
    with pytest.raises(JsonLdLimitError):
        getattr(jsonld, operation)(nested(5000))


def test_deep_document_needs_compaction_without_recursion() -> None:
    assert jsonld.needs_compaction(nested(5000))
    assert not jsonld.needs_compaction(nested(10))


def test_deeply_nested_context_list() -> None:
    ctx: Any = AS_CONTEXT
    for _ in range(5000):
        ctx = [ctx]
    doc = {"@context": ctx, "type": "Note"}
    assert not jsonld.is_usual_context(ctx)
    assert jsonld.needs_compaction(doc)
    with pytest.raises(JsonLdError):
        jsonld.expand(doc)
    with pytest.raises(JsonLdError):
        jsonld.normalize(doc)


def test_recursive_remote_contexts_are_refused() -> None:
    loader = DocumentLoader()
    loader.add("https://a.example/ctx", {"@context": ["https://b.example/ctx"]})
    loader.add("https://b.example/ctx", {"@context": ["https://a.example/ctx"]})
    with pytest.raises(JsonLdError):
        jsonld.expand({"@context": "https://a.example/ctx", "name": "x"}, loader=loader)


def test_self_including_context_is_refused() -> None:
    loader = DocumentLoader()
    loader.add("https://a.example/ctx", {"@context": "https://a.example/ctx"})
    with pytest.raises(JsonLdError):
        jsonld.expand({"@context": "https://a.example/ctx", "name": "x"}, loader=loader)


async def test_recursive_remote_contexts_prefetch_terminates() -> None:
    calls: list[str] = []

    async def fetch(url: str) -> dict[str, Any]:
        calls.append(url)
        other = "https://b.example/ctx" if "a.example" in url else "https://a.example/ctx"
        return {"@context": [other]}

    loader = DocumentLoader()
    await loader.prefetch({"@context": "https://a.example/ctx"}, fetch)
    assert calls == ["https://a.example/ctx", "https://b.example/ctx"]
    with pytest.raises(JsonLdError):
        jsonld.expand({"@context": "https://a.example/ctx", "name": "x"}, loader=loader)


def test_invalid_context_is_a_jsonld_error() -> None:
    with pytest.raises(JsonLdError):
        jsonld.expand({"@context": 42, "name": "x"})
    with pytest.raises(JsonLdError):
        jsonld.expand({"@context": {"name": {"@id": 7}}, "name": "x"})


def test_compaction_has_a_time_budget() -> None:
    from activitypub.errors import JsonLdTimeoutError
    from activitypub.jsonld.processing import compact

    doc = {
        "@context": ["https://www.w3.org/ns/activitystreams", {"x": "as:name"}],
        "type": "Note",
        "tag": [{"type": "Hashtag", "x": f"#t{i}"} for i in range(3000)],
    }
    with pytest.raises(JsonLdTimeoutError, match="compaction"):
        compact(doc, timeout=0.01)
    assert compact({**doc, "tag": doc["tag"][:2]}, timeout=5)["tag"][0]["name"] == "#t0"
