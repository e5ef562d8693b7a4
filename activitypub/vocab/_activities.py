"""Every ActivityStreams activity type; they add no properties of their own."""

from __future__ import annotations

from activitypub.vocab._core import Activity, IntransitiveActivity

__all__ = [
    "Accept",
    "Add",
    "Announce",
    "Arrive",
    "Block",
    "Create",
    "Delete",
    "Dislike",
    "Flag",
    "Follow",
    "Ignore",
    "Invite",
    "Join",
    "Leave",
    "Like",
    "Listen",
    "Move",
    "Offer",
    "Read",
    "Reject",
    "Remove",
    "TentativeAccept",
    "TentativeReject",
    "Travel",
    "Undo",
    "Update",
    "View",
]


class Accept(Activity):
    """The actor accepts the object (a Follow, usually)."""

    TYPE = "Accept"


class TentativeAccept(Accept):
    """Accept, provisionally."""

    TYPE = "TentativeAccept"


class Add(Activity):
    """The object was added to ``target`` (Lemmy: a moderator, a featured post)."""

    TYPE = "Add"


class Announce(Activity):
    """A boost or share; Lemmy communities wrap what they relay in one."""

    TYPE = "Announce"


class Create(Activity):
    """The object was created."""

    TYPE = "Create"


class Delete(Activity):
    """The object was deleted."""

    TYPE = "Delete"


class Dislike(Activity):
    """A downvote."""

    TYPE = "Dislike"


class Flag(Activity):
    """A report of the object to moderators."""

    TYPE = "Flag"


class Follow(Activity):
    """A request to follow the object."""

    TYPE = "Follow"


class Ignore(Activity):
    """The actor ignores the object."""

    TYPE = "Ignore"


class Join(Activity):
    """The actor joined the object."""

    TYPE = "Join"


class Leave(Activity):
    """The actor left the object."""

    TYPE = "Leave"


class Like(Activity):
    """A favourite or upvote."""

    TYPE = "Like"


class Listen(Activity):
    """The actor listened to the object."""

    TYPE = "Listen"


class Move(Activity):
    """The object moved from ``origin`` to ``target`` (account migration)."""

    TYPE = "Move"


class Offer(Activity):
    """The object is offered to ``target``."""

    TYPE = "Offer"


class Read(Activity):
    """The actor read the object."""

    TYPE = "Read"


class Reject(Activity):
    """The actor rejects the object (a Follow, usually)."""

    TYPE = "Reject"


class TentativeReject(Reject):
    """Reject, provisionally."""

    TYPE = "TentativeReject"


class Remove(Activity):
    """The object was removed from ``target``."""

    TYPE = "Remove"


class Undo(Activity):
    """Takes back an earlier activity (the object)."""

    TYPE = "Undo"


class Update(Activity):
    """The object changed; it carries the new state."""

    TYPE = "Update"


class View(Activity):
    """The actor viewed the object."""

    TYPE = "View"


class Arrive(IntransitiveActivity):
    """The actor arrived at ``location``."""

    TYPE = "Arrive"


class Travel(IntransitiveActivity):
    """The actor went from ``origin`` to ``target``."""

    TYPE = "Travel"


class Block(Ignore):
    """The actor blocks the object."""

    TYPE = "Block"


class Invite(Offer):
    """An invitation of ``target`` to the object."""

    TYPE = "Invite"
