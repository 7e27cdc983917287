"""A verified token is remembered, but never past its expiry; a bad one is never kept."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts import authentication
from accounts.tokens import user_token_issue

pytestmark = pytest.mark.django_db


def sessions_status(api, token: str) -> int:
    return api().get("/v1/sessions", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def test_a_remembered_token_expires_on_time(api, admin, monkeypatch):
    token = user_token_issue(user=admin)
    raw = str(token)
    assert sessions_status(api, raw) == 200  # verified and remembered

    expiry = dt.datetime.fromtimestamp(token["exp"], tz=dt.UTC)
    monkeypatch.setattr(authentication, "aware_utcnow", lambda: expiry + dt.timedelta(seconds=1))

    assert sessions_status(api, raw) == 401


def test_a_bad_token_is_not_remembered(api, admin):
    raw = str(user_token_issue(user=admin))
    tampered = raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB")

    assert sessions_status(api, tampered) == 401
    assert sessions_status(api, tampered) == 401
    assert sessions_status(api, raw) == 200
