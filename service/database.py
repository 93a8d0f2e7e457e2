"""The asyncpg pool, and the one way repositories get a connection from it.

DB_TIMEOUT is the budget of one database access: waiting for a connection, running every
statement and, after a clean end, putting the connection back, together. Past it the
request gets a 503 problem (past it in the release, the work stands: see service/pooled_access.py).
Transactions also set statement_timeout, lock_timeout and
idle_in_transaction_session_timeout with SET LOCAL, which lives and dies with the
transaction and so is safe behind PgBouncer in transaction pooling (a connection-level SET
or a startup parameter would not be). A write that is one statement on its own
(`run_statement`) sets its lock_timeout the same way, inside itself, cut to what is left of
the budget: it commits without the service's say-so, so it must give up on a lock before
the service gives up on it (see run_statement).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import asyncpg

from service.config import Settings
from service.db_errors import DatabaseBusy, DatabaseConflict, translated
from service.pooled_access import ALL_IN_USE, PooledAccess
from service.queries import Connection, load_queries

Result = TypeVar("Result")

SESSION_SQL = load_queries("session")
CONFLICT_ATTEMPTS = 3
# How long before the end of the budget an autocommitted statement stops waiting for a lock,
# so that Postgres's refusal reaches the service before its own timer fires.
LOCK_MARGIN_SECONDS = 0.1


def _milliseconds(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


class Database:
    """One pool per process. Each access (`connection()`, `transaction()`,
    `run_statement()`) takes a pooled connection of its own and gives it back at its end.

    `within(conn)` is the same database seen from inside a transaction the caller holds
    open: see InTransaction.
    """

    def __init__(self, pool: asyncpg.Pool, *, timeout: float, lock_timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout
        self._lock_timeout_seconds = min(lock_timeout, timeout)
        self.lock_timeout = _milliseconds(self._lock_timeout_seconds)
        self._statement_timeout = _milliseconds(timeout)
        self._idle_timeout = _milliseconds(2 * timeout)
        # The loop this pool serves, kept: asyncio.get_running_loop() makes a system call
        # (getpid) each time, and each access would look it up three times.
        self.loop = asyncio.get_running_loop()
        # Connections are handed out in the order they were asked for. asyncpg's pool alone
        # is not first come, first served: a waiter it wakes can lose the freed connection to
        # a request that just arrived, and queue again at the back (the p99 of a GET was 9x
        # its p50). A turn from a semaphore of the pool's size, taken before the connection
        # and given back after it, is: asyncio.Semaphore serves its waiters in order and
        # lets no newcomer past them (tests/unit/test_pool_turns.py holds it to that).
        self._turns = asyncio.Semaphore(pool.get_max_size())

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """A pooled connection, from the wait for it to the end of the block within
        DB_TIMEOUT; database failures become 503 problems."""
        return PooledAccess(self)

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection inside a transaction that commits when the block ends without error."""
        return self._pooled_transaction()

    @asynccontextmanager
    async def _pooled_transaction(self) -> AsyncIterator[Connection]:
        async with self.connection() as conn, conn.transaction():
            await SESSION_SQL["set-transaction-timeouts"].fetchrow(
                conn,
                statement_timeout=self._statement_timeout,
                lock_timeout=self.lock_timeout,
                idle_timeout=self._idle_timeout,
            )
            yield conn

    def within(self, conn: Connection) -> "InTransaction":
        """This database as seen from inside `conn`'s open transaction (InTransaction)."""
        return InTransaction(self, conn)

    async def run_statement(self, work: Callable[[Connection, str], Awaitable[Result]]) -> Result:
        """`work(conn, lock_timeout)`, one statement that is atomic on its own, on a pooled
        connection (InTransaction: in a savepoint of its transaction), run again a few times
        after a deadlock or another DatabaseConflict: safe because a failed statement left
        nothing behind. On a pooled connection it commits in the round trip that runs it, so
        the rows it locks are held only while Postgres runs it; it must then set
        `lock_timeout` inside itself: DB_LOCK_TIMEOUT, cut to what is left of the budget less
        LOCK_MARGIN_SECONDS, and is not started with less left. Else a statement that got its
        connection late could still be waiting for a lock when the budget ends, and then only
        the cancel request sent after it (see PooledAccess._end) stops it from committing
        once the lock is freed: Postgres's own refusal is surer."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            budget_ends = self.loop.time() + self.timeout  # as connection()'s timer
            try:
                async with self.connection() as conn:
                    left = budget_ends - self.loop.time() - LOCK_MARGIN_SECONDS
                    if left <= 0:  # the wait for a connection took the budget: do not start
                        raise DatabaseBusy(ALL_IN_USE)
                    return await work(conn, _milliseconds(min(self._lock_timeout_seconds, left)))
            except DatabaseConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")


class InTransaction(Database):
    """The database as seen from inside a transaction the caller holds open: an idempotent
    POST's, which records its key in the same transaction as the write it protects
    (service/plumbing/idempotency.py). Every access runs on that transaction's connection,
    each in a savepoint, so that a failed statement does not poison the transaction; and
    nothing commits until the caller's transaction does. So the rows a statement locks (an
    enrollment's course rows) stay locked past the statement, until that commit: one more
    round trip (the key's insert) and the commit's (tests/api/test_idempotency.py)."""

    def __init__(self, outer: Database, conn: Connection) -> None:
        self.__dict__.update(vars(outer))  # the same pool, settings and budget
        self._conn = conn

    def connection(self) -> AbstractAsyncContextManager[Connection]:
        return self._savepoint()

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return self._savepoint()

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[Connection]:
        async with translated(), self._conn.transaction():
            yield self._conn


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release, made a no-op. asyncpg's default sends RESET ALL,
    UNLISTEN and friends: a round trip per request (about a third of a simple GET's time)
    to undo session state this service never creates. Its timeouts are SET LOCAL, its
    advisory locks transaction-scoped; an open transaction is still rolled back by asyncpg
    before this runs."""


async def open_database(
    settings: Settings, url: str | None = None, *, pool_min: int | None = None
) -> Database:
    """Open a pool on `url` (the primary's by default); the lifespan closes it."""
    url = url or settings.database_url
    assert url is not None
    pool = await asyncpg.create_pool(
        url,
        min_size=min(settings.db_pool_min if pool_min is None else pool_min, settings.db_pool_max),
        max_size=settings.db_pool_max,
        statement_cache_size=settings.db_statement_cache_size,
        reset=keep_session,
    )
    return Database(pool, timeout=settings.db_timeout, lock_timeout=settings.db_lock_timeout)
