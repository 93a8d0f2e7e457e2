"""What every request passes through, whatever its route: the front door (request id, caller
check, trace context, problem answers), its telemetry (access line, metrics, logs, spans),
idempotency keys, conditional requests, and the few parts of Starlette and logging the
service replaces."""

# The operator's endpoints: open to every caller with keys or tokens on, and never traced
# (API.md v1.2).
OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
