"""Who may call what. Object scoping (org, sites) lives in each app's selectors."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


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
        return actor is not None and actor.user is not None and actor.user.can_publish
