"""POST /auth/login: exchange an OIDC id_token for a user token."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.oidc import oidc_login
from accounts.tokens import token_lifetime_seconds, user_token_issue
from imaging.api.fields import StrictCharField
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView

ID_TOKEN_MAX_LENGTH = 8192


class LoginRequest(serializers.Serializer):
    # Any string passes here: whatever is not a valid id_token fails verification (401).
    id_token = StrictCharField(max_length=ID_TOKEN_MAX_LENGTH, allow_blank=True)


class LoginResponse(serializers.Serializer):
    user_id = serializers.UUIDField()
    access_token = serializers.CharField()
    expires_in = serializers.IntegerField()


class LoginView(ApiView):
    """Exchange an id_token from the organisation's OIDC provider for an 8-hour user token.

    401: the id_token is not valid for this service. 403: it is valid, but no active user of
    an organisation has that identity. 503: the provider's keys cannot be fetched.
    """

    permission_classes = [AllowAny]
    # A stale bearer token left on the client must not stand in the way of logging in again.
    authentication_classes = []
    rate_limit_bucket = "default"

    @extend_schema(
        request=LoginRequest,
        responses={
            200: LoginResponse,
            **error_responses(
                400,
                401,
                403,
                413,
                415,
                429,
                reasons={
                    401: "`UNAUTHORIZED`: the id_token is not valid for this service (signature, "
                    "issuer, audience, expiry or age); the reason is logged, never returned.",
                    403: "`FORBIDDEN`: the id_token is valid, but no active user of an "
                    "organisation has that identity (users are provisioned by staff, never "
                    "created by a login).",
                    503: "`SERVICE_UNAVAILABLE`: the identity provider's keys cannot be "
                    "fetched, or OIDC is not configured on this server.",
                },
            ),
        },
        auth=[{}],
        operation_id="auth_login",
        **described(
            summary="Exchange an OIDC id_token for a user token",
            who="Anyone holding an id_token from the organisation's OpenID Connect provider. "
            "Any `Authorization` header is ignored, so a stale token never blocks a login.",
            changes="On the first login of a pre-provisioned user with a verified email, links "
            "the provider's identity to that user. Returns an 8-hour user token.",
            idempotency="Safe to retry with the same id_token while it is valid: each call "
            "returns a new user token for the same `user_id`.",
        ),
    )
    def post(self, request):
        data = self.validated(LoginRequest, request.data)
        user = oidc_login(id_token=data["id_token"])
        token = user_token_issue(user=user)
        return Response(
            {
                "user_id": str(user.id),
                "access_token": str(token),
                "expires_in": token_lifetime_seconds(token),
            }
        )
