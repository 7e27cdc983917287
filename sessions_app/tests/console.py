"""Sessions as reviewers meet them in the console, and a logged-in browser client."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from images_app.models import Image
from images_app.tests.image_factories import ImageFactory, processed
from images_app.uploads import spin_angle
from sessions_app.models import CaptureSession
from sessions_app.tests.factories import CaptureSessionFactory

QC_SHARPNESS_FAIL = {
    "sharpness": {"score": 41.0, "status": "fail"},
    "exposure": {"status": "pass", "mean": 120.0},
}
QC_EXPOSURE_WARN = {
    "sharpness": {"score": 380.0, "status": "pass"},
    "exposure": {"status": "warn", "mean": 55.0},
}


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(session: CaptureSession) -> str:
    return reverse("admin:sessions_app_capturesession_change", args=[session.pk])


def review_action_url(session: CaptureSession) -> str:
    return reverse("admin:sessions_app_capturesession_review", args=[session.pk])


def spin_session(
    *,
    org,
    site,
    frame_count: int = 24,
    missing: Iterable[int] = (),
    qc_fail: Iterable[int] = (),
    status: str = CaptureSession.Status.COMPLETE,
    **fields,
) -> CaptureSession:
    """A studio spin whose frames are processed, except the ``missing`` frame indexes;
    the ``qc_fail`` frames failed the sharpness check."""
    session = CaptureSessionFactory(
        org=org,
        site=site,
        mode=CaptureSession.Mode.STUDIO360,
        shot_list={"studio360": {"frame_count": frame_count}},
        status=status,
        **fields,
    )
    missing, qc_fail = set(missing), set(qc_fail)
    start = timezone.now() - timedelta(minutes=30)
    for index in range(frame_count):
        if index in missing:
            continue
        image = ImageFactory(
            session=session,
            frame_index=index,
            angle_deg=spin_angle(frame_index=index, frame_count=frame_count),
            # Uploads arrive in any order; the console shows them by angle.
            created_at=start + timedelta(seconds=(index * 7) % frame_count),
        )
        processed(image, **({"qc": QC_SHARPNESS_FAIL} if index in qc_fail else {}))
    return session


def stills_session(*, org, site, shots: list[str], taken: list[str], **fields) -> CaptureSession:
    """A stills session with a shot list, of which the ``taken`` shots are processed."""
    session = CaptureSessionFactory(
        org=org,
        site=site,
        mode=CaptureSession.Mode.STILLS,
        shot_list={"stills": shots},
        status=CaptureSession.Status.COMPLETE,
        **fields,
    )
    start = timezone.now() - timedelta(minutes=30)
    for position, name in enumerate(taken):
        image = ImageFactory(
            session=session, shot_name=name, created_at=start + timedelta(seconds=position)
        )
        processed(image)
    return session


def changelist_rows(response) -> list[list[str]]:
    """The text of each cell of a changelist's result table, row by row."""
    table = re.search(
        r'<table id="result_list">.*?<tbody>(.*?)</tbody>', response.content.decode(), re.S
    )
    if table is None:
        return []
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in rows
    ]


def statuses(session: CaptureSession) -> dict[int | str, str]:
    return {
        image.angle_deg if image.angle_deg is not None else image.shot_name: image.status
        for image in Image.objects.filter(session=session)
    }
