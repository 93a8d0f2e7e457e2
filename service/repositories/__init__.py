"""Data access: plain async functions over named SQL, returning plain dicts or None."""

from collections.abc import Callable
from typing import Any

import asyncpg

# A check a write runs on the resource as a read would show it, read under the write's own
# row lock, before writing; it raises to refuse (a stale If-Match: service/plumbing/conditional.py).
Precondition = Callable[[dict[str, Any]], None]


def as_dict(record: asyncpg.Record) -> dict[str, Any]:
    """A row as a plain dict, so no driver record leaves the repository."""
    return dict(record.items())


def as_dicts(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record.items()) for record in records]
