"""Per-request values that log lines and the idempotency scope need, as contextvars set by
pure ASGI middleware (BaseHTTPMiddleware would lose them), so no call has to pass them on."""

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from service.plumbing.span_export import SpanExport

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# Who is calling: the API key's name or the token's "oauth:<client>", else the X-Actor
# header, else "anonymous".
actor: ContextVar[str] = ContextVar("actor", default="anonymous")
# The same name when keys or tokens are on; it scopes idempotency keys. One shared scope
# otherwise (X-Actor is the caller's say-so, not an identity).
caller: ContextVar[str] = ContextVar("caller", default="")
# The request's (trace_id, span_id), lowercase hex, for every log line it writes (tracing.py).
trace: ContextVar[tuple[str, str] | None] = ContextVar("trace", default=None)
# With span export on and the request's span recorded (sampled): the exporter and that span,
# the parent of the spans of the request's SQL statements.
traced_span: "ContextVar[tuple[SpanExport, Span] | None]" = ContextVar("traced_span", default=None)
