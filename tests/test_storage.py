"""Conformance: every Storage method, same answers from memory and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from activitypub.storage import (
    CachedDocument,
    Follower,
    Following,
    LocalActor,
    MemoryStorage,
    SqliteStorage,
    Storage,
    StoredObject,
    storage_from_url,
)

A = "https://remote.example/users/alice"
B = "https://remote.example/users/bob"
SHARED = "https://remote.example/inbox"


@pytest.fixture(params=["memory", "sqlite", "sqlite-unbatched"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    s: Storage = (
        MemoryStorage()
        if request.param == "memory"
        else SqliteStorage(tmp_path / "t.db", group_commit=request.param == "sqlite")
    )
    await s.open()
    await s.open()  # idempotent
    yield s
    await s.close()


def follower(actor: str, local: str = "blog", **kw: object) -> Follower:
    kw.setdefault("inbox", actor + "/inbox")
    return Follower(local=local, actor_id=actor, **kw)  # type: ignore[arg-type]


def test_backends_satisfy_protocol() -> None:
    assert isinstance(MemoryStorage(), Storage)
    assert isinstance(SqliteStorage(":memory:"), Storage)


async def test_local_actors_round_trip_and_upsert(storage: Storage) -> None:
    actor = LocalActor(
        identifier="blog",
        actor_type="Service",
        profile={"name": "Blög ✍️", "summary": "<p>'; DROP TABLE x; --</p>", "n": [1, 2.5]},
        private_key_pem="-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n",
        ed25519_private_multibase="z3u2en7t5LR2WtQH5PfsqMUcrs4T1Yb",
        manually_approves_followers=True,
        created_at=1700000000.25,
    )
    await storage.put_local_actor(actor)
    assert await storage.get_local_actor("blog") == actor
    assert await storage.get_local_actor("nobody") is None
    changed = LocalActor(identifier="blog", profile={"name": "new"})
    await storage.put_local_actor(changed)
    assert await storage.get_local_actor("blog") == changed
    await storage.put_local_actor(LocalActor(identifier="alice"))
    assert [a.identifier for a in await storage.list_local_actors()] == ["alice", "blog"]
    assert await storage.delete_local_actor("blog")
    assert not await storage.delete_local_actor("blog")
    assert [a.identifier for a in await storage.list_local_actors()] == ["alice"]


async def test_returned_data_is_a_copy(storage: Storage) -> None:
    data = {"id": "https://x.example/1", "tags": ("a", "b")}
    await storage.put_object(StoredObject(id="https://x.example/1", type="Note", data=data))
    data["id"] = "changed"
    got = await storage.get_object("https://x.example/1")
    assert got is not None
    assert got.data == {"id": "https://x.example/1", "tags": ["a", "b"]}  # JSON semantics
    got.data["id"] = "mutated"
    again = await storage.get_object("https://x.example/1")
    assert again is not None and again.data["id"] == "https://x.example/1"


async def test_followers_round_trip_order_and_pages(storage: Storage) -> None:
    full = Follower(
        local="blog",
        actor_id=A,
        inbox=A + "/inbox",
        shared_inbox=SHARED,
        follow_id="https://remote.example/follows/1",
        state="pending",
        created_at=5.0,
    )
    await storage.put_follower(full)
    assert await storage.get_follower("blog", A) == full
    assert await storage.get_follower("other", A) is None
    # oldest first by created_at, ties in insertion order
    for i in range(10):
        await storage.put_follower(follower(f"https://r.example/u/{i}", created_at=float(i % 3)))
    listed = await storage.list_followers("blog")
    assert [f.actor_id for f in listed] == [
        f"https://r.example/u/{i}" for i in (0, 3, 6, 9, 1, 4, 7, 2, 5, 8)
    ]
    assert await storage.count_followers("blog") == 10
    assert await storage.count_followers("blog", state="pending") == 1
    assert await storage.count_followers("blog", state=None) == 11
    assert [f.actor_id for f in await storage.list_followers("blog", state="pending")] == [A]
    # pages tile the list exactly
    pages = [await storage.list_followers("blog", offset=o, limit=3) for o in range(0, 12, 3)]
    assert [f for page in pages for f in page] == listed
    assert await storage.list_followers("blog", offset=10) == []
    assert await storage.list_followers("blog", limit=0) == []
    # a new follower does not disturb earlier pages
    await storage.put_follower(follower("https://r.example/late", created_at=100.0))
    assert await storage.list_followers("blog", limit=3) == pages[0]
    # upsert replaces every field but keeps the place among equal created_at
    accepted = Follower(
        local="blog", actor_id="https://r.example/u/3", inbox="https://new/inbox", created_at=0.0
    )
    await storage.put_follower(accepted)
    assert await storage.get_follower("blog", "https://r.example/u/3") == accepted
    assert (await storage.list_followers("blog", limit=2))[1] == accepted
    assert await storage.remove_follower("blog", A)
    assert not await storage.remove_follower("blog", A)
    assert await storage.count_followers("blog", state=None) == 11  # 10 + late


async def test_followers_are_per_local_actor(storage: Storage) -> None:
    await storage.put_follower(follower(A, local="blog"))
    await storage.put_follower(follower(A, local="news"))
    assert await storage.count_followers("blog") == 1
    assert await storage.remove_follower("news", A)
    assert await storage.get_follower("blog", A) is not None


async def test_remove_followers_by_inbox_matches_inbox_or_shared(storage: Storage) -> None:
    await storage.put_follower(follower(A, shared_inbox=SHARED))
    await storage.put_follower(follower(B, inbox=SHARED))
    await storage.put_follower(follower(A, local="news", shared_inbox=SHARED))
    await storage.put_follower(follower("https://else.example/c", shared_inbox="https://else/in"))
    assert await storage.remove_followers_by_inbox(SHARED) == 3
    assert await storage.count_followers("blog") == 1
    assert await storage.remove_followers_by_inbox(SHARED) == 0
    assert await storage.remove_followers_by_inbox("https://else.example/c/inbox") == 1


async def test_following(storage: Storage) -> None:
    f = Following(
        local="blog", actor_id=A, follow_id="https://me/f/1", inbox=A + "/inbox", created_at=1.0
    )
    await storage.put_following(f)
    assert await storage.get_following("blog", A) == f
    assert await storage.get_following_by_follow_id("https://me/f/1") == f
    assert await storage.get_following_by_follow_id("https://me/f/2") is None
    assert await storage.list_following("blog") == []  # pending by default is not listed
    assert await storage.list_following("blog", state="pending") == [f]
    assert await storage.count_following("blog", state=None) == 1
    accepted = Following(local="blog", actor_id=A, follow_id="https://me/f/1", state="accepted")
    await storage.put_following(accepted)
    assert await storage.list_following("blog") == [accepted]
    for i in range(5):
        await storage.put_following(
            Following("blog", f"https://r/{i}", f"https://me/f/x{i}", "accepted", None, 10.0 - i)
        )
    got = await storage.list_following("blog", offset=1, limit=3)
    assert [g.actor_id for g in got] == ["https://r/4", "https://r/3", "https://r/2"]
    assert await storage.count_following("blog") == 6
    assert await storage.remove_following("blog", A)
    assert not await storage.remove_following("blog", A)
    assert await storage.get_following_by_follow_id("https://me/f/1") is None


async def test_remove_remote_actor_everywhere(storage: Storage) -> None:
    await storage.put_follower(follower(A))
    await storage.put_follower(follower(A, local="news"))
    await storage.put_follower(follower(B))
    await storage.put_following(Following(local="blog", actor_id=A, follow_id="https://me/f/1"))
    await storage.put_cached(CachedDocument(A, {"id": A}, 1.0, 2.0))
    await storage.put_cached(CachedDocument(A + "#main-key", {"id": A}, 1.0, 2.0))
    await storage.put_cached(CachedDocument(A + "x", {"id": "other"}, 1.0, 2.0))
    await storage.put_cached(CachedDocument(B, {"id": B}, 1.0, 2.0))
    await storage.put_block("blog", A)
    assert await storage.remove_remote_actor(A) == 5
    assert await storage.get_follower("blog", A) is None
    assert await storage.get_following("blog", A) is None
    assert await storage.get_cached(A) is None
    assert await storage.get_cached(A + "#main-key") is None
    assert await storage.get_cached(A + "x") is not None
    assert await storage.get_cached(B) is not None
    assert await storage.get_follower("blog", B) is not None
    assert await storage.is_blocked("blog", A)  # a block outlives the actor
    assert await storage.remove_remote_actor(A) == 0


async def test_objects_upsert_and_tombstone(storage: Storage) -> None:
    obj = StoredObject(
        id="https://me/notes/1",
        type="Note",
        data={"id": "https://me/notes/1", "type": "Note", "content": "日本語 ünï 🎉 \u0000 \\"},
        local="blog",
        attributed_to="https://me/blog",
        visibility="followers",
        published=1700000000.5,
    )
    await storage.put_object(obj)
    assert await storage.get_object(obj.id) == obj
    edited = StoredObject(id=obj.id, type="Article", data={"id": obj.id, "name": "x"})
    await storage.put_object(edited)
    assert await storage.get_object(obj.id) == edited
    assert await storage.get_object("https://me/nope") is None
    assert await storage.delete_object(obj.id)
    tomb = await storage.get_object(obj.id)
    assert tomb == StoredObject(
        id=obj.id, type="Article", data={"id": obj.id, "type": "Article"}, deleted=True
    )
    assert not await storage.delete_object(obj.id)  # already a tombstone
    assert not await storage.delete_object("https://me/nope")
    assert await storage.get_object("https://me/nope") is None


async def test_tombstone_keeps_ownership(storage: Storage) -> None:
    obj = StoredObject("https://me/n/2", "Note", {"content": "x"}, "blog", "https://me/blog")
    await storage.put_object(obj)
    await storage.delete_object(obj.id)
    tomb = await storage.get_object(obj.id)
    assert tomb is not None and tomb.deleted
    assert (tomb.local, tomb.attributed_to) == ("blog", "https://me/blog")
    assert tomb.data == {"id": obj.id, "type": "Note"}


async def test_collections_newest_first(storage: Storage) -> None:
    for i in range(7):
        assert await storage.add_to_collection("blog", "outbox", f"https://me/a/{i}", added_at=i)
    assert not await storage.add_to_collection("blog", "outbox", "https://me/a/3", added_at=99)
    # equal times: the later addition counts as newer
    assert await storage.add_to_collection("blog", "outbox", "https://me/a/6b", added_at=6)
    listed = await storage.list_collection("blog", "outbox")
    expected = ["https://me/a/6b", *(f"https://me/a/{i}" for i in range(6, -1, -1))]
    assert listed == expected
    pages = [await storage.list_collection("blog", "outbox", offset=o, limit=3) for o in (0, 3, 6)]
    assert [item for page in pages for item in page] == expected
    assert await storage.count_collection("blog", "outbox") == 8
    assert await storage.count_collection("blog", "liked") == 0
    assert await storage.list_collection("news", "outbox") == []
    assert await storage.remove_from_collection("blog", "outbox", "https://me/a/3")
    assert not await storage.remove_from_collection("blog", "outbox", "https://me/a/3")
    assert not await storage.remove_from_collection("blog", "liked", "https://me/a/4")
    assert "https://me/a/3" not in await storage.list_collection("blog", "outbox", limit=100)
    assert await storage.add_to_collection("blog", "outbox", "https://me/a/3", added_at=50)
    assert (await storage.list_collection("blog", "outbox", limit=1)) == ["https://me/a/3"]


async def test_mark_seen_and_forget(storage: Storage) -> None:
    assert await storage.mark_seen("blog", "https://r/act/1", at=10.0)
    assert not await storage.mark_seen("blog", "https://r/act/1", at=11.0)
    assert await storage.mark_seen("shared", "https://r/act/1", at=12.0)  # other scope
    assert await storage.mark_seen("blog", "https://r/act/2", at=20.0)
    assert await storage.forget_seen(before=12.0) == 1
    assert await storage.mark_seen("blog", "https://r/act/1", at=30.0)
    assert not await storage.mark_seen("shared", "https://r/act/1", at=30.0)


async def test_mark_seen_races_yield_one_winner(storage: Storage) -> None:
    for round_ in range(5):
        results = await asyncio.gather(
            *(storage.mark_seen("blog", f"https://r/dup/{round_}", at=1.0) for _ in range(50))
        )
        assert results.count(True) == 1


async def test_cache_with_negative_entries(storage: Storage) -> None:
    doc = CachedDocument(A, {"id": A, "name": "Älice"}, 1.0, 3601.0)
    await storage.put_cached(doc)
    assert await storage.get_cached(A) == doc
    failure = CachedDocument(B, None, 1.0, 61.0, error="HTTP 410")
    await storage.put_cached(failure)
    assert await storage.get_cached(B) == failure
    fresh = CachedDocument(B, {"id": B}, 100.0, 200.0)
    await storage.put_cached(fresh)
    assert await storage.get_cached(B) == fresh
    assert await storage.drop_cached(B)
    assert not await storage.drop_cached(B)
    assert await storage.get_cached(B) is None


async def test_blocks(storage: Storage) -> None:
    await storage.put_block("blog", A)
    await storage.put_block("blog", A)  # idempotent
    assert await storage.is_blocked("blog", A)
    assert not await storage.is_blocked("news", A)
    assert not await storage.is_blocked("blog", B)
    assert await storage.remove_block("blog", A)
    assert not await storage.remove_block("blog", A)
    assert not await storage.is_blocked("blog", A)


async def test_domain_blocks_are_case_insensitive_and_cover_subdomains(storage: Storage) -> None:
    await storage.block_domain("Evil.Example")
    await storage.block_domain("evil.example")
    for host in (
        "evil.example",
        "EVIL.EXAMPLE",
        "evil.example.",
        "a.b.Evil.example",
        "evil.example:8443",
    ):
        assert await storage.is_domain_blocked(host), host
    for host in ("notevil.example", "example", "evil.example.org", ""):
        assert not await storage.is_domain_blocked(host), host
    assert await storage.unblock_domain("EVIL.example")
    assert not await storage.unblock_domain("evil.example")
    assert not await storage.is_domain_blocked("evil.example")


HOSTILE_IDS = [
    "'; DROP TABLE followers; --",
    'a"b\\c',
    "100% _wild_ [x] %",
    "null\u0000byte",
    "https://例え.テスト/ユーザー/🦊",
    "x" * 100_000,
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
async def test_hostile_ids_are_plain_data(storage: Storage, hostile: str) -> None:
    await storage.put_follower(follower(hostile, inbox=hostile, shared_inbox=hostile))
    await storage.put_follower(follower(A))
    assert (await storage.get_follower("blog", hostile)) == follower(
        hostile, inbox=hostile, shared_inbox=hostile
    )
    assert await storage.mark_seen(hostile, hostile, at=1.0)
    assert not await storage.mark_seen(hostile, hostile, at=1.0)
    await storage.put_object(StoredObject(hostile, hostile, {hostile: hostile}))
    assert await storage.get_object(hostile) == StoredObject(hostile, hostile, {hostile: hostile})
    assert await storage.add_to_collection(hostile, hostile, hostile)
    assert await storage.list_collection(hostile, hostile) == [hostile]
    await storage.put_cached(CachedDocument(hostile, {"v": hostile}, 0.0, 1.0, hostile))
    await storage.put_cached(CachedDocument(hostile + "%", {}, 0.0, 1.0))
    assert await storage.remove_remote_actor(hostile) == 2  # follower + cache, not the "%" one
    assert await storage.get_cached(hostile + "%") is not None
    assert await storage.count_followers("blog") == 1


async def test_lone_surrogates_in_data_round_trip(storage: Storage) -> None:
    data = {"content": "broken \ud800 text", "\udfff": 1}
    await storage.put_object(StoredObject("https://r/s", "Note", data))
    got = await storage.get_object("https://r/s")
    assert got is not None and got.data == data


def test_storage_from_url(tmp_path: Path) -> None:
    assert isinstance(storage_from_url("memory://"), MemoryStorage)
    absolute = storage_from_url(f"sqlite:///{tmp_path}/a.db")  # sqlite:////tmp/...
    assert isinstance(absolute, SqliteStorage) and absolute.path == f"{tmp_path}/a.db"
    relative = storage_from_url("sqlite:///data/x.db")
    assert isinstance(relative, SqliteStorage) and relative.path == "data/x.db"
    for url in ("sqlite://", "sqlite://:memory:"):
        memory = storage_from_url(url)
        assert isinstance(memory, SqliteStorage) and memory.path == ":memory:"
    for bad in ("postgres://db/x", "sqlite:x.db", "/tmp/x.db", "sqlite:///", "sqlite://host/x"):
        with pytest.raises(ValueError):
            storage_from_url(bad)


async def test_sqlite_in_memory_url_works() -> None:
    storage = storage_from_url("sqlite://")
    await storage.open()
    assert await storage.mark_seen("s", "a", at=1.0)
    assert not await storage.mark_seen("s", "a", at=1.0)
    await storage.close()
