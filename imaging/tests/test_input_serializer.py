"""``InputSerializer`` copies its declared fields shallowly: the same answers as DRF's deep
copies, and no state shared between two requests."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from rest_framework import serializers

from images_app.api.image_serializers import ImageListQuery
from images_app.api.serializers import PresignRequest, _content_length_field


class DeepCopiedPresignRequest(PresignRequest):
    get_fields = serializers.Serializer.get_fields


GOOD = {
    "session_id": str(uuid.uuid4()),
    "file_name": "IMG_0001.jpg",
    "content_type": "image/jpeg",
    "content_sha256": "AB" * 32,
    "frame_index": 3,
}
BODIES = [
    GOOD,
    {**GOOD, "angle_deg": 15},  # with frame_index: refused
    {**GOOD, "file_name": "a\nb", "content_type": "image/png", "content_sha256": "xyz"},
    {**GOOD, "session_id": 5, "frame_index": "3", "shot_name": ""},
    {},
]


def answer(serializer_class, body) -> tuple[bool, object]:
    serializer = serializer_class(data=body)
    valid = serializer.is_valid()
    return valid, serializer.validated_data if valid else serializer.errors


@pytest.mark.parametrize("body", BODIES)
def test_answers_are_those_of_deep_copied_fields(body):
    assert answer(PresignRequest, body) == answer(DeepCopiedPresignRequest, body)


def test_each_instance_binds_its_own_fields_and_the_declared_ones_stay_unbound():
    first, second = PresignRequest(data=GOOD), PresignRequest(data=GOOD)
    assert ImageListQuery(data={}).fields  # another class, bound as well
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second
        # content_length is added per instance (its maximum is a setting), from a template
        # field that must stay unbound too.
        template = PresignRequest._declared_fields.get(name) or _content_length_field(
            settings.MAX_UPLOAD_BYTES
        )
        assert template.parent is None


def test_threads_validating_at_once_get_their_own_answers():
    bodies = [{**GOOD, "frame_index": n} for n in range(200)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda body: answer(PresignRequest, body), bodies))
    assert [data["frame_index"] for _, data in answers] == list(range(200))


def test_a_copied_field_is_what_copy_copy_makes():
    import copy

    from imaging.api.fields import _copy

    for name, field in PresignRequest._declared_fields.items():
        made, expected = _copy(field), copy.copy(field)
        assert type(made) is type(expected) and made is not field, name
        assert made.__dict__ == expected.__dict__, name
