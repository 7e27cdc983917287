from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.api.serializers import DeviceAuthRequest, DeviceAuthResponse
from accounts.tokens import device_token_issue, token_lifetime_seconds
from imaging.api.errors import ApplicationError
from imaging.api.schema import error_responses
from imaging.api.views import ApiView


class DeviceAuthView(ApiView):
    """Enroll a new device (enrollment code or open org) or refresh an enrolled one.

    A refresh sends the device's current token as Bearer and gets the same ``device_id``.
    """

    permission_classes = [AllowAny]
    rate_limit_bucket = "auth_device"

    @extend_schema(
        request=DeviceAuthRequest,
        responses={200: DeviceAuthResponse, **error_responses(400, 401, 415, 429)},
        auth=[{}, {"bearerAuth": []}],
        operation_id="auth_device",
    )
    def post(self, request):
        data = self.validated(DeviceAuthRequest, request.data)
        actor = getattr(request, "actor", None)
        if actor is not None:
            if not actor.is_device or actor.org_id != data["org_id"]:
                raise ApplicationError(
                    "UNAUTHORIZED", "Refresh needs this org's device token.", status_code=401
                )
            device = services.device_refresh(
                device=actor.device,
                platform=data["platform"],
                model=data["model"],
                app_version=data["app_version"],
            )
        else:
            device = services.device_enroll(
                org_id=data["org_id"],
                platform=data["platform"],
                model=data["model"],
                app_version=data["app_version"],
                enrollment_code=data.get("enrollment_code") or None,
                request_id=request.request_id,
            )
        token = device_token_issue(device=device)
        return Response(
            {
                "device_id": str(device.id),
                "access_token": str(token),
                "expires_in": token_lifetime_seconds(token),
            }
        )
