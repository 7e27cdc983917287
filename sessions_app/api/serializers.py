"""Shapes of the sessions endpoints. Input serializers check types; the rules are services'."""

from __future__ import annotations

from rest_framework import serializers

from imaging.api.views import LimitOffsetQuery
from sessions_app.models import CaptureSession

# --- Input


class UuidField(serializers.UUIDField):
    """A uuid given as a string: DRF would also take the JSON number 42 as UUID(int=42)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class VehicleKeysInput(serializers.Serializer):
    vin = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="17 characters; upper-cased."
    )
    stock = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="1-64 characters."
    )


class SessionCreateInput(serializers.Serializer):
    """Any other field (``id``, ``org_id``, ``status``, ``started_at``...) is ignored."""

    site_id = UuidField()
    vehicle = VehicleKeysInput(help_text="At least one of vin and stock.")
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField(
        required=False,
        default=dict,
        help_text='By mode: {"studio360": {"frame_count": 24}}, {"walk360": {"frame_count": '
        'N}} (required for that spin mode), {"stills": ["front_3q", ...]} (optional).',
    )


class SessionFinishInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=[(s.value, s.label) for s in CaptureSession.FINISHED])
    completed_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Used if not before started_at and at most 5 minutes ahead; else now.",
    )


class SessionListQuery(LimitOffsetQuery):
    site_id = UuidField(required=False)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices, required=False)
    vehicle_id = UuidField(required=False)


# --- Output


class VehicleKeysOutput(serializers.Serializer):
    vin = serializers.CharField(allow_null=True)
    stock = serializers.CharField(allow_null=True)


class VehicleOutput(VehicleKeysOutput):
    id = serializers.UUIDField()


class OperatorOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class DeviceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    model = serializers.CharField()


class SiteOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class SessionOutput(serializers.Serializer):
    """The created session (the contract's ``Session``)."""

    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    site_id = serializers.UUIDField()
    vehicle_id = serializers.UUIDField()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField()
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)


class SessionListItemOutput(serializers.Serializer):
    id = serializers.UUIDField()
    vehicle = VehicleKeysOutput()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    operator = OperatorOutput(allow_null=True, help_text="Null when a device started it.")
    site = SiteOutput()
    started_at = serializers.DateTimeField()
    image_count = serializers.IntegerField()


class SessionListOutput(serializers.Serializer):
    data = SessionListItemOutput(many=True)
    total = serializers.IntegerField()
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class SessionDetailOutput(serializers.Serializer):
    id = serializers.UUIDField()
    org_id = serializers.UUIDField()
    site_id = serializers.UUIDField()
    vehicle = VehicleOutput()
    mode = serializers.ChoiceField(choices=CaptureSession.Mode.choices)
    shot_list = serializers.DictField()
    operator = OperatorOutput(allow_null=True)
    device = DeviceOutput(allow_null=True)
    status = serializers.ChoiceField(choices=CaptureSession.Status.choices)
    started_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
