"""GET /v1/sessions: shape, scope, filters, paging limits and a fixed query count."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tests.factories import SiteFactory
from accounts.tokens import user_token_issue
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory, VehicleFactory, images_add

pytestmark = pytest.mark.django_db

URL = "/v1/sessions"
ENVELOPE_KEYS = {"data", "total", "limit", "offset"}
ITEM_KEYS = {"id", "vehicle", "mode", "status", "operator", "site", "started_at", "image_count"}
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


def make_sessions(org, site, count, **fields):
    """``count`` sessions a minute apart, the last one newest."""
    start = timezone.now() - timedelta(days=1)
    return [
        CaptureSessionFactory(org=org, site=site, started_at=start + timedelta(minutes=n), **fields)
        for n in range(count)
    ]


# --- Shape


def test_list_items_embed_vehicle_operator_site_and_image_count(api, admin, org, site, operator):
    vehicle = VehicleFactory(org=org, vin="1HGCM82633A004352", stock="STK-001")
    session = CaptureSessionFactory(org=org, site=site, vehicle=vehicle, operator=operator)
    images_add(session, 3)

    response = api(admin).get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert (body["total"], body["limit"], body["offset"]) == (1, 50, 0)
    [item] = body["data"]
    assert set(item) == ITEM_KEYS
    assert item["id"] == str(session.id)
    assert item["vehicle"] == {"vin": "1HGCM82633A004352", "stock": "STK-001"}
    assert item["mode"] == "studio360"
    assert item["status"] == "active"
    assert item["operator"] == {"id": str(operator.id), "name": "Otto Operator"}
    assert item["site"] == {"id": str(site.id), "name": "Main Studio"}
    assert ISO_UTC.match(item["started_at"])
    assert item["image_count"] == 3


def test_a_session_a_device_started_has_no_operator(api, admin, org, site, device):
    CaptureSessionFactory(org=org, site=site, device=device)
    [item] = api(admin).get(URL).json()["data"]
    assert item["operator"] is None
    assert item["image_count"] == 0


def test_a_vehicle_known_only_by_stock_number_lists_a_null_vin(api, admin, org, site):
    CaptureSessionFactory(org=org, site=site, vehicle=VehicleFactory(org=org, vin=None))
    [item] = api(admin).get(URL).json()["data"]
    assert item["vehicle"]["vin"] is None


def test_newest_sessions_come_first_and_id_breaks_ties(api, admin, org, site):
    older, newer = make_sessions(org, site, 2)
    same_time = timezone.now()
    twins = [CaptureSessionFactory(org=org, site=site, started_at=same_time) for _ in range(3)]
    twins_by_id_desc = sorted((str(s.id) for s in twins), reverse=True)

    assert ids(api(admin).get(URL)) == [*twins_by_id_desc, str(newer.id), str(older.id)]


def test_image_counts_are_per_session(api, admin, org, site):
    first, second = make_sessions(org, site, 2)
    images_add(first, 2)
    images_add(second, 5)
    counts = {item["id"]: item["image_count"] for item in api(admin).get(URL).json()["data"]}
    assert counts == {str(first.id): 2, str(second.id): 5}


# --- Who sees what


def test_admin_sees_every_site_of_the_org_and_nothing_of_another(
    api, admin, org, site, other_site, other_org, other_site_of_other_org
):
    here = CaptureSessionFactory(org=org, site=site)
    there = CaptureSessionFactory(org=org, site=other_site)
    CaptureSessionFactory(org=other_org, site=other_site_of_other_org)

    response = api(admin).get(URL)
    assert set(ids(response)) == {str(here.id), str(there.id)}
    assert response.json()["total"] == 2


@pytest.mark.parametrize("persona", ["operator", "reviewer"])
def test_operators_and_reviewers_see_only_their_sites(api, request, org, site, other_site, persona):
    user = request.getfixturevalue(persona)
    mine = CaptureSessionFactory(org=org, site=site)
    CaptureSessionFactory(org=org, site=other_site)

    response = api(user).get(URL)
    assert ids(response) == [str(mine.id)]
    assert response.json()["total"] == 1


def test_an_operator_sees_sessions_others_started_at_their_site(api, operator, org, site, device):
    by_device = CaptureSessionFactory(org=org, site=site, device=device)
    assert ids(api(operator).get(URL)) == [str(by_device.id)]


def test_a_user_without_sites_sees_nothing(api, operator, org, site):
    CaptureSessionFactory(org=org, site=site)
    operator.sites.clear()
    response = api(operator).get(URL)
    assert response.json()["data"] == []
    assert response.json()["total"] == 0


def test_outsider_sees_nothing_of_another_org(api, outsider, org, site):
    CaptureSessionFactory(org=org, site=site)
    assert api(outsider).get(URL).json()["total"] == 0


def test_a_device_token_may_not_list_sessions(api, device, org, site):
    CaptureSessionFactory(org=org, site=site, device=device)
    response = api(device).get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_a_device_token_may_not_list_sessions_by_head_either(api, device):
    assert api(device).head(URL).status_code == 403


def test_a_token_of_another_type_is_unauthorized(api, admin):
    foreign_type = AccessToken()  # signed with our key, but typ "access" is not ours
    foreign_type["sub"] = str(admin.id)
    foreign_type["org_id"] = str(admin.org_id)
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {foreign_type}")
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_listing_without_a_token_is_unauthorized(api):
    response = api().get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_listing_with_a_tampered_token_is_unauthorized(api, admin):
    token = str(user_token_issue(user=admin))
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert client.get(URL).status_code == 401


# --- Filters


def test_filter_by_site(api, admin, org, site, other_site):
    here = CaptureSessionFactory(org=org, site=site)
    CaptureSessionFactory(org=org, site=other_site)
    response = api(admin).get(URL, {"site_id": str(site.id)})
    assert ids(response) == [str(here.id)]
    assert response.json()["total"] == 1


def test_filtering_by_a_site_the_user_may_not_see_gives_nothing(api, operator, org, other_site):
    CaptureSessionFactory(org=org, site=other_site)
    response = api(operator).get(URL, {"site_id": str(other_site.id)})
    assert response.status_code == 200
    assert response.json()["total"] == 0


def test_filter_by_status(api, admin, org, site):
    active = CaptureSessionFactory(org=org, site=site)
    done = CaptureSessionFactory(org=org, site=site, status=CaptureSession.Status.COMPLETE)
    assert ids(api(admin).get(URL, {"status": "active"})) == [str(active.id)]
    assert ids(api(admin).get(URL, {"status": "complete"})) == [str(done.id)]
    assert ids(api(admin).get(URL, {"status": "failed"})) == []


def test_filter_by_vehicle(api, admin, org, site):
    vehicle = VehicleFactory(org=org)
    wanted = CaptureSessionFactory(org=org, site=site, vehicle=vehicle)
    CaptureSessionFactory(org=org, site=site)
    assert ids(api(admin).get(URL, {"vehicle_id": str(vehicle.id)})) == [str(wanted.id)]


def test_filters_combine(api, admin, org, site, other_site):
    vehicle = VehicleFactory(org=org)
    wanted = CaptureSessionFactory(org=org, site=site, vehicle=vehicle)
    CaptureSessionFactory(org=org, site=other_site, vehicle=vehicle)
    CaptureSessionFactory(
        org=org, site=site, vehicle=vehicle, status=CaptureSession.Status.ABANDONED
    )
    query = {"site_id": str(site.id), "vehicle_id": str(vehicle.id), "status": "active"}
    assert ids(api(admin).get(URL, query)) == [str(wanted.id)]


def test_an_empty_filter_value_means_no_filter(api, admin, org, site):
    CaptureSessionFactory(org=org, site=site)
    assert api(admin).get(URL, {"status": "", "site_id": ""}).json()["total"] == 1


@pytest.mark.parametrize(
    "query",
    [
        {"site_id": "not-a-uuid"},
        {"site_id": "1"},
        {"vehicle_id": "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"},
        {"status": "done"},
        {"status": "ACTIVE"},
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "101"},
        {"limit": str(10**9)},
        {"limit": "9.5e19"},
        {"limit": "1e2"},
        {"limit": "50.5"},
        {"offset": "-5"},
        {"offset": "x"},
        {"offset": str(10**20)},
    ],
)
def test_bad_query_parameters_are_a_validation_error(api, admin, query):
    response = api(admin).get(URL, query)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert set(error["details"]) == set(query)


# --- Paging


def test_limit_and_offset_page_through_the_list(api, admin, org, site):
    sessions = make_sessions(org, site, 5)
    newest_first = [str(s.id) for s in reversed(sessions)]

    response = api(admin).get(URL, {"limit": 2, "offset": 1})
    assert ids(response) == newest_first[1:3]
    assert {k: response.json()[k] for k in ("total", "limit", "offset")} == {
        "total": 5,
        "limit": 2,
        "offset": 1,
    }


def test_an_offset_past_the_end_gives_an_empty_page_and_the_total(api, admin, org, site):
    make_sessions(org, site, 2)
    body = api(admin).get(URL, {"offset": 10}).json()
    assert body["data"] == []
    assert body["total"] == 2


def test_default_page_is_fifty_and_a_hundred_is_the_most(api, admin, org, site):
    make_sessions(org, site, 101)
    assert len(api(admin).get(URL).json()["data"]) == 50
    assert len(api(admin).get(URL, {"limit": 100}).json()["data"]) == 100
    assert api(admin).get(URL, {"limit": 101}).status_code == 400


# --- Query count


def _list_with_queries(client, django_assert_num_queries):
    # 1. the caller's user row (token authentication)
    # 2. the page: sessions joined to vehicle, operator and site, image counts as a
    #    subquery, and the whole list's length as a window count
    with django_assert_num_queries(2):
        response = client.get(URL)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("persona", ["admin", "operator"])
def test_two_rows_and_fifty_rows_take_the_same_two_queries(
    api, request, org, site, device, persona, django_assert_num_queries
):
    client = api(request.getfixturevalue(persona))
    operator = request.getfixturevalue("operator")
    for session in make_sessions(org, site, 2, operator=operator):
        images_add(session, 2)
    body = _list_with_queries(client, django_assert_num_queries).json()
    assert (len(body["data"]), body["total"]) == (2, 2)

    other_vehicles_and_authors = [
        CaptureSessionFactory(
            org=org,
            site=site,
            vehicle=VehicleFactory(org=org),
            operator=operator if n % 2 else None,
            device=None if n % 2 else device,
        )
        for n in range(48)
    ]
    for session in other_vehicles_and_authors[:10]:
        images_add(session, 1)
    body = _list_with_queries(client, django_assert_num_queries).json()
    assert (len(body["data"]), body["total"]) == (50, 50)
    make_sessions(org, site, 1, operator=operator)
    body = _list_with_queries(client, django_assert_num_queries).json()
    assert (len(body["data"]), body["total"]) == (50, 51)


def test_filters_add_no_query(api, admin, org, site, django_assert_num_queries):
    make_sessions(org, site, 3)
    query = {"site_id": str(site.id), "status": "active", "vehicle_id": str(uuid.uuid4())}
    client = api(admin)
    with django_assert_num_queries(2):
        assert client.get(URL, query).status_code == 200


@pytest.mark.parametrize(
    ("limit", "offset", "rows"),
    [(2, 0, 2), (2, 2, 2), (2, 4, 1), (5, 0, 5), (10, 0, 5), (2, 5, 0), (2, 9, 0)],
)
def test_total_is_the_whole_list_whatever_the_page(api, admin, org, site, limit, offset, rows):
    make_sessions(org, site, 5)

    body = api(admin).get(URL, {"limit": limit, "offset": offset}).json()

    assert (len(body["data"]), body["total"]) == (rows, 5)


def test_sites_of_another_org_in_the_filter_give_nothing(api, admin, other_org):
    foreign_site = SiteFactory(org=other_org)
    CaptureSessionFactory(org=other_org, site=foreign_site)
    assert api(admin).get(URL, {"site_id": str(foreign_site.id)}).json()["total"] == 0
