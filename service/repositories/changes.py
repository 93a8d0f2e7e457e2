"""The change feed: changes to students, courses and enrollments in commit order.

Triggers (migration 0008) write each change in its own transaction, without a position;
sequence_changes() numbers the committed ones, one caller at a time. Positions are therefore
handed out only to changes already visible, in the order they became visible, and a reader
following them misses none and sees none twice. Every read numbers what has committed
first, so a caller sees its own writes; housekeeping does it too, so the backlog a read
finds stays small.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from service.database import Database
from service.pagination import decode_cursor, encode_cursor
from service.problems import CursorExpired, Problem
from service.queries import Connection, load_queries

SQL = load_queries("changes")
SEQUENCE_BATCH = 10_000
EXPIRY_BATCH = 10_000
CURSOR_PREFIX = "change:"  # a feed position, not an id: a collection's cursor is refused


def encode_position(position: int) -> str:
    """The feed cursor that resumes after `position`."""
    return encode_cursor(position, CURSOR_PREFIX)


def decode_position(cursor: str) -> int:
    """The position a feed cursor resumes after; ValueError when it is not one."""
    return decode_cursor(cursor, CURSOR_PREFIX, minimum=0)


def as_item(change: dict[str, Any]) -> dict[str, Any]:
    """A change as GET /changes (and a webhook delivery) shows it."""
    data = change["data"]
    return {
        "cursor": encode_position(change["position"]),
        "at": change["at"],
        "entity": change["entity"],
        "op": change["op"],
        # The JSON text the trigger wrote, served as it is.
        "key": orjson.Fragment(change["key"]),
        "data": None if data is None else orjson.Fragment(data),
    }


def check_cursor(
    after: int, *, last_position: int, expired_through: int, not_ours: Problem
) -> None:
    """Raise the problem a cursor resuming after `after` is: past what retention kept (410),
    or past the last position ever handed out (`not_ours`: no cursor of this service's says
    that)."""
    if after < expired_through:
        raise CursorExpired(
            "the feed no longer keeps the changes after this cursor; read the collections "
            "again, then follow the feed from oldest_cursor",
            oldest_cursor=encode_position(expired_through),
        )
    if after > last_position:
        raise not_ours


@dataclass(frozen=True)
class FeedPage:
    """Up to a limit of changes after a position, and the feed's bounds when they were read:
    `last_position` handed out, and every position through `expired_through` deleted."""

    last_position: int
    expired_through: int
    changes: list[dict[str, Any]]


async def sequence(conn: Connection) -> int:
    """Give positions to up to SEQUENCE_BATCH committed changes (housekeeping's round finds
    a second's worth); returns the last position handed out."""
    return int(await SQL["sequence-changes"].fetchval(conn, batch=SEQUENCE_BATCH))


async def read(db: Database, *, after_position: int, limit: int) -> FeedPage:
    """The changes after `after_position`, up to `limit`, each with `key` and `data` as the
    JSON text the trigger wrote."""
    async with db.connection() as conn:
        await sequence(conn)
        rows = await SQL["select-changes"].fetch(conn, after_position=after_position, limit=limit)
    return FeedPage(
        last_position=rows[0]["last_position"],
        expired_through=rows[0]["expired_through"],
        changes=[dict(row.items()) for row in rows if row["position"] is not None],
    )


async def expire(db: Database, *, retention: timedelta) -> int:
    """Delete what is older than `retention`, in batches; returns how many went."""
    deleted = 0
    while True:
        async with db.connection() as conn:
            count: int = await SQL["expire-changes"].fetchval(
                conn, retention=retention, batch=EXPIRY_BATCH
            )
        deleted += count
        if count < EXPIRY_BATCH:
            return deleted
