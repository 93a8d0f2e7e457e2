"""Webhooks (API.md v1.3): the change feed pushed to subscribers. `destinations` says where a
delivery may go, `signing` signs it (Standard Webhooks), `schedule` when a failed one is
tried again, and `delivery` is the worker the lifespan starts and stops."""
