"""Presign request and response shapes. Image serializers live in image_serializers.py."""

from __future__ import annotations

import copy
import functools
from typing import Any

from django.conf import settings
from rest_framework import serializers

from images_app.models import Image
from images_app.storage import PresignedPut
from imaging.api.fields import (
    VISIBLE_TEXT,
    InputSerializer,
    StrictCharField,
    StrictIntegerField,
    StrictUUIDField,
)
from imaging.api.writers import ResponseWriter


@functools.lru_cache(maxsize=4)
def _content_length_field(max_bytes: int) -> StrictIntegerField:
    return StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=max_bytes,
        help_text="The file's size in bytes. Signed into the upload URL: the store then "
        "refuses a PUT whose Content-Length differs.",
    )


class PresignRequest(InputSerializer):
    """Where the photo goes: ``angle_deg`` or ``frame_index`` (not both) in a spin,
    ``shot_name`` in stills. Whether that fits the session is the service's to say (409)."""

    schema_rules = {
        "not": {
            "description": "angle_deg and frame_index together",
            "required": ["angle_deg", "frame_index"],
            "properties": {"angle_deg": {"type": "integer"}, "frame_index": {"type": "integer"}},
        }
    }

    session_id = StrictUUIDField()
    file_name = StrictCharField(
        max_length=255,
        pattern=VISIBLE_TEXT,
        pattern_message="Must be visible text without control characters.",
        help_text="The device's name for the file; stored as metadata, never part of a key.",
    )
    # Exactly these strings: no case folding, no parameters (``image/jpeg; x=1``).
    content_type = serializers.ChoiceField(choices=Image.ContentType.values)
    # max_length: a longer value is refused on its length, before anything reads it.
    content_sha256 = StrictCharField(
        max_length=64,
        pattern=r"[0-9a-fA-F]{64}",
        pattern_message="Must be the SHA-256 of the file as 64 hex characters.",
    )
    angle_deg = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=359)
    # The upper bound is the session's frame_count, checked by the service.
    frame_index = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    shot_name = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        pattern=VISIBLE_TEXT,
        pattern_message="Must be visible text without control characters.",
    )

    replaces_image_id = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="A reshoot: the image of this session this photo replaces. It must have an "
        "open reshoot item; the photo gets its frame or shot, and a finished session takes it.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Not declared: the maximum is a setting (MAX_UPLOAD_BYTES), read for each request
        # and each schema, so the published schema states the limit the server holds.
        fields["content_length"] = copy.copy(_content_length_field(settings.MAX_UPLOAD_BYTES))
        return fields

    def validate_content_sha256(self, value: str) -> str:
        return value.lower()

    def validate(self, attrs: dict) -> dict:
        if attrs.get("angle_deg") is not None and attrs.get("frame_index") is not None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Send angle_deg or frame_index, not both."]}
            )
        return attrs


# Of ``{"image": <the pending Image>, "presigned": <its PresignedPut>}`` (no docstring: it
# would become the schema's description).
class PresignResponse(serializers.Serializer):
    upload_url = serializers.URLField(source="presigned.url")
    storage_key = serializers.CharField(source="image.storage_key")
    headers = serializers.DictField(
        source="presigned.headers",
        child=serializers.CharField(),
        help_text="Send exactly these headers with the PUT: Content-Type, "
        "x-amz-content-sha256 (hex) and x-amz-checksum-sha256 (base64).",
    )
    expires_at = serializers.DateTimeField(source="presigned.expires_at")
    image_id = serializers.UUIDField(source="image.id")
    frame_index = serializers.IntegerField(source="image.frame_index", allow_null=True)
    angle_deg = serializers.IntegerField(source="image.angle_deg", allow_null=True)
    shot_name = serializers.CharField(source="image.shot_name", allow_null=True)
    replaces_image_id = serializers.UUIDField(source="image.replaces_id", allow_null=True)


# The serializer was a tenth of a presign's CPU: the response is written by a function
# generated from it (imaging.api.writers).
PRESIGN_RESPONSE = ResponseWriter(PresignResponse, source="objects")


def presign_response_data(image: Image, presigned: PresignedPut) -> dict[str, Any]:
    """``PresignResponse({"image": image, "presigned": presigned}).data``."""
    return PRESIGN_RESPONSE.write({"image": image, "presigned": presigned})
