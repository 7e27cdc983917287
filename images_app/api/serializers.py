"""Presign request and response shapes. Image serializers live in image_serializers.py."""

from __future__ import annotations

import unicodedata

from rest_framework import serializers

from images_app.models import Image


class StrictCharField(serializers.CharField):
    """A string and only a string: DRF's CharField would turn 123 into "123"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "5" and 5.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictUUIDField(serializers.UUIDField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=str(data)[:64])
        return super().to_internal_value(data)


# Control characters and the bidi overrides that make a name display as something else.
# (CharField itself refuses lone surrogates, which PostgreSQL cannot store.)
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _no_control_characters(value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in value):
        raise serializers.ValidationError("Control characters are not allowed.")


class PresignRequest(serializers.Serializer):
    session_id = StrictUUIDField()
    file_name = StrictCharField(
        max_length=255, trim_whitespace=False, validators=[_no_control_characters]
    )
    # Exactly these strings: no case folding, no parameters (``image/jpeg; x=1``).
    content_type = serializers.ChoiceField(choices=Image.ContentType.values)
    content_sha256 = serializers.RegexField(
        r"\A[0-9a-fA-F]{64}\Z",
        trim_whitespace=False,
        error_messages={"invalid": "Must be the SHA-256 of the file as 64 hex characters."},
    )
    angle_deg = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=359)
    # The upper bound is the session's frame_count, checked by the service.
    frame_index = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=32767)
    shot_name = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        trim_whitespace=False,
        validators=[_no_control_characters],
    )

    def validate_file_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_content_sha256(self, value: str) -> str:
        return value.lower()


class PresignResponse(serializers.Serializer):
    upload_url = serializers.URLField()
    storage_key = serializers.CharField()
    headers = serializers.DictField(
        child=serializers.CharField(),
        help_text="Send exactly these headers with the PUT: Content-Type, "
        "x-amz-content-sha256 (hex) and x-amz-checksum-sha256 (base64).",
    )
    expires_at = serializers.DateTimeField()
    image_id = serializers.UUIDField()
    frame_index = serializers.IntegerField(allow_null=True)
    angle_deg = serializers.IntegerField(allow_null=True)
    shot_name = serializers.CharField(allow_null=True)
