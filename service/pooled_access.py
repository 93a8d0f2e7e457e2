"""One database access outside a transaction (`Database.connection()`): a turn, then a
pooled connection, the block, and the connection back, all under one DB_TIMEOUT timer; and
the one place the service puts a connection back past asyncpg's own Pool.release (see
_put_back; tests/unit/test_replaced_library_parts.py checks what that bypasses)."""

import asyncio
import logging
from contextlib import suppress
from typing import TYPE_CHECKING

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from service.db_errors import BROKEN_CONNECTION, DatabaseBusy, raise_translated
from service.problems import Problem

if TYPE_CHECKING:  # the pool's owner, which makes these; typing only, no import cycle
    from service.database import Database

logger = logging.getLogger("service.database")  # the name its lines have always had
ALL_IN_USE = "every database connection is in use; retry shortly"
# The least time given to putting a connection back, however little is left of DB_TIMEOUT.
RELEASE_SECONDS = 0.1


class PooledAccess:
    """`async with db.connection()` outside a transaction: a turn, then a pooled connection,
    the block, and the connection back, all under one DB_TIMEOUT timer. A class rather than an
    @asynccontextmanager: every request takes this path, and the generator's machinery cost
    2% of a simple GET's instructions."""

    __slots__ = ("_conn", "_db", "_deadline", "_has_turn")

    def __init__(self, db: "Database") -> None:
        self._db = db
        # One timer for the whole access: a timer for the wait and one per statement
        # (asyncpg's timeout= arguments) cost about 2% more instructions on a simple GET.
        self._deadline = asyncio.timeout_at(db.loop.time() + db.timeout)
        self._conn: PoolConnectionProxy | None = None
        self._has_turn = False

    async def __aenter__(self) -> PoolConnectionProxy:
        await self._deadline.__aenter__()
        try:
            await self._db._turns.acquire()
            self._has_turn = True
            self._conn = await self._db.pool.acquire()
        except BaseException as error:
            await self._end(error)
            raise
        return self._conn

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        # A problem the block raised (a refusal: not found, full, a conflict) leaves the
        # connection as idle as a clean end does, so it goes back the same cheap way.
        clean = error is None or isinstance(error, Problem)
        try:
            if clean and self._conn is not None and not self._conn.is_in_transaction():
                await self._put_back(self._conn)
        finally:
            await self._end(error)

    async def _put_back(self, conn: PoolConnectionProxy) -> None:
        """The usual end: the block's work is done and the connection idle, so the release
        costs no round trip (but for asyncpg's close of a connection every max_queries)
        and runs under the access's own timer, given at least RELEASE_SECONDS; asyncpg's
        timeout= would arm a second timer (2% of a simple GET's instructions). A failure is
        logged and the connection closed, but the request's work stands: no error.

        The release is the pool's own (its connection holder's), called directly: Pool.release
        runs it in a task of its own under asyncio.shield, so that a cancelled caller cannot
        leave a connection half put back, which cost a simple GET 7.7% more instructions
        (the task, two more turns of the event loop). Here it needs no shield: an idle
        connection, with keep_session as the reset, goes back without suspending, so nothing
        can cancel it half way; and the close every max_queries, which does suspend, cleans
        up after itself when cancelled (asyncpg aborts the connection and frees its holder)."""
        self._conn = None
        loop, deadline = self._db.loop, self._deadline
        when = deadline.when()
        if not deadline.expired() and when is not None and when < loop.time() + RELEASE_SECONDS:
            deadline.reschedule(loop.time() + RELEASE_SECONDS)
        try:
            await conn._holder.release(None)  # None: no timer of asyncpg's, ours bounds it
        except Exception:
            logger.warning("db.release_failed", exc_info=True)
        except asyncio.CancelledError:
            if not deadline.expired():
                raise  # cancelled from outside: not ours to swallow
            logger.warning("db.release_timed_out")
            with suppress(asyncpg.InterfaceError):  # the release goes on, shielded: end it
                conn.terminate()

    async def _end(self, error: BaseException | None) -> None:
        """Stop the timer, put the connection back, give up the turn. Raises the 503 problem
        a database failure is; returns for the caller to raise anything else."""
        conn = self._conn
        try:
            try:
                await self._deadline.__aexit__(type(error) if error else None, error, None)
            except TimeoutError as timed_out:  # the timer fired: it cancelled the block
                error = timed_out
            if error is None:
                return
            if conn is None and isinstance(error, TimeoutError):
                raise DatabaseBusy(ALL_IN_USE) from None
            cut_off = isinstance(error, (TimeoutError, asyncio.CancelledError))
            if conn is not None and not cut_off and isinstance(error, BROKEN_CONNECTION):
                # It may be half-read: never reuse it. Terminated, it goes back to the pool,
                # which opens a new one in its place. (A connection that died was already
                # taken back, hence the suppress.)
                with suppress(asyncpg.InterfaceError):
                    conn.terminate()
                conn = None
            # A statement cut off by the timer (or a cancelled request) goes back through
            # _release_after_failure, not terminate(): asyncpg has sent Postgres a cancel
            # request, and the release waits for it to land. terminate() would drop that
            # request, and Postgres, which does not notice a closed connection while a
            # statement waits for a lock, would commit the write once the lock was freed,
            # after the caller was told 503.
            if isinstance(error, Exception):
                raise_translated(error)
        finally:
            if conn is not None:
                await self._release_after_failure(conn)
            if self._has_turn:  # after the release: the next in line finds the connection free
                self._db._turns.release()

    async def _release_after_failure(self, conn: PoolConnectionProxy) -> None:
        # After a failure or with a transaction left open (_put_back is the usual end),
        # releasing may cost a round trip (the ROLLBACK, the cancel of a statement cut off),
        # so it gets what is left of DB_TIMEOUT, at least RELEASE_SECONDS, on asyncpg's
        # timer: the access's own has ended. If that fails the pool closes the connection;
        # the request's own work is done (committed or not) and must not turn into an error
        # because of it.
        left = (self._deadline.when() or 0) - self._db.loop.time()
        try:
            await self._db.pool.release(conn, timeout=max(RELEASE_SECONDS, left))
        except Exception:
            logger.warning("db.release_failed", exc_info=True)
