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


class CanPublish(BasePermission):
    message = "Publishing needs the reviewer or admin role."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        return actor is not None and may(actor, "image.publish")


class CanReject(BasePermission):
    message = "Rejecting needs the reviewer or admin role."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        return actor is not None and may(actor, "image.reject")


class CanDismissReshoot(BasePermission):
    message = "Dismissing a reshoot item needs the reviewer or admin role."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        return actor is not None and may(actor, "reshoot.dismiss")


class CanRequestReshoot(BasePermission):
    message = "Requesting a reshoot needs the reviewer or admin role."

    def has_permission(self, request, view) -> bool:
        actor = getattr(request, "actor", None)
        return actor is not None and may(actor, "reshoot.request")
