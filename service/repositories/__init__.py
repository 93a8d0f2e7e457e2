"""Data access: plain async functions over named SQL, returning plain dicts or None."""

from collections.abc import Callable
from typing import Any

import asyncpg

from service.problems import Conflict
from service.queries import Connection, Query
from service.repositories.locks import LockClass

# A check a write runs on the resource as a read would show it, read under the write's own
# row lock, before writing; it raises to refuse (a stale If-Match: service/plumbing/conditional.py).
Precondition = Callable[[dict[str, Any]], None]


def as_dict(record: asyncpg.Record) -> dict[str, Any]:
    """A row as a plain dict, so no driver record leaves the repository."""
    return dict(record.items())


def as_dicts(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(record.items()) for record in records]


def already_exists(
    entity: str, error: asyncpg.UniqueViolationError, values: dict[str, Any]
) -> Conflict:
    """The Conflict a unique index's refusal is, naming the field taken and its value: each
    unique index is named `<table>_<field>_key` (students_email_key, courses_code_key,
    <table>_external_id_key)."""
    field = (error.constraint_name or "").removeprefix(f"{entity}s_").removesuffix("_key")
    return Conflict(f"a {entity} with {field} {values.get(field)!r} already exists")


async def lock_external_id(
    conn: Connection, lock: Query, lock_class: LockClass, external_id: str | None
) -> None:
    """Hold `external_id`'s lock (`lock`, in `lock_class`) until the transaction ends; nothing
    for None. Every write that sets an external id takes it, before any row lock: so of
    concurrent upserts of one new id a single one finds none and creates it, and an upsert
    racing a create or change that sets the id waits for it and then finds its row."""
    if external_id is not None:
        await lock.execute(conn, lock_class=lock_class, external_id=external_id)


async def find_by_external_id(
    conn: Connection, select: Query, external_id: str
) -> dict[str, Any] | None:
    """The row with this external id, locked, or None; called holding the id's lock."""
    row = await select.fetchrow(conn, external_id=external_id)
    return as_dict(row) if row else None


def differing(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The changes that would change something."""
    return {name: value for name, value in changes.items() if current[name] != value}
