"""POST /auth/login: exchange an OIDC id_token for a user token."""

from rest_framework.permissions import AllowAny

from imaging.api.errors import ApplicationError
from imaging.api.views import ApiView


class LoginView(ApiView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise ApplicationError("UNAUTHORIZED", "Invalid OIDC token.", status_code=401)
