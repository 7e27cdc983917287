"""GET /.well-known/jwks.json: the public keys that verify API tokens."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import signing
from imaging.api.schema import described, error_responses
from imaging.api.views import ApiView

# Another service may keep the set this long; a token with a kid it has not seen yet is
# its cue to fetch it again (a new key signs at once, within a minute on every process).
JWKS_MAX_AGE_SECONDS = 300


class JsonWebKey(serializers.Serializer):
    kty = serializers.ChoiceField(choices=["OKP", "RSA"])
    kid = serializers.CharField()
    alg = serializers.ChoiceField(choices=["EdDSA", "RS256"])
    use = serializers.ChoiceField(choices=["sig"])
    crv = serializers.CharField(required=False, help_text="OKP keys: Ed25519")
    x = serializers.CharField(required=False, help_text="OKP keys: the public key")
    n = serializers.CharField(required=False, help_text="RSA keys: the modulus")
    e = serializers.CharField(required=False, help_text="RSA keys: the exponent")


class JsonWebKeySet(serializers.Serializer):
    keys = JsonWebKey(many=True)


class JwksView(ApiView):
    """The public halves of every key whose tokens are still accepted (RFC 7517), so that
    another service can verify API tokens without any secret: pick the key by the token's
    ``kid`` and accept only that key's ``alg``. No private material is ever listed."""

    permission_classes = [AllowAny]
    authentication_classes = []
    rate_limit_bucket = "anonymous"

    @extend_schema(
        responses={200: JsonWebKeySet, **error_responses(429)},
        auth=[{}],
        operation_id="auth_jwks",
        tags=["auth"],  # not ".well-known", the path's first segment
        **described(
            summary="The public keys that verify API tokens",
            who="Anyone; no token is needed. Answers are cacheable for 5 minutes "
            "(`Cache-Control: public, max-age=300`).",
            changes="Nothing.",
            idempotency="A read: always safe to repeat. Fetch again when a token names a "
            "`kid` that is not in the set you hold.",
            details="The public halves of every key whose tokens are still accepted (RFC "
            "7517). Pick the key by the token's `kid` and accept only that key's `alg`.",
        ),
    )
    def get(self, request):
        response = Response(signing.jwks())
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
        return response
