"""`make run`'s demo: the published spin's vehicle has a live public manifest (the demo page
embeds it)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from devtools.demo import SPIN, demo_seed
from publishing.models import Publication
from publishing.tests.helpers import validate_manifest

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_the_demo_vehicle_is_live_in_the_public_store_with_its_24_frames(s3, settings, tmp_path):
    settings.VAR_DIR = tmp_path

    demo = demo_seed()

    publication = Publication.objects.get(vehicle__stock=SPIN.stock)
    assert (publication.version, publication.live_version) == (1, 1)  # one bulk publish
    with urllib.request.urlopen(demo["manifest_url"], timeout=10) as response:
        manifest = validate_manifest(json.load(response))
    assert manifest["vehicle"]["id"] == demo["vehicle_id"]
    assert manifest["spin"]["frame_count"] == 24
    assert demo_seed()["manifest_url"] == demo["manifest_url"]  # and again, unchanged
    publication.refresh_from_db()
    assert publication.version == 1
