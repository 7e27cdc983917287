"""OIDC: id_token verification for /auth/login and the admin browser flow."""

from mozilla_django_oidc.auth import OIDCAuthenticationBackend


class AdminOIDCBackend(OIDCAuthenticationBackend):
    pass
