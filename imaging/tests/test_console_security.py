"""The admin console in the browser's terms: a Content-Security-Policy its own pages satisfy
(no inline script, style element, style attribute or event handler), and session cookies
that are HttpOnly, SameSite=Lax and last a reviewer's working day."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import EnrollmentCode
from sessions_app.tests.console import console, review_url, spin_session, stills_session

pytestmark = pytest.mark.django_db

PASSWORD = "a long break-glass password"


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def inline_code(html: str) -> list[str]:
    """Tags a policy without 'unsafe-inline' would block (JSON data blocks are not code)."""
    found = []
    for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
        name = tag[1:].split(None, 1)[0].rstrip(">").lower()
        inline_script = name == "script" and not re.search(
            r"\ssrc=|type=\"application/json\"", tag, re.I
        )
        inline_style = name == "style" or re.search(r"\s(on[a-z]+|style)\s*=", tag, re.I)
        if inline_script or inline_style:
            found.append(tag)
    return found


@pytest.fixture
def console_pages(org, site, admin):
    """Every kind of console page a reviewer or an admin opens, as (client, path)."""
    spin = spin_session(org=org, site=site, frame_count=6, qc_fail=[2])
    stills = stills_session(org=org, site=site, shots=["front", "rear"], taken=["front"])
    staff = console(admin)
    return [
        (Client(), "/admin/login/"),
        (staff, "/admin/"),
        (staff, "/admin/sessions_app/capturesession/"),
        (staff, review_url(spin)),
        (staff, review_url(stills)),
        (staff, "/admin/accounts/device/"),
        (staff, "/admin/accounts/enrollmentcode/add/"),
        (staff, "/admin/accounts/user/"),
        (staff, "/admin/nothing-here/"),
    ]


def test_every_console_page_has_a_policy_without_inline_code_and_none_of_its_own(
    console_pages, settings
):
    s3 = urlsplit(settings.S3_PUBLIC_ENDPOINT_URL)
    for client, path in console_pages:
        response = client.get(path, follow=True)

        policy = directives(response)
        assert policy["script-src"] == ["'self'"], path
        assert policy["style-src"] == ["'self'"], path
        assert policy["img-src"] == ["'self'", f"{s3.scheme}://{s3.netloc}"], path
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert inline_code(response.content.decode()) == [], path


def test_the_page_showing_a_new_enrollment_code_has_no_inline_style(admin):
    response = console(admin).post(
        "/admin/accounts/enrollmentcode/add/",
        {"label": "Lot phones", "uses": "1", "expires_in_days": "1"},
    )

    assert response.status_code == 200 and EnrollmentCode.objects.count() == 1
    assert "Content-Security-Policy" in response
    assert inline_code(response.content.decode()) == []
    assert "accounts/enrollment.css" in response.content.decode()


def test_the_api_gets_no_console_policy(api, admin):
    assert "Content-Security-Policy" not in api(admin).get("/v1/sessions")


def test_a_console_login_lasts_eight_hours_in_an_httponly_samesite_cookie(reviewer):
    reviewer.set_password(PASSWORD)
    reviewer.save(update_fields=["password"])

    response = Client().post(
        "/admin/login/?next=/admin/", {"username": reviewer.email, "password": PASSWORD}
    )

    assert response.status_code == 302, response.content
    cookie = response.cookies["sessionid"]
    assert cookie["max-age"] == 8 * 60 * 60
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
