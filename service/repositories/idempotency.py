"""Idempotency keys: claim, look up, record, expire."""

from dataclasses import dataclass

from service.database import Database
from service.queries import Connection, load_queries
from service.repositories.locks import LockClass

SQL = load_queries("idempotency")
EXPIRY_BATCH = 1000


@dataclass(frozen=True)
class RecordedResponse:
    request_hash: str
    status_code: int
    location: str | None
    body: bytes


async def try_claim(conn: Connection, *, scope: str, key: str) -> bool:
    """Hold the key until the transaction ends; False when another request holds it now."""
    claimed = await SQL["try-lock-key"].fetchval(
        conn, lock_class=LockClass.IDEMPOTENCY_KEY, scope=scope, key=key
    )
    return bool(claimed)


async def find_response(conn: Connection, *, scope: str, key: str) -> RecordedResponse | None:
    row = await SQL["select-key"].fetchrow(conn, scope=scope, key=key)
    return RecordedResponse(**dict(row.items())) if row else None


async def record_response(
    conn: Connection, *, scope: str, key: str, response: RecordedResponse
) -> None:
    await SQL["insert-key"].execute(
        conn,
        scope=scope,
        key=key,
        request_hash=response.request_hash,
        status_code=response.status_code,
        location=response.location,
        body=response.body,
    )


async def delete_expired(db: Database) -> int:
    """Delete expired keys in small batches; returns how many went."""
    deleted = 0
    while True:
        async with db.connection() as conn:
            status = await SQL["delete-expired-keys"].execute(conn, batch=EXPIRY_BATCH)
        count = int(status.split()[-1])
        deleted += count
        if count < EXPIRY_BATCH:
            return deleted
