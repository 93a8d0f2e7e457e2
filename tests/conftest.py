"""One Postgres server and one migrated database per test session; an app and client on it."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.config import Settings
from service.migrations import apply_migrations
from tests.support.openapi_check import assert_conforms
from tests.support.postgres import postgres_server, scratch_database


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


# Set together by tests/test_pgbouncer.py to run the HTTP tests against running replicas.
REMOTE_URLS = os.environ.get("ENROLLMENT_SERVICE_URLS")
REMOTE_DATABASE = os.environ.get("ENROLLMENT_DATABASE_URL")


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if REMOTE_DATABASE:
        yield REMOTE_DATABASE  # the replicas' database, migrated by whoever started them
        return
    with scratch_database(request.getfixturevalue("server_url"), "enrollment_test") as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="session")
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Every response any test receives must match the OpenAPI document.
    hooks = {"response": [assert_conforms]}
    if REMOTE_URLS:
        replicas = RoundRobinTransport(REMOTE_URLS.split(","))
        async with httpx.AsyncClient(
            transport=replicas, base_url="http://service", event_hooks=hooks, timeout=30
        ) as client:
            yield client
        return
    app = create_app(Settings(database_url=database_url, db_pool_max=20))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", event_hooks=hooks
        ) as client:
            yield client


class RoundRobinTransport(httpx.AsyncBaseTransport):
    """Sends each request to the next of several running replicas, in turn."""

    def __init__(self, urls: list[str]) -> None:
        self.targets = [httpx.URL(url) for url in urls]
        self.transport = httpx.AsyncHTTPTransport()
        self.turn = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self.targets[self.turn % len(self.targets)]
        self.turn += 1
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


@pytest.fixture(scope="session")
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, to look at what the service stored."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def make_student(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"{unique('ada')}@example.edu"}
    response = await client.post("/students", json={**body, **fields})
    assert response.status_code == 201, response.text
    student: dict[str, Any] = response.json()
    return student


async def make_course(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"code": unique("CS"), "title": "Introduction to Computing", "capacity": 30}
    response = await client.post("/courses", json={**body, **fields})
    assert response.status_code == 201, response.text
    course: dict[str, Any] = response.json()
    return course


def assert_problem(
    response: httpx.Response, status: int, kind: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and type, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["instance"] == response.request.url.path
    assert problem["title"]
    assert problem["detail"]
    if kind is not None:
        assert problem["type"].endswith(f"/problems/{kind}")
    return problem


def pointers(problem: dict[str, Any]) -> list[str]:
    return [error.get("pointer") or error["parameter"] for error in problem["errors"]]
