"""OAuth 2.0 access tokens (API.md v1.2 "Caller identity"): JWTs signed with a key from the
issuer's key set. PyJWT checks the signature and the claims; this module keeps the key set,
fetched off the request path by `keep_keys_fresh`, and remembers each token it has verified
until the token expires, so a caller sending the same token again costs a dictionary lookup.
"""

import asyncio
import json
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

from service.config import OAuthSettings

logger = logging.getLogger("service.auth")

# A token naming a kid we do not know asks for a refetch, no sooner than this after the last
# fetch (the contract's floor), so a stream of forged kids cannot hammer the issuer.
UNKNOWN_KID_REFETCH_SECONDS = 30.0
FAILED_FETCH_RETRY_SECONDS = 5.0  # while the key endpoint is down, or before a first key set
FETCH_TIMEOUT_SECONDS = 5.0
LARGEST_KEY_SET_BYTES = 1 << 20
VERIFIED_TOKENS_KEPT = 10_000  # bounds the memory: under 10 MB of tokens (about 800 bytes each)
ACTOR_LENGTH = 128


@dataclass(frozen=True)
class Caller:
    """Who a verified token speaks for, and what it allows, in API-key terms."""

    actor: str  # "oauth:" and the client_id, else the sub
    scopes: frozenset[str]  # of "read" and "write"
    expires_at: float  # the token's exp, seconds since the epoch


class TokenRefused(Exception):
    """The token is not good; the message says why, never the token."""


class NoKeysYet(Exception):
    """No key set has loaded yet: the token may be fine, we cannot tell."""


def fetch_key_set(settings: OAuthSettings) -> dict[str, jwt.PyJWK]:
    """The issuer's signing keys by kid, from its URL or file. Blocking: run in a thread."""
    if settings.jwks_url:
        # OAuthSettings lets only http(s) URLs through (S310 warns of file: and the like).
        request = urllib.request.Request(settings.jwks_url, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            raw = response.read(LARGEST_KEY_SET_BYTES)
    else:
        assert settings.jwks_file is not None
        raw = settings.jwks_file.read_bytes()
    key_set = jwt.PyJWKSet.from_dict(json.loads(raw))  # skips keys it cannot use
    return {key.key_id or "": key for key in key_set.keys if key.public_key_use in (None, "sig")}


class TokenCheck:
    """Verifies tokens against the key set it holds; one per worker process."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self.keys: dict[str, jwt.PyJWK] | None = None  # None until a first set loads
        self.fetched_at = -UNKNOWN_KID_REFETCH_SECONDS  # time.monotonic() of the last fetch
        self.refetch_wanted = asyncio.Event()
        self._verified: dict[str, Caller] = {}

    def caller(self, token: str) -> Caller:
        """The caller a token speaks for; raises TokenRefused or NoKeysYet."""
        known = self._verified.get(token)
        if known is not None and time.time() < known.expires_at + self.settings.leeway:
            return known
        caller = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = caller
        return caller

    def _verify(self, token: str) -> Caller:
        if self.keys is None:
            raise NoKeysYet
        claims = self._claims(token, self._signing_key(token))
        actor = claims.get("client_id") or claims.get("sub")
        if not isinstance(actor, str) or not actor:
            raise TokenRefused("the token names no client_id or sub")
        granted = claims.get("scope", "")
        granted = set(granted.split()) if isinstance(granted, str) else set()
        scopes = frozenset(
            {"read", "write"}
            if self.settings.write_scope in granted
            else {"read"}
            if self.settings.read_scope in granted
            else set()
        )
        return Caller(f"oauth:{actor}"[:ACTOR_LENGTH], scopes, float(claims["exp"]))

    def _signing_key(self, token: str) -> jwt.PyJWK:
        assert self.keys is not None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise TokenRefused("the token is malformed") from None
        if kid is None and len(self.keys) == 1:  # kid is optional (RFC 7515); one key is enough
            return next(iter(self.keys.values()))
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            self.refetch_wanted.set()  # the issuer may have rotated: keep_keys_fresh refetches
            raise TokenRefused("the token is signed by a key not in the issuer's key set")
        return key

    def _claims(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        settings = self.settings
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidTokenError as error:  # PyJWT's messages name the claim, not the token
            raise TokenRefused(f"the token is not valid: {error}") from None

    def use(self, keys: dict[str, jwt.PyJWK]) -> None:
        """Take a freshly fetched key set. Tokens verified before are forgotten when it
        differs, so a key that left the set stops working at once."""
        if self.keys is None or keys.keys() != self.keys.keys():
            logger.info("auth.keys_loaded", extra={"kids": sorted(keys)})
            self._verified.clear()
        self.keys = keys


async def keep_keys_fresh(check: TokenCheck) -> None:
    """Fetch the key set now, then every OAUTH_JWKS_REFRESH, and early (at most every 30 s)
    when a token names an unknown kid. A failed fetch keeps the last good set and is retried
    in a few seconds. The fetch runs in a thread: no request ever waits on it."""
    settings = check.settings
    while True:
        check.refetch_wanted.clear()
        check.fetched_at = time.monotonic()
        try:
            check.use(await asyncio.to_thread(fetch_key_set, settings))
            wait = settings.jwks_refresh
        except Exception as error:
            logger.warning("auth.keys_fetch_failed", extra={"detail": repr(error)[:300]})
            wait = min(settings.jwks_refresh, FAILED_FETCH_RETRY_SECONDS)
        try:
            await asyncio.wait_for(check.refetch_wanted.wait(), wait)
        except TimeoutError:
            continue
        floor = check.fetched_at + UNKNOWN_KID_REFETCH_SECONDS
        await asyncio.sleep(max(0.0, floor - time.monotonic()))
