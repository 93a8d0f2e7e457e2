"""What every request passes through, whatever its route: the front door (request id, API
keys, problem answers), its telemetry (access line, metrics, logs), idempotency keys,
conditional requests, and the few parts of Starlette and logging the service replaces."""
