"""A stand-in OAuth 2.0 issuer for the token tests, offline: signing keys generated here,
tokens minted with PyJWT, and the key set served by a real HTTP server on 127.0.0.1."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.http_server import serving

ISSUER = "https://issuer.test/"
AUDIENCE = "enrollment-service"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        public = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def rsa_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(f"rsa-{uuid.uuid4().hex[:8]}", "RS256", private)


def ec_key() -> SigningKey:
    return SigningKey(
        f"ec-{uuid.uuid4().hex[:8]}", "ES256", ec.generate_private_key(ec.SECP256R1())
    )


def mint(key: SigningKey, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token signed by `key`: valid for an hour for ISSUER and AUDIENCE with both scopes,
    unless `claims` say otherwise (a claim given as None is left out)."""
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "client_id": "registrar",
        "scope": "enrollment.read enrollment.write",
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(
        payload, key.private, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})}
    )


@dataclass
class KeyEndpoint:
    """The issuer's key set (JWKS) over HTTP; `up = False` answers 503 as a down issuer."""

    keys: list[SigningKey]
    up: bool = True
    fetches: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_set(self) -> bytes:
        return json.dumps({"keys": [key.jwk() for key in self.keys]}).encode()

    @contextmanager
    def serving(self) -> Iterator["KeyEndpoint"]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with endpoint._lock:
                    endpoint.fetches += 1
                body = endpoint.key_set() if endpoint.up else b"down"
                self.send_response(200 if endpoint.up else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows stderr of failing tests only

        with serving(Handler) as base:
            self.url = f"{base}/.well-known/jwks.json"
            yield self
