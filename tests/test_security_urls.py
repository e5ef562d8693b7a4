"""Security case S-04: hosts are compared only as parsed origins (CVE-2023-42451).

Property tests of :mod:`activitypub.urls`, the one canonical comparison, and
its use where the inbox decides who is who.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from security_kit import (
    ALICE,
    World,
    activity,
    assert_rejected,
    key_of,
    make_world,
    note,
    post,
    sign_with,
    signed_post,
)

from activitypub.client.webfinger import parse_handle
from activitypub.errors import ActivityPubError, KeyUnavailableError, ParseError
from activitypub.urls import origin, same_origin

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
hosts = st.lists(label, min_size=2, max_size=4).map(".".join)
path_chars = st.text(
    st.characters(codec="ascii", exclude_characters="#?\\@\r\n\t \x00", min_codepoint=33),
    max_size=30,
)


@given(host=hosts, path=path_chars, tail=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True))
def test_s04_path_never_leaks_into_the_host(host: str, path: str, tail: str) -> None:
    # mastodon.so + "/cial" is mastodon.so, never mastodon.social
    assert origin(f"https://{host}/{path}").host == host
    assert origin(f"https://{host}/{tail}").host == host
    assert not same_origin(f"https://{host}/{tail}", f"https://{host}{tail}")


def test_s04_the_mastodon_case() -> None:
    assert not same_origin("https://mastodon.so/cial", "https://mastodon.social")
    assert origin("https://mastodon.so/cial").host == "mastodon.so"
    with pytest.raises(ActivityPubError):
        parse_handle("user@mastodon.so/cial")


@given(host=hosts)
def test_s04_one_canonical_form(host: str) -> None:
    canonical = origin(f"https://{host}")
    for spelling in (
        f"https://{host.upper()}",
        f"https://{host}.",
        f"https://{host}:443",
        f"HTTPS://{host}/a/b?c#d",
        f"https://{host.upper()}.:443/x",
    ):
        assert origin(spelling) == canonical, spelling
    assert origin(f"http://{host}:80/") == origin(f"http://{host}")
    assert origin(f"http://{host}") != canonical
    assert origin(f"https://{host}:8443") != canonical
    assert origin(f"https://{host}:80") != canonical
    assert str(canonical) == f"https://{host}"


@given(a=hosts, b=hosts)
def test_s04_user_info_is_never_the_host(a: str, b: str) -> None:
    for url in (f"https://{b}@{a}/", f"https://{b}:pw@{a}/x", f"https://{a}\\@{b}/"):
        with pytest.raises(ParseError):
            origin(url)
        assert not same_origin(url, f"https://{a}/")
        assert not same_origin(url, f"https://{b}/")


@given(a=hosts, b=hosts)
def test_s04_look_alike_hosts_differ(a: str, b: str) -> None:
    if a == b:
        return
    assert not same_origin(f"https://{a}", f"https://{b}")
    assert not same_origin(f"https://{a}.{b}", f"https://{a}")
    if f"{a}.{b}" != f"{b}.{a}":
        assert not same_origin(f"https://{a}.{b}", f"https://{b}.{a}")
    assert not same_origin(f"https://{a}-{b}", f"https://{a}")


def test_s04_idna_hosts() -> None:
    assert origin("https://BÜCHER.example/x") == origin("https://xn--bcher-kva.example")
    assert not same_origin("https://bücher.example", "https://bucher.example")
    for bad in (
        "https:///x",
        "https://",
        "ftp://a.example/",
        "acct:alice@a.example",
        "//a.example",
    ):
        assert not same_origin(bad, bad)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async for w in make_world():
        yield w


async def test_s04_acct_key_ids_are_refused(world: World) -> None:
    for key_id in ("acct:alice@a.example/cial", "acct:alice@a.example", "a.example/users/alice"):
        with pytest.raises(KeyUnavailableError):
            await world.ours.keys.key(key_id)
        request = sign_with(
            await key_of(world, ALICE), key_id, activity("Create", ALICE, note(ALICE))
        )
        await assert_rejected(world, request, 401)


async def test_s04_inbox_compares_origins_not_strings(world: World) -> None:
    # the same origin, spelled differently: accepted
    doc = activity("Create", ALICE, note(ALICE))
    doc["id"] = "https://A.EXAMPLE.:443/activities/x"
    assert (await post(world, ALICE, doc)).status == 202
    # another host behind user info or a look-alike: refused
    for n, bad in enumerate(
        (
            "https://a.example@b.example/activities/1",
            "https://b.example@a.example/activities/2",
            "https://a.example.b.example/activities/3",
            "https://a.example:8443/activities/4",
            "http://a.example/activities/5",
        )
    ):
        doc = activity("Create", ALICE, note(ALICE, n + 10), n=n + 10)
        doc["id"] = bad
        await assert_rejected(world, await signed_post(world, ALICE, doc), 401)
