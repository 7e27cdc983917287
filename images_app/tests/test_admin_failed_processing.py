"""The console's failed-processing view: what failed and why, and retrying (admins)."""

from __future__ import annotations

import pytest

from events_app.models import Event
from events_app.services import event_record
from images_app.models import Image
from images_app.tests.image_factories import ImageFactory
from sessions_app.tests.console import console
from sessions_app.tests.factories import CaptureSessionFactory

pytestmark = pytest.mark.django_db

FAILED = "/admin/images_app/failedimage/"


def failed(session, code: str, message: str, attempts: int = 1) -> Image:
    image = ImageFactory(session=session, status="failed", error=code, attempts=attempts)
    event_record(
        org_id=image.org_id,
        entity_type=Event.EntityType.IMAGE,
        entity_id=image.id,
        type=Event.Type.PROCESSING_FAILED,
        message=message,
        meta={"code": code},
        actor_type="system",
        actor_id=None,
    )
    return image


@pytest.fixture
def images(org, site, other_org):
    session = CaptureSessionFactory(org=org, site=site)
    timeout = failed(session, "timeout", "Processing took longer than the time limit.", 2)
    corrupt = failed(session, "decode_error", "The file is not a readable image.")
    ImageFactory(session=session, status="processed")
    theirs = failed(CaptureSessionFactory(org=other_org), "timeout", "Elsewhere.")
    return timeout, corrupt, theirs


def test_an_admin_sees_what_failed_with_its_code_message_and_attempts(admin, images):
    page = console(admin).get(FAILED).content.decode()
    assert "Processing took longer than the time limit." in page
    assert "The file is not a readable image." in page
    assert "decode_error" in page
    assert "Elsewhere." not in page
    assert page.count('class="action-checkbox"') == 2


def test_an_admin_retries_the_failures_whose_original_was_kept(admin, images):
    timeout, corrupt, _ = images
    response = console(admin).post(
        FAILED,
        {"action": "retry", "_selected_action": [str(timeout.pk), str(corrupt.pk)]},
        follow=True,
    )
    assert "Sent 1 image(s) back for processing. 1 cannot be retried" in response.content.decode()
    timeout.refresh_from_db()
    corrupt.refresh_from_db()
    assert (timeout.status, corrupt.status) == ("pending", "failed")


def test_a_reviewer_may_look_but_not_retry(reviewer, images):
    timeout, _, _ = images
    client = console(reviewer)
    page = client.get(FAILED).content.decode()
    assert '<option value="retry"' not in page
    response = client.post(FAILED, {"action": "retry", "_selected_action": [str(timeout.pk)]})
    assert response.status_code in (200, 302, 403)
    timeout.refresh_from_db()
    assert timeout.status == "failed"
