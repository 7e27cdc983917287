"""The local OIDC provider's fixtures, shared with accounts/tests."""

from accounts.tests.conftest import oidc_keys, oidc_provider

__all__ = ["oidc_keys", "oidc_provider"]
