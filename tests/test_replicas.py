"""Reads on a real streaming replica (API.md v1.1 "Read replicas"): a primary and a
`pg_basebackup -R` replica of it, both run natively (tests/support/replication.py)."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.config import Settings
from service.migrations import apply_migrations
from tests.conftest import unique
from tests.support.feed import Change, follow
from tests.support.openapi_check import assert_conforms
from tests.support.postgres import scratch_database
from tests.support.replication import StreamingReplica, primary_and_replica

MAX_LAG = 5.0  # seconds: room for a paused replica to stay usable while a test looks


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StreamingReplica]]:
    root = tmp_path_factory.mktemp("replication")
    root.chmod(0o755)  # the replica's Postgres runs as another user
    with primary_and_replica(Path(root)) as pair:
        yield pair


@pytest.fixture(scope="module")
def databases(streaming: tuple[str, StreamingReplica]) -> Iterator[tuple[str, str]]:
    """The service's database on the primary, migrated, and the same database's URL on the
    replica (CREATE DATABASE and the migrations stream to it like every write)."""
    primary, replica = streaming
    with scratch_database(primary, "replicated") as url:
        apply_migrations(url)
        yield url, replica.url(urlsplit(url).path.lstrip("/"))


@contextlib.asynccontextmanager
async def service(databases: tuple[str, str], max_lag: float) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the primary with the replica, and a client checking every response."""
    primary_url, replica_url = databases
    settings = Settings(
        database_url=primary_url, replica_urls=(replica_url,), replica_max_lag=max_lag
    )
    async with (
        LifespanManager(create_app(settings)) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://test",
            event_hooks={"response": [assert_conforms]},
        ) as client,
    ):
        await replica_usable(client, True)
        yield client


@pytest.fixture(scope="module")
async def client(databases: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with service(databases, MAX_LAG) as client:
        yield client


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else 0.0


async def replica_usable(client: httpx.AsyncClient, usable: bool) -> None:
    for _ in range(100):
        if await metric(client, 'replica_usable{replica="replica-1"}') == float(usable):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the replica did not become {'usable' if usable else 'unusable'}")


async def until_the_replica_serves(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> None:
    """Once a GET of `path` is served by the replica, within ten seconds. Its read counter
    then moves by two between scrapes: the GET's and the first scrape's own (a scrape is a
    GET too, and a usable replica serves it)."""
    reads = 'db_reads_total{target="replica-1"}'
    for _ in range(200):
        before = await metric(client, reads)
        await client.get(path, headers=headers or {})
        if await metric(client, reads) >= before + 2:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the replica never served {path}")


async def new_student(client: httpx.AsyncClient, email: str) -> httpx.Response:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": email}
    response = await client.post("/students", json=body)
    assert response.status_code == 201
    return response


async def test_reads_land_on_the_replica_and_writes_carry_a_token(
    client: httpx.AsyncClient,
) -> None:
    created = await new_student(client, "replicated@example.edu")
    token = created.headers["x-consistency-token"]
    assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", token)
    # The checks have seen the replica replay the write.
    await until_the_replica_serves(
        client, f"/students/{created.json()['id']}", {"X-Consistency-Token": token}
    )
    on_replica = await metric(client, 'db_reads_total{target="replica-1"}')

    for _ in range(20):
        response = await client.get(
            f"/students/{created.json()['id']}", headers={"X-Consistency-Token": token}
        )
        assert response.status_code == 200

    assert await metric(client, 'db_reads_total{target="replica-1"}') >= on_replica + 19
    assert 0 <= await metric(client, 'replica_lag_seconds{replica="replica-1"}') < MAX_LAG


@contextlib.contextmanager
def synchronous_commit(primary_url: str, setting: str) -> Iterator[None]:
    """The primary's `synchronous_commit` for every session, the pool's open ones included
    (a reloaded server setting reaches them; a database's or role's would not)."""

    def configure(value: str) -> None:
        with psycopg.connect(primary_url, autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET synchronous_commit = {value}")
            conn.execute("SELECT pg_reload_conf()")

    configure(setting)
    try:
        yield
    finally:
        configure("DEFAULT")


# Under `off` a commit returns before its WAL is written: the token must still be at or past
# the commit record (issue 29).
@pytest.mark.parametrize("commit_setting", ["on", "off"])
async def test_a_token_reads_its_write_while_replay_is_paused(
    client: httpx.AsyncClient, streaming: tuple[str, StreamingReplica], commit_setting: str
) -> None:
    primary, replica = streaming
    with synchronous_commit(primary, commit_setting):
        await read_own_write_with_replay_paused(client, primary, replica, commit_setting)


async def read_own_write_with_replay_paused(
    client: httpx.AsyncClient, primary: str, replica: StreamingReplica, name: str
) -> None:
    student = (await new_student(client, f"paused-{name}@example.edu")).json()
    path = f"/students/{student['id']}"
    # The replica holds everything written so far, and the checks have seen where it paused:
    # only the write below is missing from it.
    await asyncio.to_thread(replica.catch_up, primary)
    await until_the_replica_serves(client, path)
    replica.replay(paused=True)
    try:
        renamed = await client.patch(path, json={"first_name": "Augusta"})
        token = renamed.headers["x-consistency-token"]

        with_token = await client.get(path, headers={"X-Consistency-Token": token})
        without = await client.get(path)

        assert with_token.json()["first_name"] == "Augusta"  # from the primary
        assert without.json()["first_name"] == "Ada"  # from the replica, which has not replayed it
    finally:
        replica.replay(paused=False)
    for _ in range(50):  # replay resumed: the replica serves the write too
        if (await client.get(path)).json()["first_name"] == "Augusta":
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the replica never replayed the write")


async def test_a_stopped_replica_costs_no_read_a_5xx_and_is_used_again_when_back(
    client: httpx.AsyncClient, streaming: tuple[str, StreamingReplica]
) -> None:
    _, replica = streaming
    created = await new_student(client, "failover@example.edu")
    path = f"/students/{created.json()['id']}"
    token = {"X-Consistency-Token": created.headers["x-consistency-token"]}
    statuses: list[int] = []
    stopped = asyncio.Event()

    async def read_until_stopped() -> None:
        while not stopped.is_set() or len(statuses) < 400:
            statuses.append((await client.get(path, headers=token)).status_code)

    readers = [asyncio.create_task(read_until_stopped()) for _ in range(8)]
    for _ in range(1000):  # until every reader is reading
        if len(statuses) >= 16:
            break
        await asyncio.sleep(0.01)
    assert len(statuses) >= 16
    on_primary = await metric(client, 'db_reads_total{target="primary"}')
    await asyncio.to_thread(replica.stop)
    await replica_usable(client, False)
    assert (await client.get("/readyz")).status_code == 200  # the primary alone decides
    stopped.set()
    await asyncio.gather(*readers)
    try:
        assert set(statuses) == {200}
        assert await metric(client, 'db_reads_total{target="primary"}') > on_primary
    finally:
        await asyncio.to_thread(replica.start)
    await replica_usable(client, True)
    on_replica = await metric(client, 'db_reads_total{target="replica-1"}')
    for _ in range(10):
        assert (await client.get(path, headers=token)).status_code == 200
    assert await metric(client, 'db_reads_total{target="replica-1"}') >= on_replica + 10


async def test_a_replica_further_behind_than_the_limit_is_skipped(
    databases: tuple[str, str], streaming: tuple[str, StreamingReplica]
) -> None:
    _, replica = streaming
    async with service(databases, max_lag=0.3) as client:
        student = (await new_student(client, "lagging@example.edu")).json()
        path = f"/students/{student['id']}"
        await until_the_replica_serves(client, path)  # the replica has the student
        replica.replay(paused=True)
        try:
            await client.patch(path, json={"first_name": "Augusta"})
            await replica_usable(client, False)  # the primary moved on, the replica did not
            on_primary = await metric(client, 'db_reads_total{target="primary"}')

            read = await client.get(path)  # no token: any replica within the limit would do

            assert read.json()["first_name"] == "Augusta"  # none is: the primary served it
            assert await metric(client, 'db_reads_total{target="primary"}') > on_primary
        finally:
            replica.replay(paused=False)
        await replica_usable(client, True)


async def test_the_feed_and_history_stay_gap_free_under_concurrent_writers(
    client: httpx.AsyncClient, streaming: tuple[str, StreamingReplica]
) -> None:
    """With replay paused, a replica holds none of the writes below: a follower reading the
    feed (or a pair's history) from it would miss them, from the primary it misses none."""
    primary, replica = streaming
    await asyncio.to_thread(replica.catch_up, primary)
    _, cursor = await follow(client)
    course = (await client.post("/courses", json={"code": unique("GAP"), "title": "T"})).json()
    replica.replay(paused=True)
    try:
        created: list[int] = []
        seen: list[Change] = []
        writing = True

        async def write(writer: int) -> None:
            for n in range(10):
                student = await new_student(client, f"gap-{writer}-{n}@example.edu")
                created.append(student.json()["id"])

        async def read() -> None:
            nonlocal cursor
            while writing:
                changes, cursor = await follow(client, cursor)
                seen.extend(changes)

        reader = asyncio.create_task(read())
        await asyncio.gather(*(write(writer) for writer in range(4)))
        writing = False
        await reader
        changes, cursor = await follow(client, cursor)
        seen.extend(changes)
        student_rows = [c["key"]["id"] for c in seen if c["entity"] == "student"]
        assert sorted(student_rows) == sorted(created)  # each write once, none missing

        pair = f"/students/{created[0]}/courses/{course['id']}"
        assert (await client.put(pair)).status_code == 201
        history = (await client.get(f"{pair}/history")).json()["items"]
        assert [event["to_status"] for event in history] == ["enrolled"]
    finally:
        replica.replay(paused=False)
