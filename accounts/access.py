"""The access policy: what an actor may see, and what it may do to what it sees.

One module answers both questions for every door: API views, console pages and actions,
tasks and commands. Two parts:

- **Seeing** (scoping rows): everything is limited to the actor's organisation; admins see
  every site of it, operators and reviewers their own sites, devices the sites they are
  limited to (none = all) and, among those, only the sessions they created. The site
  rules are here (``sites_usable_by``, ``may_use_site_of_row``); each model's selector
  builds its queryset from them (``sessions_visible_to``, ``images_visible_to``), so a row
  outside the scope is simply not found (404, never 403).
- **Doing** (``may``): an action on an object the actor already sees. The table below is
  the whole rule; ``docs/security.md`` prints it as the access matrix and
  ``tests/security/test_access_matrix.py`` checks every cell through the API and the
  console.

| action             | device                    | operator            | reviewer | admin |
|--------------------|---------------------------|---------------------|----------|-------|
| session.create     | on a usable site          | on own sites        | own sites| all   |
| session.finish     | its own sessions          | yes                 | yes      | yes   |
| image.upload       | its own sessions          | sessions it operates (any role) | | yes |
| image.publish      | no                        | no                  | yes      | yes   |
| image.unpublish    | no                        | no                  | yes      | yes   |
| publication.manage | no                        | no                  | yes      | yes   |
| image.reject       | no                        | no                  | yes      | yes   |
| reshoot.request    | no                        | no                  | yes      | yes   |
| image.reprocess    | no                        | no                  | no       | yes   |
| org.administer     | no                        | no                  | no       | yes   |
| shot_list_template.manage | no                 | no                  | no       | yes   |

The console is for reviewing: an operator may look there but changes nothing, so a console
action also needs ``console_may_change`` (reviewer or admin), which is why an operator can
finish a session from the capture app but not abandon one in the console.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.actors import Actor
from accounts.models import Device, Site, User

ADMIN = User.Role.ADMIN.value
REVIEWER = User.Role.REVIEWER.value
OPERATOR = User.Role.OPERATOR.value
EVERY_ROLE = frozenset({ADMIN, REVIEWER, OPERATOR})
PUBLISHING_ROLES = frozenset({REVIEWER, ADMIN})
ADMIN_ONLY = frozenset({ADMIN})

# action → the user roles that may take it (devices: see ``may``).
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "session.create": EVERY_ROLE,
    "session.finish": EVERY_ROLE,
    "image.upload": EVERY_ROLE,  # non-admins: only the sessions they operate
    "image.publish": PUBLISHING_ROLES,
    "image.unpublish": PUBLISHING_ROLES,
    # A vehicle's publication: its manifest, versions, rollback, withdraw, listing feeds.
    "publication.manage": PUBLISHING_ROLES,
    "image.reject": PUBLISHING_ROLES,
    "reshoot.request": PUBLISHING_ROLES,
    "reshoot.dismiss": PUBLISHING_ROLES,  # "accept as is"
    "image.reprocess": ADMIN_ONLY,
    "org.administer": ADMIN_ONLY,
    # Create, change and delete the organisation's shot-list templates (everyone reads them).
    "shot_list_template.manage": ADMIN_ONLY,
    # The org's webhook endpoints: create, change, rotate secrets, test, deliveries, replay.
    "webhook.manage": ADMIN_ONLY,
}
DEVICE_ACTIONS = frozenset({"session.create", "session.finish", "image.upload"})


def may(actor: Actor, action: str, obj: Any = None) -> bool:
    """May ``actor`` take ``action`` (on ``obj``, which it already sees)?

    Unknown actions raise: a typo must not quietly deny or allow.
    """
    if action not in ROLE_ACTIONS:
        raise KeyError(f"unknown action {action!r}")
    if actor.is_device:
        if action not in DEVICE_ACTIONS:
            return False
        # A device works only on the sessions it created.
        return obj is None or getattr(obj, "device_id", None) == actor.id
    assert actor.user is not None
    role = actor.user.role
    if role not in ROLE_ACTIONS[action]:
        return False
    if action == "image.upload" and obj is not None and role != ADMIN:
        return getattr(obj, "operator_id", None) == actor.id
    return True


def sees_all_sites(actor: Actor) -> bool:
    return actor.user is not None and actor.user.role == ADMIN


# --- the console: staff users as actors


def is_platform_operator(user: Any) -> bool:
    """A superuser: runs the platform and sees every organisation in the console."""
    return bool(user.is_active and user.is_staff and user.is_superuser)


def staff_role(user: Any) -> str | None:
    """The console role of a staff member of an organisation; None for anyone else."""
    if not (user.is_active and user.is_staff) or user.is_superuser or user.org_id is None:
        return None
    return user.role


def staff_actor(user: Any) -> Actor | None:
    """The API's caller for a staff member, so both doors share one policy."""
    if staff_role(user) is None:
        return None
    return Actor(kind="user", org_id=user.org_id, user=user)


def console_may(user: Any, action: str) -> bool:
    """``may`` for a console user; the platform operator may do everything."""
    if is_platform_operator(user):
        return True
    actor = staff_actor(user)
    return actor is not None and console_may_change(user) and may(actor, action)


def console_may_change(user: Any) -> bool:
    """The console changes nothing for operators (they look only)."""
    return is_platform_operator(user) or staff_role(user) in PUBLISHING_ROLES


# --- seeing: the site rules every selector builds on


def site_ids_usable_by(*, actor: Actor) -> QuerySet | None:
    """A subquery of the site ids the actor may use, or None for every site of its org.

    Kept as SQL so that scoping a list adds no query of its own.
    """
    if actor.user is not None:
        if sees_all_sites(actor):
            return None
        return User.sites.through.objects.filter(user_id=actor.user.id).values("site_id")
    assert actor.device is not None
    links = Device.sites.through.objects.filter(device_id=actor.device.id)
    # A device limited to no site may use them all.
    return (
        Site.objects.filter(org_id=actor.org_id)
        .filter(Exists(links.filter(site_id=OuterRef("pk"))) | ~Exists(links))
        .values("pk")
    )


def may_use_site_of_row(*, actor: Actor) -> Q:
    """A condition on a row with a ``site_id`` (e.g. a session): the actor may use that site.

    The same rule as ``sites_usable_by``, written against the row's own column so that it
    costs one index probe inside the row's query rather than a join on the sites.
    """
    if actor.user is not None:
        if sees_all_sites(actor):
            return Q()
        memberships = User.sites.through.objects.filter(user_id=actor.user.id)
        return Q(Exists(memberships.filter(site_id=OuterRef("site_id"))))
    assert actor.device is not None
    links = Device.sites.through.objects.filter(device_id=actor.device.id)
    # A device limited to no site may use them all.
    return Q(Exists(links.filter(site_id=OuterRef("site_id")))) | ~Q(Exists(links))


def sites_usable_by(*, actor: Actor) -> QuerySet[Site]:
    """Sites where the actor may capture (and, for users, whose sessions they see)."""
    sites = Site.objects.filter(org_id=actor.org_id)
    site_ids = site_ids_usable_by(actor=actor)
    return sites if site_ids is None else sites.filter(pk__in=site_ids)


def sites_of_another_org(*, org_id: uuid.UUID | None, sites: Any) -> list[Site]:
    """The sites a user or device of ``org_id`` may not be given: any of another
    organisation (all of them when there is no organisation). Every door that provisions
    (``user_create``, the console's user and device forms) refuses these."""
    return [site for site in sites if org_id is None or site.org_id != org_id]


def sites_visible_in_console(user: Any) -> QuerySet[Site]:
    if is_platform_operator(user):
        return Site.objects.select_related("org").order_by("org__name", "name", "id")
    actor = staff_actor(user)
    if actor is None:
        return Site.objects.none()
    return sites_usable_by(actor=actor).order_by("name", "id")


def visibility_shape(actor: Actor) -> str:
    """What of the caller changes the SQL of the visibility rules (its ids do not)."""
    if actor.is_device:
        return "device"
    return "user:all-sites" if sees_all_sites(actor) else "user:own-sites"


class _ShapeStandIn:
    """A principal to compile the rules for: it has only the attributes its shape fixes, so
    a rule that reads anything else (which the compiled SQL would freeze at a default)
    raises at the first compile instead."""

    def __init__(self, model: str, **fixed: Any) -> None:
        self.__dict__.update(fixed, _model=model)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"the access rules read {self._model}.{name}, which visibility_shape does not "
            "fix: add it to the shape (and to actor_of_shape)"
        )


def actor_of_shape(shape: str, *, org_id: uuid.UUID, principal_id: uuid.UUID) -> Actor:
    """An actor with these ids that the rules treat as every caller of ``shape``: it has
    only the kind, the ids and the role. For ``PreparedQuery`` builds."""
    if shape == "device":
        device = _ShapeStandIn("Device", id=principal_id, pk=principal_id, org_id=org_id)
        return Actor(kind="device", org_id=org_id, device=device)  # type: ignore[arg-type]
    role = ADMIN if shape == "user:all-sites" else OPERATOR
    user = _ShapeStandIn("User", id=principal_id, pk=principal_id, org_id=org_id, role=role)
    return Actor(kind="user", org_id=org_id, user=user)  # type: ignore[arg-type]
