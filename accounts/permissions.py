"""DRF permissions: the API's door to the access policy (``accounts.access``).

Object scoping (org, sites) is each selector's; these answer "may this kind of caller
call this endpoint at all".
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts.access import may


class IsUser(BasePermission):
    """User tokens only: a valid device token gets 403."""

    message = "This endpoint needs a user token."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        return actor is not None and actor.kind == "user"


def may_do(action: str, message: str) -> type[BasePermission]:
    """A permission class: the caller may do ``action`` (``accounts.access.may``), else a
    403 saying ``message``."""

    class MayDo(BasePermission):
        def has_permission(self, request, view) -> bool:
            actor = getattr(request, "actor", None)
            return actor is not None and may(actor, action)

    MayDo.message = message
    MayDo.__name__ = MayDo.__qualname__ = f"May({action})"
    return MayDo


CanPublish = may_do("image.publish", "Publishing needs the reviewer or admin role.")
CanReject = may_do("image.reject", "Rejecting needs the reviewer or admin role.")
CanDismissReshoot = may_do(
    "reshoot.dismiss", "Dismissing a reshoot item needs the reviewer or admin role."
)
CanRequestReshoot = may_do(
    "reshoot.request", "Requesting a reshoot needs the reviewer or admin role."
)
