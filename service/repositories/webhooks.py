"""Webhook subscriptions as the API manages them (API.md v1.3 "Webhooks"). What the delivery
worker reads and writes under its lease is service/webhooks/delivery.py's, over the same
statements file."""

from typing import Any

import asyncpg

from service.database import Database
from service.pagination import PageRequest
from service.problems import Problem
from service.queries import Connection, load_queries
from service.repositories import as_dict, changes

SQL = load_queries("webhooks")
Webhook = dict[str, Any]
# What a change of these fields restarts: the delivery in hand is dropped, its lease taken
# back, and the next one starts at once.
RESTARTING = frozenset({"entities", "status", "cursor_position"})


def _shown(row: asyncpg.Record) -> Webhook:
    """A subscription as the API shows it (never its secret)."""
    last_attempt = None
    if row["attempt_id"] is not None:
        last_attempt = attempt_shown(
            {
                "id": row["attempt_id"],
                "at": row["attempt_at"],
                "webhook_id": row["id"],
                "first_position": row["attempt_first_position"],
                "last_position": row["attempt_last_position"],
                "status_code": row["attempt_status_code"],
                "error": row["attempt_error"],
                "duration_ms": row["attempt_duration_ms"],
            }
        )
    return {
        "id": row["id"],
        "url": row["url"],
        "entities": row["entities"],
        "description": row["description"],
        "status": row["status"],
        "cursor": changes.encode_position(row["cursor_position"]),
        "lag": row["lag"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "last_attempt": last_attempt,
        "next_attempt_at": row["next_attempt_at"],
        "failing_since": row["failing_since"],
    }


def attempt_shown(attempt: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": attempt["id"],
        "at": attempt["at"],
        "webhook_id": attempt["webhook_id"],
        "first_cursor": changes.encode_position(attempt["first_position"]),
        "last_cursor": changes.encode_position(attempt["last_position"]),
        "status_code": attempt["status_code"],
        "error": attempt["error"],
        "duration_ms": attempt["duration_ms"],
    }


async def _bounds_checked(conn: Connection, after: int | None, not_ours: Problem) -> int:
    """The feed's last position, once `after` (when given) is known to resume within
    retention (else 410) and at or before it (else `not_ours`)."""
    await changes.sequence(conn)
    bounds = await SQL["select-feed-bounds"].fetchrow(conn)
    assert bounds is not None
    if after is not None:
        changes.check_cursor(
            after,
            last_position=bounds["last_position"],
            expired_through=bounds["expired_through"],
            not_ours=not_ours,
        )
    last_position: int = bounds["last_position"]
    return last_position


async def _one(conn: Connection, webhook_id: int) -> Webhook | None:
    row = await SQL["select-webhooks"].fetchrow(conn, webhook_id=webhook_id, after_id=0, limit=1)
    return _shown(row) if row else None


async def create_webhook(
    db: Database,
    *,
    url: str,
    entities: list[str],
    description: str,
    after_position: int | None,
    secret: str,
    not_ours: Problem,
) -> Webhook:
    """The new subscription, delivering from right after `after_position` (None: after the
    last change committed now); 410 or `not_ours` for a position the feed cannot resume
    after."""
    async with db.transaction() as conn:
        head = await _bounds_checked(conn, after_position, not_ours)
        webhook_id = await SQL["insert-webhook"].fetchval(
            conn,
            url=url,
            entities=entities,
            description=description,
            secret=secret,
            cursor_position=head if after_position is None else after_position,
        )
        shown = await _one(conn, webhook_id)
    assert shown is not None
    return shown


async def get_webhook(db: Database, *, webhook_id: int) -> Webhook | None:
    async with db.connection() as conn:
        return await _one(conn, webhook_id)


async def list_webhooks(db: Database, *, page: PageRequest) -> list[Webhook]:
    """Up to `page.limit + 1` subscriptions after the cursor."""
    async with db.connection() as conn:
        rows = await SQL["select-webhooks"].fetch(
            conn, webhook_id=None, after_id=page.after_id, limit=page.limit + 1
        )
    return [_shown(row) for row in rows]


async def update_webhook(
    db: Database, *, webhook_id: int, fields: dict[str, Any], not_ours: Problem
) -> Webhook | None:
    """The subscription with `fields` (WebhookUpdate's, the cursor as `cursor_position`)
    changed; None when unknown. A cursor must resume within retention (410) and not past
    the feed's head (`not_ours`); so must an expired subscription's made active again."""
    async with db.transaction() as conn:
        current = await SQL["lock-webhook"].fetchrow(conn, webhook_id=webhook_id)
        if current is None:
            return None
        cursor = fields.get("cursor_position")
        reviving = fields.get("status") == "active" or cursor is not None
        if reviving:
            await _bounds_checked(
                conn, current["cursor_position"] if cursor is None else cursor, not_ours
            )
        if cursor is not None and "status" not in fields and current["status"] == "expired":
            fields = {**fields, "status": "active"}  # a fresh cursor revives it
        await SQL["update-webhook"].execute(
            conn,
            webhook_id=webhook_id,
            url=fields.get("url"),
            entities=fields.get("entities"),
            description=fields.get("description"),
            status=fields.get("status"),
            cursor_position=cursor,
            restart=not RESTARTING.isdisjoint(fields),
        )
        return await _one(conn, webhook_id)


async def rotate_secret(
    db: Database, *, webhook_id: int, secret: str, overlap: float
) -> Webhook | None:
    """The subscription, now signed with `secret` and, for `overlap` seconds, with the one it
    replaced too; None when unknown."""
    async with db.transaction() as conn:
        rotated = await SQL["rotate-webhook-secret"].fetchval(
            conn, webhook_id=webhook_id, secret=secret, overlap=overlap
        )
        return await _one(conn, webhook_id) if rotated else None


async def delete_webhook(db: Database, *, webhook_id: int) -> bool:
    async with db.connection() as conn:
        return await SQL["delete-webhook"].fetchval(conn, webhook_id=webhook_id) is not None


async def list_attempts(
    db: Database, *, webhook_id: int, page: PageRequest
) -> list[dict[str, Any]] | None:
    """Up to `page.limit + 1` attempts, newest first, before the cursor; None when the
    subscription is unknown."""
    async with db.connection() as conn:
        if not await SQL["select-webhook-exists"].fetchval(conn, webhook_id=webhook_id):
            return None
        rows = await SQL["select-webhook-attempts"].fetch(
            conn, webhook_id=webhook_id, before_id=page.after_id, limit=page.limit + 1
        )
    return [attempt_shown(as_dict(row)) for row in rows]
