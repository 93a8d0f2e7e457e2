"""Data access: plain async functions over named SQL, returning plain dicts or None."""

from typing import Any

import asyncpg


def as_dict(record: asyncpg.Record) -> dict[str, Any]:
    """A row as a plain dict, so no driver record leaves the repository."""
    return dict(record.items())


def as_dicts(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record.items()) for record in records]
