"""Small assertions shared by the security matrix, the concurrency and the fault tests."""

from __future__ import annotations

from typing import Any

from imaging.tests.test_envelope import assert_envelope


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """The contract's error envelope with this status and code; returns the body."""
    return assert_envelope(response, status, code)


def without_request_id(response) -> dict[str, Any]:
    """The body minus what differs on every request, to compare two refusals."""
    body = response.json()
    body.pop("request_id", None)
    return body


def limits(settings, **overrides: int) -> None:
    """Per-minute limits for this test only (the ``settings`` fixture restores them)."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, **overrides}
