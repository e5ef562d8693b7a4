"""Security case S-31: inbound body size, nesting depth and cardinality.

Also the content-type gate (415) that runs right after the size check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from security_kit import (
    ALICE,
    JSON_HEADERS,
    L_INBOX,
    PUBLIC,
    World,
    activity,
    assert_rejected,
    make_world,
    note,
    post,
    signed_post,
)

from activitypub.client import HttpRequest, HttpResponse
from activitypub.federation import ItemCaps, Request

A_HOST = "https://a.example"
SPY = "https://spy.example"


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for w in make_world():
        yield w


@pytest.fixture
def key_spy(world: World) -> list[str]:
    hits: list[str] = []

    def record(request: HttpRequest) -> HttpResponse:
        hits.append(request.url)
        return HttpResponse(404, {}, b"", request.url)

    world.net.route(SPY, record)
    return hits


def spy_signature() -> dict[str, str]:
    """A Signature header whose key lives on the spy host: a fetch would show."""
    return {
        "Signature": f'keyId="{SPY}/key",algorithm="rsa-sha256",'
        'headers="(request-target) host date digest",signature="AAAA"',
        "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
        "Digest": "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    }


async def test_s31_ten_megabytes_is_413_before_any_work(world: World, key_spy: list[str]) -> None:
    body = b'{"id": "' + b"x" * (10 * 1024 * 1024) + b'"'  # not even JSON
    start = time.monotonic()
    for content_type in ("application/activity+json", "image/png"):
        headers = {"Content-Type": content_type, **spy_signature()}
        await assert_rejected(world, Request.build("POST", L_INBOX, headers, body), 413)
    assert time.monotonic() - start < 2.0
    assert key_spy == []
    # just over the configured cap
    cap = world.ours.max_body
    over = Request.build("POST", L_INBOX, JSON_HEADERS, b" " * (cap + 1))
    await assert_rejected(world, over, 413)


async def test_s31_wrong_content_type_is_415(world: World, key_spy: list[str]) -> None:
    doc = activity("Create", ALICE, note(ALICE))
    for content_type in ("text/plain", "image/png", "application/x-www-form-urlencoded", ""):
        request = await signed_post(world, ALICE, doc, extra_headers={"Content-Type": content_type})
        await assert_rejected(world, request, 415)
    assert key_spy == []


def deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


async def test_s31_ten_thousand_levels_is_400(world: World, key_spy: list[str]) -> None:
    for body in (deep(10_000), "[" * 10_000 + "]" * 10_000):
        headers = {**JSON_HEADERS, **spy_signature()}
        request = Request.build("POST", L_INBOX, headers, body.encode())
        await assert_rejected(world, request, 400)
    assert key_spy == []
    # a correctly signed activity nested deeper than the cap (but parseable) is 400 too
    obj: dict[str, Any] = note(ALICE)
    for i in range(500):
        obj = note(ALICE, i + 2, inReplyTo=obj)
    doc = activity("Create", ALICE, obj)
    await assert_rejected(world, await signed_post(world, ALICE, doc), 400)
    # the process is fine afterwards
    assert (await post(world, ALICE, activity("Create", ALICE, note(ALICE), n=2))).status == 202


async def test_s31_high_cardinality(world: World) -> None:
    """Over a cap: 400, nothing stored, no handler (the default caps)."""
    tags = [
        {"type": "Hashtag", "name": f"#t{i}", "href": f"{A_HOST}/tags/t{i}"} for i in range(10_000)
    ]
    over = activity("Create", ALICE, note(ALICE, 1, tag=tags), n=1)
    await assert_rejected(world, await signed_post(world, ALICE, over), 400)
    to = [PUBLIC] + [f"https://h{i}.example/u" for i in range(10_000)]
    over = activity("Create", ALICE, note(ALICE, 2, to=to), n=2, to=to)
    await assert_rejected(world, await signed_post(world, ALICE, over), 400)
    # recipients count across to, cc and audience together
    split = activity("Create", ALICE, note(ALICE, 6), n=6, to=to[:600], cc=to[600:1200])
    await assert_rejected(world, await signed_post(world, ALICE, split), 400)
    options = [{"type": "Note", "name": f"option {i}"} for i in range(10_000)]
    question = dict(note(ALICE, 3), type="Question", oneOf=options)
    over = activity("Create", ALICE, question, n=3)
    await assert_rejected(world, await signed_post(world, ALICE, over), 400)
    mentions = [{"type": "Mention", "href": f"https://h{i}.example/u"} for i in range(5_000)]
    wide = dict(note(ALICE, 4), tag=mentions, attachment=[{"type": "Document"}] * 5_000)
    over = activity("Create", ALICE, wide, n=4)
    response = await assert_rejected(world, await signed_post(world, ALICE, over), 400)
    assert b"items" in response.body
    # at the caps: accepted
    at = dict(
        note(ALICE, 7),
        tag=tags[:1000],
        attachment=[{"type": "Document", "url": f"{A_HOST}/f/{i}"} for i in range(200)],
    )
    assert (await post(world, ALICE, activity("Create", ALICE, at, n=7))).status == 202


async def test_s31_caps_are_configurable(world: World) -> None:
    world.ours.item_caps = ItemCaps(tags=20_000, recipients=20_000)
    tags = [{"type": "Hashtag", "name": f"#t{i}"} for i in range(10_000)]
    many = activity("Create", ALICE, note(ALICE, 1, tag=tags), n=1)
    assert (await post(world, ALICE, many)).status == 202
    world.ours.item_caps = ItemCaps(tags=2)
    few = activity("Create", ALICE, note(ALICE, 2, tag=tags[:3]), n=2)
    await assert_rejected(world, await signed_post(world, ALICE, few), 400)
    assert (await post(world, ALICE, activity("Create", ALICE, note(ALICE, 5), n=5))).status == 202


def _verdict(caps: ItemCaps, document: dict[str, Any], body: bytes | None) -> bool:
    from activitypub.errors import TooManyItemsError
    from activitypub.federation.limits import check_items

    try:
        check_items(caps, document, body)
    except TooManyItemsError:
        return False
    return True


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_s31_comma_bound_never_changes_the_verdict(encoding: str) -> None:
    """Counting the body's commas may only skip the count when nothing can be over."""
    import json
    import random

    rng = random.Random(31)
    keys = ["to", "cc", "bto", "bcc", "audience", "tag", "attachment", "oneOf", "anyOf"]
    for _ in range(400):
        caps = ItemCaps(*(rng.randint(1, 6) for _ in range(4)))

        def node() -> dict[str, Any]:
            out: dict[str, Any] = {"type": "Note"}
            for key in rng.sample(keys, rng.randint(0, len(keys))):
                n = rng.randint(0, 8)
                out[key] = "x" if n == 1 and rng.random() < 0.5 else [f"i{j}" for j in range(n)]
            return out

        document = {**node(), "object": node()}
        for separators in ((",", ":"), (", ", ": ")):
            body = json.dumps(document, separators=separators).encode(encoding)
            assert _verdict(caps, document, body) == _verdict(caps, document, None)
    # what the bound skips: a small body under the default caps is never counted
    assert _verdict(ItemCaps(), {"to": ["a"] * 5}, b'{"to":["a","a","a","a","a"]}')
    # and a body whose commas reach the smallest cap is counted in full
    over = {"tag": list(range(3))}
    assert not _verdict(ItemCaps(tags=2), over, json.dumps(over).encode())
