"""The ``Federation``: one object that owns actors, handlers, storage and the client.

An application creates one, registers what it serves and how it reacts, and
mounts it into a web framework through an adapter::

    fed = Federation("https://blog.example", storage="sqlite:///blog.db")
    await fed.create_actor("blog", name="My blog")

    @fed.on(Follow)
    async def on_follow(ctx, follow): ...

    app = aiohttp_app(fed)

Built-in bookkeeping (followers, following, blocks, deletes) runs before the
application's handlers; requests are routed by :meth:`handle`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from activitypub import vocab
from activitypub.client import AddressPolicy, Client, Signer
from activitypub.errors import ActivityPubError
from activitypub.federation.context import InboxContext
from activitypub.federation.http import Request, Response
from activitypub.federation.limits import ItemCaps
from activitypub.federation.paths import INSTANCE_ACTOR, Paths
from activitypub.keys import PrivateKey
from activitypub.queue import Queue, queue_from_url
from activitypub.storage import (
    Following,
    LocalActor,
    Storage,
    StoredObject,
    storage_from_url,
)
from activitypub.urls import host_of, origin

__all__ = ["Federation", "Handler", "ObjectDispatcher", "UnknownActorError"]

log = logging.getLogger("activitypub")

N = TypeVar("N", bound=vocab.Node)
Handler = Callable[[InboxContext, Any], Awaitable[None]]
ObjectDispatcher = Callable[[Request, dict[str, str]], Awaitable[vocab.Object | None]]
ActorHook = Callable[[LocalActor, vocab.Actor], Awaitable[vocab.Actor] | vocab.Actor]

_ACTOR_TYPES: dict[str, type[vocab.Actor]] = {
    "Person": vocab.Person,
    "Group": vocab.Group,
    "Service": vocab.Service,
    "Application": vocab.Application,
    "Organization": vocab.Organization,
}


class UnknownActorError(ActivityPubError, LookupError):
    """No local actor has that identifier."""


class Federation:
    """A server's presence in the Fediverse.

    ``base_url`` is the origin of every id (``https://blog.example``).
    ``storage`` and ``queue`` take instances or URLs (``sqlite:///file.db``,
    ``memory://``); the inbox queue defaults to the storage's kind. With
    ``inline=True`` handlers run before the inbox answers (tests, small
    deployments) instead of from the durable queue. ``worker=False``: this
    process only accepts into the queue, and another one, holding the same
    handlers, storage and queue, processes it with :meth:`run_worker` (web
    and worker processes, as Mastodon runs Puma and Sidekiq).
    """

    def __init__(
        self,
        base_url: str,
        *,
        storage: Storage | str = "sqlite:///activitypub.db",
        queue: Queue | str | None = None,
        client: Client | None = None,
        paths: Paths | None = None,
        inline: bool = False,
        worker: bool = True,
        authorized_fetch: bool = False,
        allow_private_addresses: bool = False,
        max_body: int = 1 << 20,
        max_json_depth: int = 64,
        item_caps: ItemCaps | None = None,
        signature_window: float = 3600.0,
        software: tuple[str, str] = ("activitypub-python", "0.1.0"),
        open_registrations: bool = False,
        html_redirect: Callable[[str], str | None] | None = None,
    ) -> None:
        o = self._origin = origin(base_url)
        self.base_url = str(o)
        self.host = host_of(self.base_url)
        self.paths = paths or Paths()
        self.storage: Storage = storage_from_url(storage) if isinstance(storage, str) else storage
        if queue is None:
            # The inbox queue lives beside the storage: the same SQLite file, or memory.
            queue = storage if isinstance(storage, str) else "memory://"
        self.queue: Queue = queue_from_url(queue) if isinstance(queue, str) else queue
        self.policy = AddressPolicy(
            allow_loopback=allow_private_addresses, allow_private=allow_private_addresses
        )
        # An http:// federation is a test or private set-up: discover peers over http too.
        self.client = client or Client(
            policy=self.policy,
            user_agent=self.user_agent(software),
            discovery_scheme="http" if o.scheme == "http" else "https",
        )
        self.inline = inline
        self.worker = worker
        self.authorized_fetch = authorized_fetch
        self.max_body = max_body
        self.max_json_depth = max_json_depth
        self.item_caps = item_caps or ItemCaps()
        self.signature_window = signature_window
        self.software = software
        self.open_registrations = open_registrations
        self.html_redirect = html_redirect
        self.log = log
        self._handlers: dict[type[vocab.Node], list[Handler]] = defaultdict(list)
        self._objects: list[tuple[str, ObjectDispatcher]] = []
        self._actor_hooks: list[ActorHook] = []
        self._keys: dict[str, PrivateKey] = {}
        self._started = False
        self._worker: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        #: Seconds :meth:`stop` waits for a handler in progress before cancelling it.
        self.shutdown_grace = 10.0
        # Imported here: both modules need the Federation type and each other's pieces.
        from activitypub.federation.keycache import KeyCache

        self.keys = KeyCache(self)

    @staticmethod
    def user_agent(software: tuple[str, str]) -> str:
        return f"{software[0]}/{software[1]}"

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open storage and queue, create the instance actor, start the inbox worker."""
        if self._started:
            return
        await self.storage.open()
        await self.queue.open()
        if await self.storage.get_local_actor(INSTANCE_ACTOR) is None:
            await self._store_new_actor(INSTANCE_ACTOR, "Application", {}, False)
        self._started = True
        if not self.inline and self.worker:
            self._start_worker()

    def _start_worker(self) -> asyncio.Task[None]:
        from activitypub.federation.worker import run_inbox_worker

        if self._worker is None:
            self._stopping = asyncio.Event()
            self._worker = asyncio.create_task(
                run_inbox_worker(self, self._stopping), name="activitypub-inbox"
            )
        return self._worker

    async def run_worker(self) -> None:
        """Process the inbox queue until :meth:`stop`: a worker process's main
        loop (with ``worker=False`` in the processes that serve HTTP)."""
        await self.start()
        await asyncio.shield(self._start_worker())

    async def stop(self) -> None:
        if self._worker is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(self._worker, self.shutdown_grace)
            except TimeoutError:
                log.warning("inbox worker still busy after %ss: cancelled", self.shutdown_grace)
            self._worker = None
        if self._started:
            await self.client.aclose()
            await self.queue.close()
            await self.storage.close()
            self._started = False

    async def __aenter__(self) -> Federation:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- registration ------------------------------------------------------------

    def on(self, kind: type[N]) -> Callable[[Handler], Handler]:
        """Register an inbox handler for an activity class (subclasses included)."""

        def register(func: Handler) -> Handler:
            self._handlers[kind].append(func)
            return func

        return register

    def handlers_for(self, activity: vocab.Node) -> list[Handler]:
        return [h for kind, hs in self._handlers.items() if isinstance(activity, kind) for h in hs]

    def object(self, template: str) -> Callable[[ObjectDispatcher], ObjectDispatcher]:
        """Serve objects at ``template`` (``/articles/{slug}``) from a dispatcher.

        Objects the library stored (published through it) are served by id
        without a dispatcher.
        """

        def register(func: ObjectDispatcher) -> ObjectDispatcher:
            self._objects.append((template, func))
            return func

        return register

    def object_dispatchers(self) -> list[tuple[str, ObjectDispatcher]]:
        return list(self._objects)

    def actor_hook(self, func: ActorHook) -> ActorHook:
        """Adjust the actor document the library builds (add fields, icons ...)."""
        self._actor_hooks.append(func)
        return func

    # -- ids ------------------------------------------------------------------------

    def actor_id(self, identifier: str) -> str:
        return self.base_url + self.paths.actor_path(identifier)

    def inbox_id(self, identifier: str) -> str:
        return self.base_url + self.paths.inbox_path(identifier)

    def shared_inbox_id(self) -> str:
        return self.base_url + self.paths.shared_inbox

    def collection_id(self, identifier: str, name: str) -> str:
        return self.base_url + self.paths.collection_path(identifier, name)

    def followers(self, identifier: str) -> str:
        """The followers collection IRI, for addressing (``cc``)."""
        return self.collection_id(identifier, "followers")

    def key_id(self, identifier: str) -> str:
        return self.actor_id(identifier) + "#main-key"

    def new_id(self) -> str:
        """A fresh id for an object or activity we create (served from storage)."""
        return self.base_url + self.paths.objects.format(id=uuid.uuid4())

    def local_identifier(self, actor_id: str) -> str | None:
        """The identifier when ``actor_id`` is one of ours, else None."""
        if not actor_id.startswith(self.base_url + "/"):
            return None
        return self.paths.match_actor(actor_id[len(self.base_url) :])

    def is_local(self, iri: str) -> bool:
        try:
            return origin(iri) == self._origin
        except ActivityPubError:
            return False

    # -- local actors ---------------------------------------------------------------

    async def create_actor(
        self,
        identifier: str,
        *,
        type: str = "Person",
        manually_approves_followers: bool = False,
        **profile: Any,
    ) -> LocalActor:
        """Create (or return the existing) local actor with fresh RSA and Ed25519 keys.

        ``profile`` holds actor fields by their Python names (``name``,
        ``summary``, ``icon`` ...), written into the actor document.
        """
        if type not in _ACTOR_TYPES:
            raise ValueError(f"actor type must be one of {sorted(_ACTOR_TYPES)}")
        existing = await self.storage.get_local_actor(identifier)
        if existing is not None:
            return existing
        return await self._store_new_actor(identifier, type, profile, manually_approves_followers)

    async def _store_new_actor(
        self, identifier: str, type: str, profile: dict[str, Any], manual: bool
    ) -> LocalActor:
        rsa = PrivateKey.generate("rsa")
        ed = PrivateKey.generate("ed25519")
        actor = LocalActor(
            identifier=identifier,
            actor_type=type,
            profile=_profile_json(type, profile),
            private_key_pem=rsa.to_pem(),
            ed25519_private_multibase=ed.to_multibase(),
            manually_approves_followers=manual,
            created_at=time.time(),
        )
        await self.storage.put_local_actor(actor)
        return actor

    async def local_actor(self, identifier: str) -> LocalActor:
        actor = await self.storage.get_local_actor(identifier)
        if actor is None:
            raise UnknownActorError(identifier)
        return actor

    def private_key(self, actor: LocalActor) -> PrivateKey:
        key = self._keys.get(actor.identifier)
        if key is None:
            key = PrivateKey.from_pem(actor.private_key_pem, id=self.key_id(actor.identifier))
            self._keys[actor.identifier] = key
        return key

    async def signer(self, identifier: str = INSTANCE_ACTOR) -> Signer:
        """The signer for requests made on behalf of ``identifier`` (default: the server)."""
        actor = await self.local_actor(identifier)
        return Signer(key=self.private_key(actor), key_id=self.key_id(identifier))

    async def actor_document(self, actor: LocalActor) -> vocab.Actor:
        ident = actor.identifier
        actor_id = self.actor_id(ident)
        fields: dict[str, Any] = {
            "id": actor_id,
            "preferred_username": self.host if ident == INSTANCE_ACTOR else ident,
            "inbox": self.inbox_id(ident),
            "outbox": self.collection_id(ident, "outbox"),
            "followers": self.collection_id(ident, "followers"),
            "following": self.collection_id(ident, "following"),
            "endpoints": vocab.Endpoints(shared_inbox=self.shared_inbox_id()),
            "manually_approves_followers": actor.manually_approves_followers,
            "public_key": vocab.CryptographicKey.from_key(
                self.private_key(actor).public_key, id=self.key_id(ident), owner=actor_id
            ),
            "url": actor_id,
        }
        if ident != INSTANCE_ACTOR:
            fields["liked"] = self.collection_id(ident, "liked")
            fields["featured"] = self.collection_id(ident, "featured")
            fields["discoverable"] = True
        if actor.ed25519_private_multibase:
            ed = PrivateKey.from_multibase(actor.ed25519_private_multibase)
            fields["assertion_method"] = [
                vocab.Multikey.from_key(
                    ed.public_key, id=actor_id + "#ed25519-key", controller=actor_id
                )
            ]
        cls = _ACTOR_TYPES[actor.actor_type]
        base = (
            cls.from_json({**actor.profile, "type": actor.actor_type}) if actor.profile else cls()
        )
        doc: vocab.Actor = dataclasses.replace(base, **fields)
        for hook in self._actor_hooks:
            result = hook(actor, doc)
            doc = await result if inspect.isawaitable(result) else result
        return doc

    # -- requests ---------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """Answer one HTTP request (adapters call this)."""
        from activitypub.federation.routing import route

        return await route(self, request)

    # -- outgoing -------------------------------------------------------------------------

    async def fetch(self, url: str, *, by: str = INSTANCE_ACTOR) -> vocab.Node:
        """A signed GET of a remote document, parsed."""
        data = await self.client.get_document(url, signer=await self.signer(by))
        return vocab.parse(data)

    async def lookup(self, handle_or_url: str, *, by: str = INSTANCE_ACTOR) -> vocab.Node:
        """Resolve ``user@host`` (WebFinger) or a URL to its actor or object."""
        url = handle_or_url
        if not handle_or_url.startswith(("http://", "https://")):
            url = await self.client.lookup(handle_or_url)
        return await self.fetch(url, by=by)

    async def send(self, activity: vocab.Activity, inbox: str, *, by: str) -> int:
        """POST one signed activity to one inbox now; returns the status code."""
        signer = await self.signer(by)
        response = await self.client.post(inbox, activity.to_bytes(), signer=signer)
        return response.status

    async def follow(self, by: str, target: str) -> vocab.Follow:
        """Send a Follow; ``following`` becomes accepted when the Accept arrives."""
        actor = await self.lookup(target, by=by)
        if not isinstance(actor, vocab.Actor) or not actor.id or not actor.inbox:
            raise ActivityPubError(f"{target} is not an actor with an inbox")
        follow = vocab.Follow(id=self.new_id(), actor=self.actor_id(by), object=actor.id)
        inbox = vocab.id_of(actor.inbox)
        assert inbox is not None
        await self.storage.put_following(
            Following(by, actor.id, follow.id or "", "pending", inbox, time.time())
        )
        await self.send(follow, inbox, by=by)
        return follow

    async def unfollow(self, by: str, target_id: str) -> None:
        following = await self.storage.get_following(by, target_id)
        if following is None:
            return
        undo = vocab.Undo(
            id=self.new_id(),
            actor=self.actor_id(by),
            object=vocab.Follow(id=following.follow_id, actor=self.actor_id(by), object=target_id),
        )
        await self.storage.remove_following(by, target_id)
        if following.inbox:
            await self.send(undo, following.inbox, by=by)

    async def accept_follower(self, local: str, actor_id: str) -> None:
        """Approve a pending follower (for actors that approve followers manually)."""
        from activitypub.federation.bookkeeping import answer_follow

        await answer_follow(self, local, actor_id, accept=True)

    async def reject_follower(self, local: str, actor_id: str) -> None:
        from activitypub.federation.bookkeeping import answer_follow

        await answer_follow(self, local, actor_id, accept=False)

    async def publish(
        self,
        obj: vocab.Object | vocab.Activity,
        *,
        by: str,
        to: list[str] | None = None,
        cc: list[str] | None = None,
    ) -> vocab.Activity:
        """Store ``obj`` (wrapped in a Create when it is not an activity) and deliver it.

        Recipients: the followers when the followers collection is addressed,
        and every explicit actor. This sends directly; the durable fan-out
        with retries is the delivery queue's.
        """
        from activitypub.federation.publishing import publish

        return await publish(self, obj, by=by, to=to, cc=cc)

    async def stored(self, id: str) -> StoredObject | None:
        return await self.storage.get_object(id)


def _profile_json(actor_type: str, profile: dict[str, Any]) -> dict[str, Any]:
    """Profile fields as compact JSON, validated by the actor class they belong to."""
    if not profile:
        return {}
    data = _ACTOR_TYPES[actor_type](**profile).to_json()
    data.pop("@context", None)
    data.pop("type", None)
    return data
