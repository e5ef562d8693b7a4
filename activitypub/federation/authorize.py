"""Who may do what: rules a verified sender must still pass.

Only an object's author may Update or Delete it (S-19, S-21); only an
activity's actor may Undo it (S-22); only the followed actor may Accept or
Reject our Follow (S-19); nobody remote may Create, Update or Delete objects
on our host (S-20). Failures raise :class:`UnauthorizedActivityError`.

:func:`authorize_early` holds the rules that need no storage: the inbox
runs them before it answers, and refuses with 403. :func:`authorize` holds
them all (again, on the object as refetched) plus those that read storage
(the stored object's author, tombstones, the Follow an Accept answers); the
inbox worker runs it before bookkeeping and handlers, and drops what fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from activitypub import vocab
from activitypub.errors import UnauthorizedActivityError
from activitypub.storage import Following
from activitypub.urls import same_origin

if TYPE_CHECKING:
    from activitypub.federation.federation import Federation

__all__ = ["answered_following", "authorize", "authorize_early"]


def authorize_early(fed: Federation, activity: vocab.Activity, actor: str) -> None:
    """The rules that need no storage (and no fetch)."""
    if isinstance(activity, vocab.Create | vocab.Update | vocab.Delete):
        _own_object_early(fed, activity, actor)
    elif isinstance(activity, vocab.Undo):
        _own_undo(activity, actor)


async def authorize(fed: Federation, activity: vocab.Activity, actor: str) -> None:
    """Every rule: :func:`authorize_early`'s and those that read storage."""
    if isinstance(activity, vocab.Create | vocab.Update | vocab.Delete):
        await _own_object(fed, activity, actor)
    elif isinstance(activity, vocab.Undo):
        _own_undo(activity, actor)
    elif isinstance(activity, vocab.Accept | vocab.Reject):
        await _followed_answers(fed, activity, actor)


def _own_object_early(
    fed: Federation, activity: vocab.Create | vocab.Update | vocab.Delete, actor: str
) -> str | None:
    """The object's id when the storage still has a say, None when the actor acts on itself."""
    obj = activity.object
    target = vocab.id_of(obj)
    if target is None:
        raise UnauthorizedActivityError(f"{activity.type} without an object id")
    if fed.is_local(target):
        raise UnauthorizedActivityError("remote activities may not change our objects")
    if not same_origin(target, actor):
        raise UnauthorizedActivityError(f"{actor} may not {activity.type} {target}")
    if target == actor:
        return None  # the actor updating or deleting itself
    if isinstance(obj, vocab.Node):
        authors = vocab.ids_of(getattr(obj, "attributed_to", None))
        if authors and actor not in authors:
            raise UnauthorizedActivityError(f"{target} is attributed to someone else")
    return target


async def _own_object(
    fed: Federation, activity: vocab.Create | vocab.Update | vocab.Delete, actor: str
) -> None:
    target = _own_object_early(fed, activity, actor)
    if target is None:
        return
    stored = await fed.storage.get_object(target)
    if stored is not None and stored.attributed_to not in (None, actor):
        raise UnauthorizedActivityError(f"{target} belongs to {stored.attributed_to}")
    if isinstance(activity, vocab.Create | vocab.Update) and stored is not None and stored.deleted:
        raise UnauthorizedActivityError(f"{target} was deleted")  # a tombstone stays (S-21)


def _own_undo(activity: vocab.Undo, actor: str) -> None:
    inner = activity.object
    if isinstance(inner, vocab.Node):
        inner_actor = vocab.id_of(getattr(inner, "actor", None))
        if inner_actor is not None and inner_actor != actor:
            raise UnauthorizedActivityError("only an activity's actor may undo it")
        return
    target = vocab.id_of(inner)
    if target is None or not same_origin(target, actor):
        raise UnauthorizedActivityError("undo of an activity from another origin")


async def _followed_answers(
    fed: Federation, activity: vocab.Accept | vocab.Reject, actor: str
) -> None:
    """An Accept/Reject of one of our Follows must come from the actor we followed."""
    inner = activity.object
    if not _about_our_follow(fed, inner):
        return  # not about our Follow: nothing to guard here
    following = await answered_following(fed, inner)
    if following is None:
        raise UnauthorizedActivityError("answer to a Follow we did not send")
    if following.actor_id != actor:
        raise UnauthorizedActivityError(f"only {following.actor_id} may answer this Follow")


def _about_our_follow(fed: Federation, inner: Any) -> bool:
    if isinstance(inner, vocab.Follow):
        return fed.is_local(vocab.id_of(inner.actor) or "")
    follow_id = vocab.id_of(inner)
    return follow_id is not None and fed.is_local(follow_id)


async def answered_following(fed: Federation, inner: Any) -> Following | None:
    """Our Following that an Accept/Reject answers: by Follow id, else by (actor, object).

    Some servers embed the Follow with a rewritten or missing id, so the pair
    is the fallback.
    """
    follow_id = vocab.id_of(inner)
    if follow_id is not None and fed.is_local(follow_id):
        following = await fed.storage.get_following_by_follow_id(follow_id)
        if following is not None:
            return following
    if isinstance(inner, vocab.Follow):
        local = fed.local_identifier(vocab.id_of(inner.actor) or "")
        target = vocab.id_of(inner.object)
        if local is not None and target is not None:
            return await fed.storage.get_following(local, target)
    return None
