"""Database.connection() against a real Postgres: who gets a pooled connection, and when."""

import asyncio

import asyncpg

from service.database import Database, keep_session


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
