"""The admin's password login is limited per account and per client IP (imaging.admin_login)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"
THROTTLED = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Every attempt hashes a password; the hasher's cost is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def break_glass(_fast_hashing, org) -> list[User]:
    """Two org admins with passwords (break-glass accounts)."""
    users = []
    for email in ("ada@north.example", "bob@north.example"):
        user = UserFactory(org=org, role=User.Role.ADMIN, email=email)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        users.append(user)
    return users


def attempt(username: str, password: str, ip: str = "192.0.2.1"):
    """One login attempt from a fresh browser at ``ip``: (status, page text, logged in?)."""
    client = Client(REMOTE_ADDR=ip)
    response = client.post(LOGIN, {"username": username, "password": password})
    return response.status_code, response.content.decode(), "_auth_user_id" in client.session


def test_after_five_wrong_passwords_the_account_is_refused_even_the_right_one(break_glass):
    _, bob = break_glass

    wrong = [attempt("ada@north.example", f"guess-{n}") for n in range(5)]
    refused = attempt("ada@north.example", PASSWORD)

    assert [(status, logged_in) for status, _, logged_in in wrong] == [(200, False)] * 5
    assert all("Please enter the correct" in page for _, page, _ in wrong)
    status, page, logged_in = refused
    assert (status, logged_in) == (200, False)
    assert re.search(rf"{THROTTLED}\. Try again in ([1-9]|1[0-5]) min", page)
    # Other accounts, from the same address, still sign in.
    assert attempt(bob.email, PASSWORD)[2]


def test_the_account_limit_counts_the_address_however_it_is_typed(break_glass):
    for n, typed in enumerate(
        ["ada@north.example", "ADA@north.example", " Ada@North.Example "] * 2
    ):
        attempt(typed, f"guess-{n}", ip=f"192.0.2.{n + 1}")

    assert THROTTLED in attempt("ada@north.example", PASSWORD, ip="198.51.100.7")[1]


def test_successful_logins_do_not_count_towards_the_limit(break_glass):
    assert all(attempt("ada@north.example", PASSWORD)[2] for _ in range(8))
    assert [attempt("ada@north.example", "guess")[2] for _ in range(4)] == [False] * 4
    assert attempt("ada@north.example", PASSWORD)[2]


def test_one_address_guessing_across_accounts_is_stopped_by_the_ip_limit(break_glass, settings):
    settings.ADMIN_LOGIN_FAILURES_PER_IP = 6
    for n in range(6):
        attempt(f"user{n}@north.example", "guess")

    status, page, logged_in = attempt("bob@north.example", PASSWORD)
    assert (status, logged_in) == (200, False)
    assert THROTTLED in page
    assert attempt("bob@north.example", PASSWORD, ip="198.51.100.7")[2]


def test_the_limits_hold_in_redis_as_in_production(break_glass, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "imaging.cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:6379/2",
            "KEY_PREFIX": uuid.uuid4().hex,  # apart from other tests on the same Redis
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.ADMIN_LOGIN_FAILURES_PER_ACCOUNT = 2

    assert [attempt("ada@north.example", "guess")[2] for _ in range(2)] == [False, False]
    assert THROTTLED in attempt("ada@north.example", PASSWORD)[1]
    assert attempt("bob@north.example", PASSWORD)[2]


def test_with_the_counter_store_down_logins_are_answered_not_500(break_glass, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "imaging.cache.ReusingRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"

    assert [attempt("ada@north.example", "guess")[0] for _ in range(7)] == [200] * 7
    assert attempt("ada@north.example", PASSWORD)[2]
