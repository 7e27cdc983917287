"""From the console to a dealer's page: a reviewer publishes, rolls back and withdraws in the
console; a real Celery worker renders each version into the public bucket (SeaweedFS); the
demo page's viewer, reading the vehicle's public manifest from that bucket (never through
Django), shows each new version once the worker has written it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.factories import UserFactory
from images_app.tests.test_worker_e2e import (  # noqa: F401  (fixtures)
    broker,
    wait_until,
    worker_env,
    workers,
)
from publishing.services import publication_manifest_url
from tests.browser.conftest import log_in, processed_spin

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("s3"),
]

LIVE_WITHIN = 60  # seconds: a poll limit, not a timing under test
SETTLED = re.compile(r"^(ready|withdrawn|error|empty)$")
VISITOR = {"viewport": {"width": 1000, "height": 900}, "locale": "en-US"}
FIRST_ANGLES = (0, 90, 180)
ADDED_ANGLE = 270


def review_path(session) -> str:
    return f"/admin/sessions_app/capturesession/{session.pk}/change/"


class Visitor:
    """A visitor of the demo page in a browser of their own, the vehicle's public manifest
    in its ``?manifest=``. Every request is routed, which keeps the browser's cache out: a
    real visitor's browser may keep the manifest for its max-age (60 s), this test wants to
    see what the bucket serves now."""

    def __init__(self, chromium, live_server_url: str, manifest_url: str, photos_url: str):
        self.context = chromium.new_context(**VISITOR)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.manifest_url = manifest_url
        self.photos_url = photos_url
        self.demo_url = f"{live_server_url}/dev/viewer/?" + urlencode(
            {"manifest": manifest_url, "intro": "off"}
        )
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: self.problems.append(m.text) if "Content Security Policy" in m.text else None,
        )
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.route("**/*", lambda route: route.continue_())
        self.viewer = self.page.locator("[data-imaging-manifest]")

    def visit(self) -> dict | None:
        """Opens the page once, until the viewer has settled; the manifest it read (None
        while the bucket has none)."""
        self.requests.clear()
        with self.page.expect_response(lambda r: r.url == self.manifest_url) as answer:
            self.page.goto(self.demo_url)
        expect(self.viewer).to_have_attribute("data-state", SETTLED, timeout=30_000)
        response = answer.value
        return response.json() if response.ok else None

    def sees_version(self, number: int) -> dict:
        """Reloads the page until its viewer shows version ``number`` (the worker wrote it)."""
        return wait_until(
            lambda: (m := self.visit()) and m["version"] == number and m,
            what=f"the viewer to show version {number}",
            timeout=LIVE_WITHIN,
        )

    def frames_shown(self) -> list[str]:
        """The content hash of each frame photo the viewer shows, in the spin's order; each
        from the public bucket."""
        images = self.viewer.locator("img")
        sources = [images.nth(i).get_attribute("src") for i in range(images.count())]
        rendition = re.compile(re.escape(self.photos_url) + r"/r1/[0-9a-f]{2}/([0-9a-f]{64})/")
        shown = [rendition.match(src) for src in sources]
        assert all(shown), sources
        return [match[1] for match in shown]

    def photo_requests(self) -> list[str]:
        return [url for url in self.requests if url.startswith(f"{self.photos_url}/r1/")]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(chromium, live_server, s3) -> Iterator:
    opened: list[Visitor] = []

    def open_for(vehicle_id) -> Visitor:
        photos_url = f"{s3.endpoint_url}/{django_settings.PUBLIC_S3_BUCKET}"
        manifest_url = publication_manifest_url(vehicle_id)
        assert manifest_url.startswith(photos_url)  # the bucket, not Django
        opened.append(Visitor(chromium, live_server.url, manifest_url, photos_url))
        return opened[-1]

    yield open_for
    for each in opened:
        each.close()
    # The demo page lets the viewer reach the manifest's origin only: a refusal would show.
    assert [p for each in opened for p in each.problems] == []


def test_what_the_reviewer_publishes_rolls_back_and_withdraws_reaches_the_viewer(
    page,
    live_server,
    org,
    site,
    visitor,
    workers,  # noqa: F811 (the imported fixture)
):
    workers(concurrency=2)
    session = processed_spin(org=org, site=site, angles=(*FIRST_ANGLES, ADDED_ANGLE))
    frames = {image.angle_deg: image for image in session.images.all()}
    first = [frames[angle].content_sha256 for angle in FIRST_ANGLES]
    every = [*first, frames[ADDED_ANGLE].content_sha256]
    reviewer = UserFactory(
        org=org, role=User.Role.REVIEWER, name="Rita Reviewer", email="rita@north.example"
    )
    reviewer.sites.set([site])
    dealer_page = visitor(session.vehicle_id)

    # The reviewer publishes three frames in the console's review page.
    log_in(page, reviewer)
    page.goto(review_path(session))
    for angle in FIRST_ANGLES:
        page.check(f'.image-card[data-image-id="{frames[angle].pk}"] input[name="image"]')
    page.click("#publish-selected")
    page.wait_for_url(f"**{review_path(session)}")
    assert "Published 3 image(s)." in page.locator(".messagelist").inner_text()

    # The worker renders version 1; the viewer shows its three frames from the bucket.
    manifest = dealer_page.sees_version(1)
    assert manifest["status"] == "live"
    expect(dealer_page.page.get_by_role("slider")).to_have_attribute("aria-valuemax", "3")
    assert dealer_page.frames_shown() == first

    # A change: the fourth frame published too, version 2.
    page.check(f'.image-card[data-image-id="{frames[ADDED_ANGLE].pk}"] input[name="image"]')
    page.click("#publish-selected")
    page.wait_for_url(f"**{review_path(session)}")
    assert "Published 1 image(s)." in page.locator(".messagelist").inner_text()

    dealer_page.sees_version(2)
    expect(dealer_page.page.get_by_role("slider")).to_have_attribute("aria-valuemax", "4")
    assert dealer_page.frames_shown() == every

    # Back to version 1 from the vehicle's publication page: version 3, its three frames.
    page.click("#publication-link")
    page.click("text=Roll back to v1")
    expect(page.locator(".messagelist")).to_contain_text(
        "Rolled back to version 1 (now version 3)."
    )

    dealer_page.sees_version(3)
    expect(dealer_page.page.get_by_role("slider")).to_have_attribute("aria-valuemax", "3")
    assert dealer_page.frames_shown() == first

    # The car is sold: withdrawn, version 4; the viewer says so and asks for no photo.
    page.click("#withdraw")
    expect(page.locator(".messagelist")).to_contain_text("Withdrawn.")

    manifest = dealer_page.sees_version(4)
    assert manifest["status"] == "withdrawn"
    expect(dealer_page.page.get_by_role("status")).to_have_text(
        "This vehicle is no longer available."
    )
    expect(dealer_page.viewer).to_have_attribute("data-state", "withdrawn")
    assert dealer_page.viewer.locator("img").count() == 0
    assert dealer_page.photo_requests() == []
