"""Who hears that the published images of a vehicle changed.

The services here change which images are published (publish, bulk publish, unpublish, a
vehicle's set replaced); an app above this one (``publishing``: the versioned vehicle
publication) needs to know, in the same transaction, without this app importing it. It
registers a listener once (its ``AppConfig.ready``); each service calls ``changed`` once per
action, inside its transaction, so a bulk action is heard once and a rollback undoes both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Listener(Protocol):
    def __call__(
        self, *, vehicle_ids: list[uuid.UUID], actor: Any, action: str, image_ids: list[uuid.UUID]
    ) -> None: ...


_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Register ``listener`` (once; registering the same function again changes nothing)."""
    if listener not in _listeners:
        _listeners.append(listener)


def changed(
    *, vehicle_ids: Iterable[uuid.UUID], actor: Any, action: str, image_ids: Iterable[uuid.UUID]
) -> None:
    """Tell every listener; call inside the transaction that made the change."""
    vehicles = sorted(set(vehicle_ids), key=str)
    if not vehicles:
        return
    images = list(dict.fromkeys(image_ids))
    for listener in _listeners:
        listener(vehicle_ids=vehicles, actor=actor, action=action, image_ids=images)


def listeners() -> list[Callable[..., None]]:
    return list(_listeners)
