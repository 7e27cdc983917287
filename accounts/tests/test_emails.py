"""The canonical form of an email address: ASCII case is ignored, nothing else is folded."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from accounts.emails import UnusableEmail, email_canonical
from accounts.models import User
from accounts.tests.lookalikes import LOOKALIKES


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Kit.Sims@Strasse.EXAMPLE", "kit.sims@strasse.example"),
        ("  kit+tag@strasse.example\n", "kit+tag@strasse.example"),
        ("sales@\u00e5land.example", "sales@xn--land-poa.example"),
        ("SALES@XN--LAND-POA.example", "sales@xn--land-poa.example"),
        ("kit.sims@stra\u00dfe.example", "kit.sims@xn--strae-oqa.example"),
        ("kit@\u0131nfo.example", "kit@xn--nfo-iua.example"),
    ],
)
def test_the_canonical_form_lowercases_ascii_and_writes_domains_as_a_labels(typed, canonical):
    assert email_canonical(typed) == canonical


@pytest.mark.parametrize("email", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_a_lookalike_never_becomes_the_address_it_imitates(email):
    try:
        canonical = email_canonical(email)
    except UnusableEmail:
        return
    assert canonical not in {"kit.sims@strasse.example", "sales@xn--land-poa.example"}


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "@strasse.example", "kit@", "kit@localhost", '"kit sims"@strasse.example',
     "kit..sims@strasse.example", "kit@strasse..example", "kit@xn--zz.example"],
)  # fmt: skip
def test_addresses_that_cannot_be_compared_safely_are_unusable(email):
    with pytest.raises(UnusableEmail):
        email_canonical(email)


def test_the_database_refuses_an_email_that_is_not_canonical(db):
    with pytest.raises(IntegrityError):
        User.objects.create(email="Kit.Sims@strasse.example")


MIGRATION = ("accounts", "0002_email_canonical_and_org_domains")
BEFORE = [("accounts", "0001_initial")]


def _migrate(targets=None):
    """Migrate the test database to ``targets`` (default: the latest of every app)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_existing_emails_canonical_and_stops_on_two_that_would_merge():
    old = _migrate(BEFORE)
    OldUser = old.get_model("accounts", "User")
    try:
        OldUser.objects.create(email="Mixed.Case@North.example", password="!")
        _migrate([MIGRATION])
        assert User.objects.filter(email="mixed.case@north.example").exists()

        old = _migrate(BEFORE)
        old.get_model("accounts", "User").objects.create(
            email="MIXED.CASE@north.example", password="!"
        )
        with pytest.raises(RuntimeError, match="Same address"):
            _migrate([MIGRATION])
    finally:
        # Back to the state the users were made in (later apps' tables, which the current
        # models would also clean up, are not there), then forward to the latest again.
        stale = _migrate(BEFORE)
        stale.get_model("accounts", "User").objects.all().delete()
        _migrate()
