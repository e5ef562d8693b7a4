"""Built-in effects of received activities, run before the application's handlers.

Follow records a follower and answers Accept (or waits, for actors that
approve followers manually); Undo(Follow) removes it; Accept/Reject of our
Follow updates ``following``; Delete of an actor forgets it; Delete of an
object leaves a tombstone; Block ends both follow relations; Create and
Update store the object.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from activitypub import vocab
from activitypub.errors import ActivityPubError
from activitypub.federation.authorize import answered_following
from activitypub.federation.context import InboxContext
from activitypub.storage import Follower, FollowState, StoredObject

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["answer_follow", "apply"]


async def apply(fed: Federation, ctx: InboxContext, activity: vocab.Activity) -> None:
    if isinstance(activity, vocab.Follow):
        await _follow(fed, ctx, activity)
    elif isinstance(activity, vocab.Undo):
        await _undo(fed, activity)
    elif isinstance(activity, vocab.Accept | vocab.Reject):
        await _answer(fed, activity)
    elif isinstance(activity, vocab.Delete):
        await _delete(fed, activity)
    elif isinstance(activity, vocab.Block):
        await _block(fed, activity)
    elif isinstance(activity, vocab.Create | vocab.Update):
        await _store(fed, activity)


async def _follow(fed: Federation, ctx: InboxContext, follow: vocab.Follow) -> None:
    local = fed.local_identifier(vocab.id_of(follow.object) or "")
    follower_id = vocab.id_of(follow.actor)
    if local is None or follower_id is None:
        return
    actor = await fed.storage.get_local_actor(local)
    if actor is None:
        return
    remote = await fed.keys.actor(follower_id)
    inbox = remote.get("inbox")
    endpoints = remote.get("endpoints")
    shared = endpoints.get("sharedInbox") if isinstance(endpoints, dict) else None
    if not isinstance(inbox, str):
        return
    state: FollowState = "pending" if actor.manually_approves_followers else "accepted"
    await fed.storage.put_follower(
        Follower(
            local=local,
            actor_id=follower_id,
            inbox=inbox,
            shared_inbox=shared if isinstance(shared, str) else None,
            follow_id=follow.id,
            state=state,
            created_at=time.time(),
        )
    )
    if state == "accepted":
        await _send_answer(fed, local, follower_id, follow, inbox, accept=True)


async def answer_follow(fed: Federation, local: str, follower_id: str, *, accept: bool) -> None:
    """Accept or reject a pending follower (the application's decision)."""
    follower = await fed.storage.get_follower(local, follower_id)
    if follower is None:
        raise ActivityPubError(f"{follower_id} has not asked to follow {local}")
    follow = vocab.Follow(id=follower.follow_id, actor=follower_id, object=fed.actor_id(local))
    if accept:
        await fed.storage.put_follower(dataclasses.replace(follower, state="accepted"))
    else:
        await fed.storage.remove_follower(local, follower_id)
    await _send_answer(fed, local, follower_id, follow, follower.inbox, accept=accept)


async def _send_answer(
    fed: Federation, local: str, follower_id: str, follow: vocab.Follow, inbox: str, *, accept: bool
) -> None:
    # The Follow is embedded: Lemmy requires it, Mastodon accepts it.
    kind = vocab.Accept if accept else vocab.Reject
    answer = kind(
        id=fed.new_id(),
        actor=fed.actor_id(local),
        object=follow,
        to=[follower_id],
    )
    await fed.send(answer, inbox, by=local)


async def _undo(fed: Federation, undo: vocab.Undo) -> None:
    inner = undo.object
    actor = vocab.id_of(undo.actor)
    if isinstance(inner, vocab.Follow):
        local = fed.local_identifier(vocab.id_of(inner.object) or "")
        if local is not None and actor is not None:
            await fed.storage.remove_follower(local, actor)


async def _answer(fed: Federation, answer: vocab.Accept | vocab.Reject) -> None:
    following = await answered_following(fed, answer.object)
    if following is None:
        return
    if isinstance(answer, vocab.Accept):
        await fed.storage.put_following(dataclasses.replace(following, state="accepted"))
    else:
        await fed.storage.remove_following(following.local, following.actor_id)


async def _delete(fed: Federation, delete: vocab.Delete) -> None:
    target = vocab.id_of(delete.object)
    actor = vocab.id_of(delete.actor)
    if target is None:
        return
    if target == actor:
        await fed.storage.remove_remote_actor(target)
        fed.keys.evict(target)  # its parsed keys too: they verify nothing more
        return
    if await fed.storage.get_object(target) is None:
        # Remember the tombstone: a Create arriving after its Delete is refused (S-21).
        await fed.storage.put_object(
            StoredObject(id=target, type="Tombstone", data={}, attributed_to=actor)
        )
    await fed.storage.delete_object(target)


async def _block(fed: Federation, block: vocab.Block) -> None:
    local = fed.local_identifier(vocab.id_of(block.object) or "")
    actor = vocab.id_of(block.actor)
    if local is not None and actor is not None:
        await fed.storage.remove_follower(local, actor)
        await fed.storage.remove_following(local, actor)


async def _store(fed: Federation, activity: vocab.Create | vocab.Update) -> None:
    obj = activity.object
    if not isinstance(obj, vocab.Object) or obj.id is None or isinstance(obj, vocab.Actor):
        return
    data: dict[str, Any] = obj.to_json()
    authors = vocab.ids_of(obj.attributed_to)
    await fed.storage.put_object(
        StoredObject(
            id=obj.id,
            type=data.get("type", "Object") if isinstance(data.get("type"), str) else "Object",
            data=data,
            attributed_to=authors[0] if authors else vocab.id_of(activity.actor),
            visibility=_visibility(obj, activity),
            published=obj.published.timestamp() if obj.published else time.time(),
        )
    )


def _visibility(obj: vocab.Object, activity: vocab.Activity) -> Any:
    if vocab.is_public(obj.to) or vocab.is_public(activity.to):
        return "public"
    if vocab.is_public(obj.cc) or vocab.is_public(activity.cc):
        return "unlisted"
    return "direct" if not obj.cc else "followers"
