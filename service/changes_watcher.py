"""Long polls of the change feed (`GET /changes?wait=`) without a database connection each:
one watcher per worker process reads the feed's head on a connection of its own, every
POLL_SECONDS while any request waits (and not at all otherwise), and wakes the requests
waiting for a position it has reached.

Polled, rather than woken by NOTIFY from the writers: Postgres queues notifications in
commit order by taking one database-wide lock in every notifying commit, which would make
every write the service makes wait for every other's commit.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress

import asyncpg

from service.repositories import changes

logger = logging.getLogger(__name__)
POLL_SECONDS = 0.05
RETRY_SECONDS = 1.0
STATEMENT_SECONDS = 5.0


class ChangesWatcher:
    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]]) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        # Set and replaced each time the head moves: whoever waits on it then looks again.
        self._advanced = asyncio.Event()
        self._wanted = asyncio.Event()
        self.last_position = 0  # the feed's head when last read
        self.waiting = 0  # requests waiting now
        self.stopping = False  # the service is shutting down: nobody waits any more

    async def wait_past(self, position: int, seconds: float) -> None:
        """Return once the feed holds a change after `position`, after `seconds`, or as soon
        as the service starts shutting down (stop_waiting)."""
        if self.stopping:
            return
        if self._task is None:
            self._task = asyncio.create_task(self._watch())
        self.waiting += 1
        self._wanted.set()
        try:
            async with asyncio.timeout(seconds):
                while self.last_position <= position and not self.stopping:
                    await self._advanced.wait()
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1

    async def _watch(self) -> None:
        while True:
            if not self.waiting:
                self._wanted.clear()
                await self._wanted.wait()
            try:
                async with asyncio.timeout(STATEMENT_SECONDS):
                    if self._conn is None:
                        self._conn = await self._connect()
                    head = await changes.sequence(self._conn)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                # Waiting requests still end by their own timer; the next try reconnects.
                logger.warning("feed.watch_failed", exc_info=True)
                await self._disconnect()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self.saw(head)
            await asyncio.sleep(POLL_SECONDS)

    def saw(self, head: int) -> None:
        """The feed's head as someone just read it: wake whoever waits for it to move."""
        if head > self.last_position:
            self.last_position = head
            self._wake_all()

    def stop_waiting(self) -> None:
        """The service is stopping: every long poll answers now, with what it has, instead
        of being cut off with a 500 once the shutdown timeout runs out."""
        self.stopping = True
        self._wake_all()

    def _wake_all(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        await self._disconnect()
