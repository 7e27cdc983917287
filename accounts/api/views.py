from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services
from accounts.api.serializers import DeviceAuthRequest, DeviceAuthResponse
from accounts.tokens import device_token_issue, token_lifetime_seconds
from imaging.api.errors import ApplicationError
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView


class DeviceAuthView(ApiView):
    """Enroll a new device (enrollment code or open org) or refresh an enrolled one.

    A refresh sends the device's current token as Bearer and gets the same ``device_id``.
    """

    permission_classes = [AllowAny]
    rate_limit_bucket = "auth_device"

    @extend_schema(
        request=DeviceAuthRequest,
        responses={
            200: DeviceAuthResponse,
            **error_responses(
                400,
                401,
                413,
                415,
                429,
                reasons={
                    401: "`UNAUTHORIZED`: the enrollment code is unknown, expired or used up "
                    "(or the organisation takes codes and none was sent); on a refresh, the "
                    "Bearer token is not a device token of this `org_id`, or the device is "
                    "revoked.",
                },
            ),
        },
        auth=[{}, {"bearerAuth": []}],
        operation_id="auth_device",
        **described(
            summary="Enroll a device, or refresh its token",
            who="Anyone with the organisation's enrollment code (or anyone, for an "
            "organisation that enrolls devices openly). A device refreshing its token sends "
            "its current device token as `Authorization: Bearer`.",
            changes="Enrolling creates a device (and uses one use of the enrollment code); "
            "refreshing updates the device's platform, model and app version. Either way a "
            "new 30-day device token is returned; earlier tokens stay valid until they "
            "expire.",
            idempotency="Not idempotent without a token: each enrollment creates a new device "
            "and uses the code once more. A refresh is safe to retry: it returns the same "
            "`device_id` with a fresh token.",
        ),
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
