"""API keys: `API_KEYS=name:key:scopes,...` with scopes `read` or `read+write`.

With keys configured, every request but the open paths needs `Authorization: Bearer <key>`:
401 when it is missing or unknown, 403 when the key lacks the scope (`read` for GET and HEAD,
`write` for the rest). The key's name becomes the actor in logs and the idempotency scope.
"""

import hmac

from starlette.types import Scope

from service.config import ApiKey
from service.plumbing import context
from service.problems import Problem

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
READ_METHODS = frozenset({"GET", "HEAD"})


class Unauthorized(Problem):
    status, kind, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.headers["WWW-Authenticate"] = "Bearer"


class Forbidden(Problem):
    status, kind, title = 403, "forbidden", "Not allowed for this key"


def _bearer(scope: Scope) -> bytes | None:
    for header, value in scope["headers"]:
        if header == b"authorization":
            kind, _, token = value.partition(b" ")
            return token.strip() if kind.lower() == b"bearer" else None
    return None


def _actor_header(scope: Scope) -> str | None:
    for header, value in scope["headers"]:
        if header == b"x-actor":
            return value.decode("latin-1")[:128] or None
    return None


class KeyCheck:
    """Checks a request's key (when keys are on) and records who is calling; FrontDoor
    calls it for every request."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self.keys = keys
        self._secrets = tuple((key.secret.encode(), key) for key in keys)  # encoded once

    def find_key(self, token: bytes) -> ApiKey | None:
        # Compare against every key, in constant time each, so timing says nothing.
        found = None
        for secret, key in self._secrets:
            if hmac.compare_digest(secret, token):
                found = key
        return found

    def refusal(self, scope: Scope) -> Problem | None:
        """The 401 or 403 to answer the request with, or None when it may go on (its actor
        then set in `context`)."""
        if not self.keys:
            context.actor.set(_actor_header(scope) or "anonymous")
            return None
        if scope["path"] in OPEN_PATHS:
            return None
        token = _bearer(scope)
        key = self.find_key(token) if token else None
        if key is None:
            return Unauthorized("send Authorization: Bearer <key> with a valid key")
        context.actor.set(key.name)
        context.key_name.set(key.name)
        needed = "read" if scope["method"] in READ_METHODS else "write"
        if needed not in key.scopes:
            return Forbidden(f"key {key.name!r} lacks the {needed} scope")
        return None
