"""The asyncpg pool, and the one way handlers' repositories get a connection from it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from service.config import Settings
from service.problems import ServiceUnavailable

# What repositories receive: a pooled connection, or a plain one in tests and tools.
Connection = asyncpg.Connection | PoolConnectionProxy

# Failures that say "the database cannot serve this now", not "this request is wrong".
UNAVAILABLE = (
    TimeoutError,
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.QueryCanceledError,
    asyncpg.AdminShutdownError,
)


class Database:
    """One pool per process; every acquire waits at most `timeout` seconds."""

    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; a slow, busy or unreachable database becomes 503."""
        try:
            async with self.pool.acquire(timeout=self.timeout) as conn:
                yield conn
        except UNAVAILABLE:
            raise ServiceUnavailable("the database is not answering; retry shortly") from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction that commits when the block ends without error."""
        async with self.connection() as conn, conn.transaction():
            yield conn


async def open_database(settings: Settings) -> Database:
    """Open the pool; the lifespan closes it."""
    assert settings.database_url is not None
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min(settings.db_pool_min, settings.db_pool_max),
        max_size=settings.db_pool_max,
        command_timeout=settings.db_timeout,
        statement_cache_size=settings.db_statement_cache_size,
    )
    return Database(pool, timeout=settings.db_timeout)
