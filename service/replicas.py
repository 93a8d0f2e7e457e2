"""Reads on Postgres streaming replicas (API.md v1.1 "Read replicas").

With `DATABASE_REPLICA_URLS`, each replica gets a pool of its own and `ReadRouting` sends a
GET to a usable one: one that answered the last check and is within `REPLICA_MAX_LAG` of the
primary, or, when the request carries `X-Consistency-Token`, one that has replayed past it.
With none usable the primary serves. Every other request, the change feed and a pair's
history stay on the primary. A write's response carries the token: the primary's WAL insert
position once its commit is done, so a replica that has replayed that far holds the write.
The insert position, not the write position (`pg_current_wal_lsn()`): under
`synchronous_commit = off` a commit returns before its record is written, and the write
position can stand before it for up to `wal_writer_delay`.

Lag is measured off the request path by `ReplicaSet.watch()`, every CHECK_SECONDS, on
connections of its own (`Probe`): the primary's WAL position is sampled, and a replica is
behind by at most the time since the newest sample it has replayed past. That holds on an
idle primary too, where the time of the last replayed transaction
(`pg_last_xact_replay_timestamp()`) would make a replica that is up to date look old.
"""

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.database import Database, open_database
from service.plumbing import metrics
from service.problems import ServiceUnavailable

logger = logging.getLogger(__name__)

CHECK_SECONDS = 0.1
# How long a check may take before its replica counts as not answering.
CHECK_TIMEOUT_SECONDS = 0.5
TOKEN_HEADER = b"x-consistency-token"
# Reads that must see every committed change in order: the feed, and a pair's history.
PRIMARY_ONLY = ("/changes",)
PRIMARY_ONLY_SUFFIX = "/history"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Past every commit that has returned, under every synchronous_commit setting.
PRIMARY_POSITION = "SELECT pg_current_wal_insert_lsn()::text"


def parse_position(text: str) -> int | None:
    """A WAL position ("16/B374D848", as Postgres writes one) as a number; None if not one."""
    high, slash, low = text.partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16) if slash else None
    except ValueError:
        return None


class Probe:
    """One query at a time on a connection of its own, opened when first needed and again
    after a failure: the checks never wait behind requests for a pooled connection, so a
    busy pool cannot make a healthy replica look dead, nor delay the primary's samples."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: asyncpg.Connection | None = None

    async def position(self, query: str) -> int | None:
        """The WAL position `query` reads, within CHECK_TIMEOUT_SECONDS; None when the
        server does not answer in time (the connection is then dropped)."""
        # asyncpg's own timeouts, not a cancellation from outside: cancelled, a connect or a
        # query may wait on a server that no longer answers (a cancel request, a goodbye).
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(
                    self.url, statement_cache_size=0, timeout=CHECK_TIMEOUT_SECONDS
                )
            return parse_position(
                await self._conn.fetchval(query, timeout=CHECK_TIMEOUT_SECONDS) or ""
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self.close()
            return None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()  # no goodbye: the server may be the one that failed


@dataclass
class Replica:
    name: str
    db: Database
    probe: Probe
    usable: bool = False  # answered its last check, and within the allowed lag
    replayed: int = -1  # the WAL position it had replayed at its last check
    lag_seconds: float = float("inf")


@dataclass
class ReplicaSet:
    primary: Database
    primary_probe: Probe
    replicas: list[Replica]
    max_lag_seconds: float
    # The primary's WAL position over the last REPLICA_MAX_LAG and more: (time, position).
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _turn: Iterator[int] = field(init=False)

    def __post_init__(self) -> None:
        self._turn = itertools.cycle(range(len(self.replicas)))

    def pick(self, token: int | None) -> Replica | None:
        """The next usable replica in turn that has replayed past `token` (when given)."""
        for _ in self.replicas:
            replica = self.replicas[next(self._turn)]
            if replica.usable and (token is None or replica.replayed >= token):
                return replica
        return None

    def failed(self, replica: Replica) -> None:
        """A request found the replica down: skip it until its next check says otherwise."""
        replica.usable = False

    async def position(self) -> str:
        """The primary's WAL position now: past every commit that has returned."""
        async with self.primary.connection() as conn:
            position: str = await conn.fetchval(PRIMARY_POSITION)
        return position

    async def watch(self) -> None:
        """Check every replica every CHECK_SECONDS, until cancelled."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await self._check_all(loop.time())
                except Exception:  # a bug must not end the checks: log it, check again
                    logger.exception("replicas.check_failed")
                await asyncio.sleep(CHECK_SECONDS)
        finally:
            for probe in (self.primary_probe, *(replica.probe for replica in self.replicas)):
                await probe.close()

    async def _check_all(self, now: float) -> None:
        sampled = await self.primary_probe.position(PRIMARY_POSITION)
        if sampled is None:  # the primary did not answer: judge nothing by it
            logger.warning("replicas.primary_unanswered")
            return
        self._samples.append((now, sampled))
        while self._samples[0][0] < now - 2 * self.max_lag_seconds - 1:
            self._samples.popleft()
        await asyncio.gather(*(self._check(replica, now) for replica in self.replicas))

    async def _check(self, replica: Replica, now: float) -> None:
        replayed = await replica.probe.position("SELECT pg_last_wal_replay_lsn()::text")
        if replayed is None:
            replica.usable, replica.lag_seconds = False, float("inf")
        else:
            replica.replayed = replayed
            caught_up = max((t for t, at in self._samples if at <= replayed), default=None)
            replica.lag_seconds = float("inf") if caught_up is None else now - caught_up
            replica.usable = replica.lag_seconds <= self.max_lag_seconds
        metrics.REPLICA_LAG.labels(replica.name).set(min(replica.lag_seconds, 1e9))
        metrics.REPLICA_USABLE.labels(replica.name).set(int(replica.usable))


async def open_replicas(primary: Database, settings: Settings) -> ReplicaSet:
    """A pool per replica, opened with no connection, so that a replica down at start delays
    nothing: each is usable once its first check answers."""
    replicas = [
        Replica(f"replica-{number}", await open_database(settings, url, pool_min=0), Probe(url))
        for number, url in enumerate(settings.replica_urls, start=1)
    ]
    assert settings.database_url is not None
    return ReplicaSet(primary, Probe(settings.database_url), replicas, settings.replica_max_lag)


def _reads_anywhere(scope: Scope) -> bool:
    path: str = scope["path"]
    return (
        scope["method"] == "GET"
        and not path.startswith(PRIMARY_ONLY)
        and not path.endswith(PRIMARY_ONLY_SUFFIX)
    )


class ReadRouting:
    """The layer inside FrontDoor, with replicas only: a GET on a replica (again on the
    primary if the replica fails it: a replica's failure is never the caller's 5xx), and a
    write's response with its consistency token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replicas: ReplicaSet | None = scope.get("state", {}).get("replicas")
        if scope["type"] != "http" or replicas is None:
            await self.app(scope, receive, send)
        elif scope["method"] in WRITES:
            await self.app(scope, receive, _with_token(send, replicas))
        elif _reads_anywhere(scope):
            await self._read(scope, receive, send, replicas)
        else:
            await self.app(scope, receive, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send, replicas: ReplicaSet) -> None:
        sent = next((v for k, v in scope["headers"] if k == TOKEN_HEADER), None)
        token = parse_position(sent.decode("latin-1")) if sent is not None else None
        # A token that is not a position cannot be honoured by a replica: the primary serves.
        replica = replicas.pick(token) if sent is None or token is not None else None
        if replica is None:
            metrics.db_reads.inc("primary")
            await self.app(scope, receive, send)
            return
        started = False

        async def send_once_started(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(
                {**scope, "state": {**scope["state"], "db": replica.db}}, receive, send_once_started
            )
            metrics.db_reads.inc(replica.name)
        except ServiceUnavailable:
            if started:
                raise
            replicas.failed(replica)
            logger.warning("replicas.read_failed", extra={"replica": replica.name})
            metrics.db_reads.inc("primary")
            await self.app(scope, receive, send)


def _with_token(send: Send, replicas: ReplicaSet) -> Send:
    async def send_with_token(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] < 300:
            try:
                position = await replicas.position()
            except ServiceUnavailable:  # the write stands; without a token, reads may lag it
                logger.warning("replicas.position_unknown")
            else:
                token = (TOKEN_HEADER, position.encode())
                message["headers"] = [*message.get("headers", []), token]
        await send(message)

    return send_with_token
