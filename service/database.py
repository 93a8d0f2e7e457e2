"""The asyncpg pool, and the one way handlers' repositories get a connection from it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

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
    """One pool per process; every acquire waits at most `timeout` seconds.

    A request may run inside one enclosing transaction (an idempotent POST records its key
    in the same transaction as its write): while `transaction()` is open, `connection()` and
    nested `transaction()` calls in the same task reuse its connection, each inside a
    savepoint so that a failed statement does not poison the enclosing transaction.
    """

    def __init__(self, pool: asyncpg.Pool, *, timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout
        self._enclosing: ContextVar[Connection | None] = ContextVar("enclosing", default=None)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection; a slow, busy or unreachable database becomes 503."""
        if (enclosing := self._enclosing.get()) is not None:
            async with enclosing.transaction():
                yield enclosing
            return
        try:
            async with self.pool.acquire(timeout=self.timeout) as conn:
                yield conn
        except UNAVAILABLE:
            raise ServiceUnavailable("the database is not answering; retry shortly") from None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection inside a transaction that commits when the block ends without error."""
        if self._enclosing.get() is not None:
            async with self.connection() as conn:
                yield conn
            return
        async with self.connection() as conn, conn.transaction():
            token = self._enclosing.set(conn)
            try:
                yield conn
            finally:
                self._enclosing.reset(token)


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
