from rest_framework import serializers

from accounts.models import Device
from imaging.api.fields import TEXT, VISIBLE_TEXT, StrictCharField, StrictUUIDField


class DeviceAuthRequest(serializers.Serializer):
    org_id = StrictUUIDField()
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    model = StrictCharField(
        max_length=200,
        pattern=VISIBLE_TEXT,
        pattern_message="Must be visible text without control characters.",
    )
    app_version = StrictCharField(
        max_length=64,
        pattern=VISIBLE_TEXT,
        pattern_message="Must be visible text without control characters.",
    )
    # Surrounding spaces are ignored when the code is compared (enrollment_code_hash).
    enrollment_code = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        pattern=TEXT,
        pattern_message="Must be text without control characters.",
        help_text="Issued by staff; not needed when the organisation enrolls devices openly.",
    )


class DeviceAuthResponse(serializers.Serializer):
    device_id = serializers.UUIDField()
    access_token = serializers.CharField()
    expires_in = serializers.IntegerField()
