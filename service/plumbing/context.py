"""Per-request values that log lines and the idempotency scope need, as contextvars set by
pure ASGI middleware (BaseHTTPMiddleware would lose them), so no call has to pass them on."""

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Who is calling: the API key's name, else the X-Actor header, else "anonymous".
actor: ContextVar[str] = ContextVar("actor", default="anonymous")
# The API key's name when keys are on; it scopes idempotency keys. One shared scope otherwise.
key_name: ContextVar[str] = ContextVar("key_name", default="")
