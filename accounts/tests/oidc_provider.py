"""A real OIDC provider for tests: an HTTP server on 127.0.0.1 serving discovery and JWKS.

It publishes the public halves of keys the test generated, mints id_tokens with any claims,
headers and key (including forgeries), answers the authorization-code token endpoint for the
admin browser flow, and counts the requests it served.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk = algorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def with_kid(self, kid: str) -> SigningKey:
        return SigningKey(kid=kid, alg=self.alg, private_key=self.private_key)


def rsa_signing_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid=kid, alg="RS256", private_key=private)


def ec_signing_key(kid: str) -> SigningKey:
    return SigningKey(kid=kid, alg="ES256", private_key=ec.generate_private_key(ec.SECP256R1()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """``alg: none``: header and claims, empty signature."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """HS256 over any bytes — PyJWT refuses to use a PEM public key as an HMAC secret."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url(path: str = "/jwks") -> str:
    """A URL on which nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}{path}"


ABSENT = object()


@dataclass
class LocalOIDCProvider:
    """Start with ``with LocalOIDCProvider(keys=[...]) as provider:``."""

    keys: list[SigningKey]
    client_id: str = "imaging-test-client"
    client_secret: str = "test-client-secret"
    served: Counter = field(default_factory=Counter)
    # What the token endpoint hands out next (admin browser flow).
    next_id_token: str | None = None
    # (status, body) the JWKS endpoint answers instead of the keys: a broken provider.
    jwks_failure: tuple[int, bytes] | None = None
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "provider not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.base_url}/authorize",
            "token_endpoint": f"{self.base_url}/token",
            "userinfo_endpoint": f"{self.base_url}/userinfo",
            "jwks_uri": f"{self.base_url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
        }

    def publish(self, key: SigningKey) -> None:
        """Key rotation: the JWKS lists ``key`` from now on."""
        self.keys = [*self.keys, key]

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid id_token claims for this client; ``name=ABSENT`` leaves a claim out."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "subject-0001",
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not ABSENT}

    def id_token(
        self, *, key: SigningKey | None = None, headers: dict[str, Any] | None = None, **claims
    ) -> str:
        """An id_token signed with ``key`` (default: the first published key)."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private_key,
            algorithm=key.alg,
            headers={"kid": key.kid, **(headers or {})},
        )

    # --- server

    def __enter__(self) -> LocalOIDCProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # keep test output clean
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                provider.served[path] += 1
                if path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery)
                elif path == "/jwks" and provider.jwks_failure:
                    status, body = provider.jwks_failure
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif path == "/jwks":
                    self._json(200, {"keys": [k.public_jwk for k in provider.keys]})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self):
                path = self.path.split("?", 1)[0]
                provider.served[path] += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if path == "/token" and provider.next_id_token:
                    self._json(
                        200,
                        {
                            "access_token": "opaque-access-token",
                            "token_type": "Bearer",
                            "expires_in": 300,
                            "id_token": provider.next_id_token,
                        },
                    )
                else:
                    self._json(400, {"error": "invalid_grant"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


class SilentServer:
    """Accepts connections and never answers: a provider that hangs."""

    def __init__(self) -> None:
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/jwks"

    def _accept(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)

    def __enter__(self) -> SilentServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        for conn in self._held:
            conn.close()
        self._sock.close()
