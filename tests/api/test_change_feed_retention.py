"""Retention of the change feed: housekeeping deletes what is older than CHANGES_RETENTION,
off the request path, and a cursor from before that gets 410 (API.md v1.1 "Change feed")."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.config import Settings
from service.migrations import apply_migrations
from tests.conftest import assert_problem, make_student
from tests.support.feed import follow
from tests.support.openapi_check import assert_conforms
from tests.support.postgres import scratch_database


@pytest.fixture
def own_database(server_url: str) -> Iterator[str]:
    """A database of this test's own: expiring the shared one's feed would cut its replay."""
    with scratch_database(server_url, "retention_test") as url:
        apply_migrations(url)
        yield url


@asynccontextmanager
async def service(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app on the database, its housekeeping running, and a client for it."""
    app = create_app(Settings(database_url=database_url))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        hooks = {"response": [assert_conforms]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", event_hooks=hooks
        ) as client:
            yield client


async def test_changes_past_7_days_go_their_cursors_get_410_and_younger_ones_stay(
    own_database: str,
) -> None:
    async with service(own_database) as client:
        old = await make_student(client)
        _, after_old = await follow(client)
        conn = await asyncpg.connect(own_database)
        try:
            await conn.execute("UPDATE changes SET at = at - interval '7 days 1 hour'")
            young = await make_student(client)  # just inside the 7 days: kept
            await conn.execute(
                "UPDATE changes SET at = at - interval '6 days 23 hours'"
                " WHERE at > now() - interval '1 day'"
            )
        finally:
            await conn.close()
        kept = await make_student(client)

    # A new start's first housekeeping round expires what is older than 7 days.
    async with service(own_database) as client:
        for _ in range(100):
            response = await client.get("/changes")
            if response.status_code == 410:
                break
            await asyncio.sleep(0.1)

        problem = assert_problem(response, 410, "cursor-expired")
        changes, _ = await follow(client, problem["oldest_cursor"])
        assert problem["oldest_cursor"] == after_old
        assert [c["data"] for c in changes] == [young, kept]
        assert old["id"] not in (young["id"], kept["id"])
