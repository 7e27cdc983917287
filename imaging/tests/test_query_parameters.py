"""Query strings of the list endpoints: each parameter once, one spelling per value."""

import pytest

from images_app.tests.image_factories import ImageFactory
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(org, site):
    return CaptureSessionFactory(org=org, site=site)


@pytest.mark.parametrize(
    ("path", "repeated"),
    [
        ("/v1/sessions?", "limit=1&limit=2"),
        ("/v1/sessions?", "offset=0&offset=0"),
        ("/v1/sessions?", "status=active&status=complete"),
        ("/v1/images?session_id={session}&", "limit=1&limit=2"),
        ("/v1/images?session_id={session}&", "status=processed&status=failed"),
    ],
)
def test_a_repeated_parameter_is_refused_and_named(api, admin, session, path, repeated):
    response = api(admin).get(path.format(session=session.id) + repeated)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    name = repeated.split("=", 1)[0]
    assert response.json()["error"]["details"] == {name: ["Give this parameter once."]}


def test_a_repeated_required_parameter_is_refused(api, admin, session):
    response = api(admin).get(f"/v1/images?session_id={session.id}&session_id={session.id}")

    assert response.status_code == 400
    assert "session_id" in response.json()["error"]["details"]


def test_parameters_the_endpoint_does_not_take_are_ignored(api, admin, session):
    response = api(admin).get("/v1/sessions?utm_source=a&utm_source=b")

    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_an_empty_optional_parameter_is_the_same_as_leaving_it_out(api, admin, session):
    ImageFactory(session=session)

    sessions = api(admin).get("/v1/sessions?limit=&offset=&vehicle_id=&status=")
    images = api(admin).get(f"/v1/images?session_id={session.id}&limit=&status=")

    assert sessions.status_code == 200
    assert (sessions.json()["total"], sessions.json()["limit"]) == (1, 50)
    assert images.status_code == 200
    assert (images.json()["total"], images.json()["limit"]) == (1, 500)


def test_an_empty_required_parameter_is_refused(api, admin):
    response = api(admin).get("/v1/images?session_id=")

    assert response.status_code == 400
    assert "session_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("limit", ["+5", "05"])
def test_an_integer_may_carry_a_sign_or_leading_zeros(api, admin, session, limit):
    response = api(admin).get("/v1/sessions", {"limit": limit})

    assert response.status_code == 200
    assert response.json()["limit"] == 5


@pytest.mark.parametrize(
    "limit",
    [" 5", "5 ", "1_0", "5.0", "\u0665", "0x10", "5e0", "--5"],
    ids=[
        "leading-space",
        "trailing-space",
        "underscore",
        "decimal",
        "arabic-indic-digit",
        "hex",
        "exponent",
        "double-sign",
    ],
)
def test_other_spellings_of_an_integer_are_refused(api, admin, session, limit):
    response = api(admin).get("/v1/sessions", {"limit": limit})

    assert response.status_code == 400
    assert "limit" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    "site_id",
    [
        "{%s}",
        "urn:uuid:%s",
        "%s-",
    ],
    ids=["braces", "urn", "trailing-dash"],
)
def test_a_uuid_must_be_spelled_8_4_4_4_12(api, admin, site, session, site_id):
    response = api(admin).get("/v1/sessions", {"site_id": site_id % site.id})

    assert response.status_code == 400
    assert "site_id" in response.json()["error"]["details"]


def test_a_uuid_without_dashes_is_refused(api, admin, site, session):
    response = api(admin).get("/v1/sessions", {"site_id": site.id.hex})

    assert response.status_code == 400


def test_an_upper_case_uuid_is_the_same_uuid(api, admin, site, session):
    response = api(admin).get("/v1/sessions", {"site_id": str(site.id).upper()})

    assert response.status_code == 200
    assert response.json()["total"] == 1
