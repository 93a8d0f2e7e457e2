"""Who is calling, and may they: API keys (`API_KEYS=name:key:scopes,...`, scopes `read`,
`read+write` or `read+write+admin`) and OAuth 2.0 access tokens (`OAUTH_*`, tokens.py),
either or both.

With either on, every request but the open paths needs `Authorization: Bearer <value>`; a
value of three dot-separated parts is read as a token, anything else as a key. 401 when it is
missing, not good or over 8 KiB (refused unread), 403 when it lacks the scope (`admin` for
`/webhooks`, OneRoster's own under its base path, else `read` for GET and HEAD and `write` for
the rest; admin implies write, and write read, and read OneRoster), 503 when a token arrives
before the issuer's keys have loaded.
The caller's name becomes the actor in logs and history, and the scope of its idempotency keys.
"""

import hmac

from starlette.types import Scope

from service import oneroster
from service.config import ApiKey
from service.plumbing import OPERATIONAL_PATHS, context
from service.plumbing.tokens import (
    FAILED_FETCH_RETRY_SECONDS,
    NoKeysYet,
    TokenCheck,
    TokenRefused,
    bounded_actor,
)
from service.problems import Problem

READ_METHODS = frozenset({"GET", "HEAD"})
ADMIN_PATH = "/webhooks"  # and everything under it: subscriptions need the admin scope
# Far above any real key or access token (a few hundred bytes to 2 KiB), far below what makes
# parsing one a cost: a longer bearer is refused before anything reads it.
LONGEST_BEARER_BYTES = 8 * 1024


class Unauthorized(Problem):
    status, kind, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, *, tokens_on: bool) -> None:
        super().__init__(detail)
        # RFC 6750 section 3; API.md v1.2 asks for the error code on every 401 once tokens
        # are on, v1 for the bare scheme with keys alone.
        self.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if tokens_on else "Bearer"


class Forbidden(Problem):
    status, kind, title = 403, "forbidden", "Not allowed for this caller"


class AuthUnavailable(Problem):
    status, kind, title = 503, "auth-unavailable", "Token keys not loaded yet"

    def __init__(self) -> None:
        super().__init__("the issuer's signing keys have not loaded yet; retry shortly")
        # When the next fetch is tried.
        self.headers["Retry-After"] = str(round(FAILED_FETCH_RETRY_SECONDS))


def _bearer(scope: Scope) -> bytes | None:
    for header, value in scope["headers"]:
        if header == b"authorization":
            kind, _, token = value.partition(b" ")
            return token.strip() if kind.lower() == b"bearer" else None
    return None


def _actor_header(scope: Scope) -> str | None:
    for header, value in scope["headers"]:
        if header == b"x-actor":
            return bounded_actor(value.decode("latin-1")) or None
    return None


def _looks_like_token(bearer: bytes) -> bool:
    return bearer.count(b".") == 2


class CallerCheck:
    """Checks a request's key or token (when either is on) and records who is calling;
    FrontDoor calls it for every request."""

    def __init__(self, keys: tuple[ApiKey, ...], tokens: TokenCheck | None) -> None:
        self.keys = keys
        self.tokens = tokens
        self._secrets = tuple((key.secret.encode(), key) for key in keys)  # encoded once

    def find_key(self, token: bytes) -> ApiKey | None:
        # Compare against every key, in constant time each, so timing says nothing.
        found = None
        for secret, key in self._secrets:
            if hmac.compare_digest(secret, token):
                found = key
        return found

    def refusal(self, scope: Scope) -> Problem | None:
        """The 401, 403 or 503 to answer the request with, or None when it may go on (its
        actor then set in `context`)."""
        if not self.keys and self.tokens is None:
            context.actor.set(_actor_header(scope) or "anonymous")
            return None
        if scope["path"] in OPERATIONAL_PATHS:
            return None
        bearer = _bearer(scope)
        if bearer and len(bearer) > LONGEST_BEARER_BYTES:
            return self._unauthorized(f"the bearer value is over {LONGEST_BEARER_BYTES} bytes")
        if bearer and self.tokens is not None and _looks_like_token(bearer):
            return self._token_refusal(scope, bearer)
        key = self.find_key(bearer) if bearer else None
        if key is None:
            return self._unauthorized("send Authorization: Bearer with a valid key or token")
        _record_caller(key.name)
        needed = _needed_scope(scope)
        if not _allows(key.scopes, needed):
            return Forbidden(f"key {key.name!r} lacks the {needed} scope")
        return None

    def _token_refusal(self, scope: Scope, bearer: bytes) -> Problem | None:
        assert self.tokens is not None
        try:
            caller = self.tokens.caller(bearer.decode("ascii"))
        except NoKeysYet:
            return AuthUnavailable()
        except TokenRefused as error:
            return self._unauthorized(str(error))
        except UnicodeDecodeError:
            return self._unauthorized("the token is malformed")
        _record_caller(caller.actor)
        needed = _needed_scope(scope)
        if _allows(caller.scopes, needed):
            return None
        settings = self.tokens.settings
        scope_name = {
            "read": settings.read_scope,
            "write": settings.write_scope,
            "admin": settings.admin_scope,
            **oneroster.SCOPE_URIS,
        }[needed]
        problem = Forbidden(f"the token lacks the {scope_name} scope")
        problem.headers["WWW-Authenticate"] = (
            f'Bearer error="insufficient_scope", scope="{scope_name}"'
        )
        return problem

    def _unauthorized(self, detail: str) -> Unauthorized:
        return Unauthorized(detail, tokens_on=self.tokens is not None)


def _record_caller(name: str) -> None:
    context.actor.set(name)
    context.caller.set(name)


def _needed_scope(scope: Scope) -> str:
    path = scope["path"]
    if path.startswith(ADMIN_PATH):
        return "admin"
    if path.startswith(oneroster.BASE_PATH):
        return oneroster.needed_scope(path)
    return "read" if scope["method"] in READ_METHODS else "write"


def _allows(scopes: frozenset[str], needed: str) -> bool:
    """Whether a caller with `scopes` may make a request that needs `needed`: the service's
    read scope reads OneRoster too."""
    return needed in scopes or (needed in oneroster.SCOPE_URIS and "read" in scopes)
