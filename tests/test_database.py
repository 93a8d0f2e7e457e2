"""Database.connection() against a real Postgres: who gets a pooled connection, and when."""

import asyncio
import uuid

import asyncpg
import pytest

from service.database import Database, keep_session
from service.db_errors import DatabaseTimeout
from service.pooled_access import RELEASE_SECONDS


async def test_a_freed_connection_goes_to_the_request_that_waited_longest(
    database_url: str,
) -> None:
    """A request that arrives in the same turn of the event loop as a connection is freed
    must not take it from one already waiting (asyncpg's pool alone lets it: the waiter then
    queues again at the back, and under load a few requests wait many turns)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, reset=keep_session)
    db = Database(pool, timeout=5, lock_timeout=2)
    served: list[str] = []
    late: list[asyncio.Task[None]] = []

    async def request(name: str) -> None:
        async with db.connection() as conn:
            await conn.fetchval("SELECT 1")
            served.append(name)

    def arrive() -> None:
        late.append(asyncio.create_task(request("newcomer")))

    async def holder() -> None:
        async with db.connection():
            served.append("holder")
            await asyncio.sleep(0.2)  # meanwhile the waiter asks and waits
            # The newcomer's arrival lands in the loop turn that frees the connection.
            asyncio.get_running_loop().call_soon(arrive)

    try:
        holding = asyncio.create_task(holder())
        await asyncio.sleep(0.05)
        await asyncio.gather(holding, request("waiter"))
        await asyncio.gather(*late)
    finally:
        await pool.close()
    assert served == ["holder", "waiter", "newcomer"]


class StallingCloseConnection(asyncpg.Connection):
    """A connection whose close takes a second while `stalled`, as against a server that
    has stopped answering."""

    stalled = True

    async def close(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        if StallingCloseConnection.stalled:
            await asyncio.sleep(1)
        await super().close(timeout=timeout)


async def test_a_release_that_outlasts_the_budget_after_the_work_is_no_error(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The block's work is done when its connection goes back: a release that hangs (here
    asyncpg's close of a connection after max_queries, against a stalled server) ends with
    DB_TIMEOUT, the connection closed, and the request keeps its answer."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=1,
        max_queries=1,  # every release closes the connection
        reset=keep_session,
        connection_class=StallingCloseConnection,
    )
    db = Database(pool, timeout=0.3, lock_timeout=0.2)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        async with db.connection() as conn:
            answer = await conn.fetchval("SELECT 42")
        took = loop.time() - started
        StallingCloseConnection.stalled = False
        async with db.connection() as conn:  # the pool opened one in its place
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        StallingCloseConnection.stalled = False
        await pool.close()
    assert answer == 42
    assert took < 0.8
    assert "db.release_timed_out" in caplog.messages


async def test_a_statement_the_budget_cuts_off_is_cancelled_in_postgres_too(
    database_url: str,
) -> None:
    """The caller of an access that ran out of DB_TIMEOUT is told 503: Postgres must stop the
    statement too, not let a write waiting for a lock commit once the lock is freed."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, reset=keep_session)
    db = Database(pool, timeout=0.3, lock_timeout=5)
    holder = await asyncpg.connect(database_url)
    code = f"cut-{uuid.uuid4().hex[:12]}"
    try:
        await holder.execute("SELECT pg_advisory_lock(4242)")
        started = asyncio.get_running_loop().time()
        with pytest.raises(DatabaseTimeout):
            async with db.connection() as conn:
                await conn.execute(
                    "INSERT INTO courses (code, title)"
                    " SELECT $1, 'written after the lock' FROM (SELECT pg_advisory_lock(4242)) w",
                    code,
                )
        took = asyncio.get_running_loop().time() - started
        await asyncio.sleep(0.2)  # the service has given up; then the lock is freed
        await holder.execute("SELECT pg_advisory_unlock(4242)")
        await asyncio.sleep(0.5)  # time for a statement still waiting to commit
        written = await holder.fetchval("SELECT count(*) FROM courses WHERE code = $1", code)
        async with db.connection() as conn:  # and the pool serves on
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await holder.close()
        await pool.close()
    assert written == 0
    assert took < 0.3 + RELEASE_SECONDS + 0.2  # the cancel is waited for, briefly
