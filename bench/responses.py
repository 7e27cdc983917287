"""Micro-benchmark: CPU to write the hot responses (session detail and list items, image list
items, the presign response) from rows already read, without a server or a database.

    .venv/bin/python bench/responses.py [--rounds 7] [--count 1000]

Prints, per response, the best of ``--rounds`` timings of ``--count`` responses, and the
same through the DRF serializer the shape is declared with, for scale. Rows carry both the
``fk_id`` and the ``fk__id`` spellings of a related id, so any version of the writers finds
the columns it reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imaging.settings")

import django  # noqa: E402

django.setup()

from images_app.api import image_serializers  # noqa: E402
from images_app.api import serializers as presign_serializers  # noqa: E402
from images_app.storage import PresignedPut  # noqa: E402
from sessions_app.api import serializers as session_serializers  # noqa: E402

STARTED = dt.datetime(2025, 1, 15, 10, 0, 0, 123456, tzinfo=dt.UTC)


def session_row() -> dict:
    ids = {name: uuid.uuid4() for name in ("site", "vehicle", "operator", "device")}
    row = {
        "id": uuid.uuid4(),
        "org_id": uuid.uuid4(),
        "mode": "studio360",
        "shot_list": {"studio360": {"frame_count": 36}, "stills": ["dash", "vin_plate"]},
        "status": "complete",
        "started_at": STARTED,
        "completed_at": STARTED + dt.timedelta(minutes=9),
        "vehicle__vin": "1HGCM82633A004352",
        "vehicle__stock": "STK-1",
        "operator__name": "Olga Operator",
        "device__model": "iPhone 15",
        "site__name": "Main lot",
        "image_count": 36,
        "total_rows": 50,
    }
    for name, value in ids.items():
        row[f"{name}_id"] = row[f"{name}__id"] = value
    return row


def image_row() -> dict:
    image_id = uuid.uuid4()
    prefix = f"org/{uuid.uuid4()}/site/{uuid.uuid4()}/session/{uuid.uuid4()}/{image_id}"
    check = {"score": 812.5, "status": "pass"}
    return {
        "id": image_id,
        "angle_deg": 90,
        "shot_name": None,
        "thumb_keys": {size: f"{prefix}/thumb_{size}.jpg" for size in ("150", "600", "1200")},
        "qc": {"sharpness": check, "exposure": {**check, "mean": 121.0}},
        "status": "processed",
        "created_at": STARTED,
    }


def best(rounds: int, count: int, write: Callable[[], object]) -> float:
    """Best-of-rounds microseconds per response."""
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            write()
        timings.append(time.perf_counter() - start)
    return min(timings) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    session, image = session_row(), image_row()
    sign = "https://s3.example/{}?X-Amz-Signature=0".format
    presigned = PresignedPut(
        url="https://s3.example/put?X-Amz-Signature=0",
        headers={"Content-Type": "image/jpeg", "x-amz-checksum-sha256": "q" * 44},
        expires_at=STARTED,
    )
    upload = SimpleNamespace(
        id=uuid.uuid4(), storage_key="org/x.jpg", frame_index=3, angle_deg=30, shot_name=None
    )
    detail_instance = SimpleNamespace(
        id=session["id"],
        org_id=session["org_id"],
        site_id=session["site_id"],
        vehicle=SimpleNamespace(id=session["vehicle_id"], vin="1HGCM82633A004352", stock="S"),
        mode="studio360",
        shot_list=session["shot_list"],
        operator=SimpleNamespace(id=session["operator_id"], name="Olga Operator"),
        device=SimpleNamespace(id=session["device_id"], model="iPhone 15"),
        status="complete",
        started_at=STARTED,
        completed_at=STARTED,
    )
    cases = {
        "session detail": lambda: session_serializers.session_detail_data(session),
        "session list item": lambda: session_serializers.session_list_item_data(session),
        "image list item": lambda: image_serializers.image_list_item_data(image, sign=sign),
        "presign": lambda: presign_serializers.presign_response_data(upload, presigned),
        "session detail (DRF)": lambda: (
            session_serializers.SessionDetailOutput(detail_instance).data
        ),
    }
    print(f"best of {args.rounds} x {args.count} responses, µs per response")
    for name, write in cases.items():
        print(f"{name:24} {best(args.rounds, args.count, write):8.2f}")


if __name__ == "__main__":
    main()
