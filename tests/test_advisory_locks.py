"""Advisory locks against a real Postgres: each kind in a class of its own (issue 41 item
10), so a hash of one kind can never make a request of another kind wait."""

import asyncpg

from service.queries import load_queries
from service.repositories.locks import LockClass

HELD = """
SELECT classid::int, objsubid::int
FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid()
ORDER BY classid
"""


async def test_every_advisory_lock_is_the_two_key_form_in_its_own_class(
    conn: asyncpg.Connection,
) -> None:
    async with conn.transaction():
        await load_queries("idempotency")["try-lock-key"].fetchval(
            conn, lock_class=LockClass.IDEMPOTENCY_KEY, scope="caller", key="same-text"
        )
        for entity, lock_class in (
            ("students", LockClass.STUDENT_EXTERNAL_ID),
            ("courses", LockClass.COURSE_EXTERNAL_ID),
        ):
            lock = load_queries(entity)[f"lock-{entity[:-1]}-external-id"]
            await lock.execute(conn, lock_class=lock_class, external_id="same-text")
        held = [tuple(row) for row in await conn.fetch(HELD)]
    # objsubid 2 marks the two-key form: classid is then its first key, the lock's class.
    assert held == [(int(lock_class), 2) for lock_class in sorted(LockClass)]
    assert await conn.fetch(HELD) == []  # transaction-scoped: gone with the commit
