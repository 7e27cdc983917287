from __future__ import annotations

from collections.abc import Iterator

import pytest

from webhooks import transport
from webhooks.tests.receiver import Receiver


@pytest.fixture
def insecure(settings):
    """http and loopback allowed, as in development: the receiver listens on 127.0.0.1."""
    settings.WEBHOOKS_ALLOW_INSECURE = True
    return settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().up()
    try:
        yield server
    finally:
        server.down()
        transport.pools_clear()
