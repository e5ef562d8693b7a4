"""Serving actors, objects and collections, with content negotiation and authorized fetch.

ActivityPub clients get JSON (``application/activity+json`` or ``ld+json``
with the ActivityStreams profile); a browser gets the application's HTML page
(a redirect) or a 406. With authorized fetch on, every GET but the instance
actor's must be signed (Mastodon keeps that one public, or no server could
fetch the key that signs its own fetches), and followers-only objects go only
to followers' servers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activitypub import vocab
from activitypub.errors import ActivityPubError, SignatureError
from activitypub.federation.http import AP_CONTENT_TYPE, Request, Response
from activitypub.federation.paths import INSTANCE_ACTOR
from activitypub.federation.verify import SignedBy, has_http_signature, verify_http_signature
from activitypub.storage import StoredObject
from activitypub.urls import origin

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["PAGE_SIZE", "serve_actor", "serve_collection", "serve_object", "wants_activitypub"]

PAGE_SIZE = 20
_AS_PROFILE = "https://www.w3.org/ns/activitystreams"


def wants_activitypub(request: Request) -> bool:
    """True when the Accept header asks for ActivityPub JSON (any q > 0)."""
    for part in request.headers.get("Accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media == "application/activity+json":
            return True
        if media == "application/ld+json":
            return True  # with or without the AS profile: some servers omit it
    return False


def _json(node: vocab.Node, fed: Federation) -> Response:
    response = Response(200, node.to_bytes(), {"Content-Type": AP_CONTENT_TYPE})
    if fed.authorized_fetch:
        response.headers["Vary"] = "Accept, Signature"
    else:
        response.headers["Vary"] = "Accept"
    return response


def _html(fed: Federation, iri: str) -> Response:
    target = fed.html_redirect(iri) if fed.html_redirect else None
    if target:
        return Response(302, b"", {"Location": target, "Vary": "Accept"})
    return Response.error(406, "this resource is served as ActivityPub JSON only")


async def _signed_fetcher(fed: Federation, request: Request) -> SignedBy | Response | None:
    """Under authorized fetch, the verified signer, or the refusal to send."""
    if not fed.authorized_fetch:
        if has_http_signature(request):
            try:
                return await verify_http_signature(fed, request)
            except ActivityPubError:
                return None
        return None
    try:
        return await verify_http_signature(fed, request)
    except SignatureError as exc:
        return Response.error(401, f"authorized fetch: {exc}")


async def _blocked(fed: Federation, signed: SignedBy | None) -> bool:
    return signed is not None and await fed.storage.is_domain_blocked(origin(signed.owner).host)


async def serve_actor(fed: Federation, request: Request, identifier: str) -> Response:
    actor = await fed.storage.get_local_actor(identifier)
    if actor is None:
        return Response.error(404, "no such actor")
    iri = fed.actor_id(identifier)
    if not wants_activitypub(request):
        return _html(fed, iri)
    if identifier != INSTANCE_ACTOR:
        signed = await _signed_fetcher(fed, request)
        if isinstance(signed, Response):
            return signed
        if await _blocked(fed, signed):
            return Response.error(403, "blocked")
    return _json(await fed.actor_document(actor), fed)


async def serve_object(
    fed: Federation, request: Request, node: vocab.Node | StoredObject
) -> Response:
    iri = node.id or ""
    if not wants_activitypub(request):
        return _html(fed, iri)
    signed = await _signed_fetcher(fed, request)
    if isinstance(signed, Response):
        return signed
    if await _blocked(fed, signed):
        return Response.error(403, "blocked")
    if isinstance(node, StoredObject):
        if node.deleted:
            return Response.json(
                {"@context": _AS_PROFILE, "id": node.id, "type": "Tombstone"}, status=410
            )
        if node.visibility in ("followers", "direct") and not await _may_see(fed, node, signed):
            return Response.error(404, "not found")
        return Response.json(node.data)
    return _json(node, fed)


async def _may_see(fed: Federation, obj: StoredObject, signed: SignedBy | None) -> bool:
    """Followers-only: the signer must be an accepted follower of the owner, or addressed."""
    if signed is None:
        return False
    addressed = vocab.ids_of(obj.data.get("to")) + vocab.ids_of(obj.data.get("cc"))
    if signed.owner in addressed:
        return True
    if obj.visibility != "followers" or obj.local is None:
        return False
    follower = await fed.storage.get_follower(obj.local, signed.owner)
    return follower is not None and follower.state == "accepted"


async def serve_collection(
    fed: Federation, request: Request, identifier: str, name: str
) -> Response:
    if await fed.storage.get_local_actor(identifier) is None:
        return Response.error(404, "no such actor")
    signed = await _signed_fetcher(fed, request)
    if isinstance(signed, Response):
        return signed
    collection_id = fed.collection_id(identifier, name)
    total = await _count(fed, identifier, name)
    page_arg = request.query_param("page")
    if page_arg is None:
        collection = vocab.OrderedCollection(
            id=collection_id,
            total_items=total,
            first=f"{collection_id}?page=1",
            last=f"{collection_id}?page={max(1, -(-total // PAGE_SIZE))}",
        )
        return _json(collection, fed)
    try:
        page = int(page_arg)
    except ValueError:
        return Response.error(400, "page must be a number")
    if page < 1 or page > 1_000_000:
        return Response.error(400, "page out of range")
    items = await _items(fed, identifier, name, (page - 1) * PAGE_SIZE)
    page_doc = vocab.OrderedCollectionPage(
        id=f"{collection_id}?page={page}",
        part_of=collection_id,
        total_items=total,
        ordered_items=items,
        next=f"{collection_id}?page={page + 1}" if page * PAGE_SIZE < total else None,
        prev=f"{collection_id}?page={page - 1}" if page > 1 else None,
    )
    return _json(page_doc, fed)


async def _count(fed: Federation, identifier: str, name: str) -> int:
    if name == "followers":
        return await fed.storage.count_followers(identifier)
    if name == "following":
        return await fed.storage.count_following(identifier)
    return await fed.storage.count_collection(identifier, name)


async def _items(fed: Federation, identifier: str, name: str, offset: int) -> list[Any]:
    if name == "followers":
        return [
            f.actor_id
            for f in await fed.storage.list_followers(identifier, offset=offset, limit=PAGE_SIZE)
        ]
    if name == "following":
        return [
            f.actor_id
            for f in await fed.storage.list_following(identifier, offset=offset, limit=PAGE_SIZE)
        ]
    items: list[Any] = []
    for item_id in await fed.storage.list_collection(
        identifier, name, offset=offset, limit=PAGE_SIZE
    ):
        stored = await fed.storage.get_object(item_id)
        if stored is None:
            items.append(item_id)  # not ours to embed: the IRI is enough
        elif not stored.deleted and stored.visibility in ("public", "unlisted"):
            items.append(vocab.parse(stored.data))
    return items
