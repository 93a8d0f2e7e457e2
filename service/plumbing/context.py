"""Per-request values that log lines and the idempotency scope need, as contextvars set by
pure ASGI middleware (BaseHTTPMiddleware would lose them), so no call has to pass them on."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Who is calling: the API key's name or the token's "oauth:<client>", else the X-Actor
# header, else "anonymous".
actor: ContextVar[str] = ContextVar("actor", default="anonymous")
# The same name when keys or tokens are on; it scopes idempotency keys. One shared scope
# otherwise (X-Actor is the caller's say-so, not an identity).
caller: ContextVar[str] = ContextVar("caller", default="")
