"""The covered-header list of a signature (its ``headers`` parameter) as a reusable plan.

Senders repeat a handful of lists, so everything a list implies (its signing-string
template, which pseudo-headers it has, which policies it already satisfied) is
worked out once per distinct list and kept.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from activitypub.signatures.cavage._common import _malformed

if TYPE_CHECKING:
    from activitypub.signatures.cavage._verify import VerificationPolicy

_HEADER_LIST_RE: Final = re.compile(
    r"[ ]*(?:(?:\((?:request-target|created|expires)\)|[!#$%&'*+.^_`|~0-9a-z-]+)(?:[ ]+|\Z))+"
)

# The covered list when a header has no ``headers`` parameter (draft §2.1.6).
_DEFAULT_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "rsa-sha256": ("date",),
    "hs2019": ("(created)",),
}


class _Plan:
    """A covered-header list and what it implies, worked out once per distinct list.

    ``template`` is the signing string as a ``str.format`` template: ``{0}``
    the method, ``{1}`` the target, ``{2}`` created, ``{3}`` expires, then the
    values of ``fields`` (the covered real headers, in order). It is ``None``
    when the list has an unknown pseudo-header, or none at all; ``_build``
    then takes the general way, which raises the right error.
    """

    __slots__ = (
        "checked",
        "content_digest",
        "created",
        "digest",
        "expires",
        "fields",
        "names",
        "newlines",
        "template",
        "text",
    )

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.text = " ".join(names)
        self.created = "(created)" in names
        self.expires = "(expires)" in names
        self.digest = "digest" in names
        self.content_digest = "content-digest" in names
        #: (method, id(policy)) -> policy, for each policy whose coverage rules
        #: this list meets for that method (the value keeps the id from reuse).
        self.checked: dict[tuple[str, int], VerificationPolicy] = {}
        self.newlines = len(names) - 1
        fields: list[str] = []
        parts: list[str] = []
        template: str | None = None
        for name in names:
            if not name.startswith("("):
                escaped = name.replace("{", "{{").replace("}", "}}")
                parts.append(f"{escaped}: {{{4 + len(fields)}}}")
                fields.append(name)
            elif name == "(request-target)":
                parts.append("(request-target): {0} {1}")
            elif name == "(created)":
                parts.append("(created): {2}")
            elif name == "(expires)":
                parts.append("(expires): {3}")
            else:
                break
        else:
            if names:
                template = "\n".join(parts)
        self.fields = tuple(fields)
        self.template = template


_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(names: tuple[str, ...]) -> _Plan:
    """The plan of ``names``, shared while the (bounded) table has room."""
    plan = _PLANS.get(names)
    if plan is None:
        plan = _Plan(names)
        if len(_PLANS) < 512:
            _PLANS[names] = plan
    return plan


_DEFAULT_PLANS: Final = {name: _plan(names) for name, names in _DEFAULT_HEADERS.items()}


@lru_cache(maxsize=256)
def _header_list(listed: str) -> _Plan:
    """The ``headers`` parameter as a plan; cached, since senders repeat a few lists."""
    if len(listed) > 1024:
        raise _malformed("headers list too long")
    listed = listed.lower()
    if _HEADER_LIST_RE.fullmatch(listed) is None:
        raise _malformed("headers is not a space-separated list of header names")
    return _plan(tuple(listed.split()))
