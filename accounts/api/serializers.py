from rest_framework import serializers

from accounts.models import Device


class DeviceAuthRequest(serializers.Serializer):
    org_id = serializers.UUIDField()
    platform = serializers.ChoiceField(choices=Device.Platform.choices)
    model = serializers.CharField(max_length=200)
    app_version = serializers.CharField(max_length=64)
    enrollment_code = serializers.CharField(max_length=64, required=False, allow_blank=True)


class DeviceAuthResponse(serializers.Serializer):
    device_id = serializers.UUIDField()
    access_token = serializers.CharField()
    expires_in = serializers.IntegerField()
