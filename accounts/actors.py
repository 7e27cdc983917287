"""Who is calling: the one description of a caller that every rule reads.

Built by the API's token authentication (``accounts.authentication``) and by the console
for a staff user (``accounts.admin_scoping.staff_actor``), so the API and the admin ask the
access policy (``accounts.access``) the same question.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from accounts.models import Device, User


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user or a device of one organisation."""

    kind: str  # "user" | "device"
    org_id: uuid.UUID
    user: User | None = None
    device: Device | None = None

    @property
    def id(self) -> uuid.UUID:
        principal = self.user or self.device
        assert principal is not None
        return principal.id

    @property
    def is_device(self) -> bool:
        return self.kind == "device"
