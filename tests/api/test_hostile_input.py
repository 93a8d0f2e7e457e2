"""Hostile input gets a 4xx problem, changes nothing, and the service keeps serving."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from service import web
from tests.conftest import assert_problem, unique

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"[" * 5000 + b"]" * 5000, 400),  # nesting past the parser's limit
        (b'{"a":' * 2000 + b"1" + b"}" * 2000, 400),
        (b'{"first_name": "\xff\xfe", "last_name": "L", "email": "a@b.co"}', 400),  # not UTF-8
        (b'{"first_name": "\\ud800", "last_name": "L", "email": "a@b.co"}', 400),  # lone surrogate
        (b'{"first_name": "A\\u0000", "last_name": "L", "email": "a@b.co"}', 422),  # NUL
        (b'{"first_name": 1e400, "last_name": "L", "email": "a@b.co"}', 400),
        (b'{"first_name": 123456789012345678901234567890, "last_name": "L"}', 422),
    ],
)
async def test_malformed_bodies_are_refused(
    client: httpx.AsyncClient, content: bytes, status: int
) -> None:
    assert_problem(await client.post("/students", content=content, headers=JSON), status)
    assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("capacity", [10**30, -(10**30), 1e308, float("1e-300")])
async def test_huge_or_odd_numbers_are_refused(client: httpx.AsyncClient, capacity: float) -> None:
    body = {"code": "HUGE1", "title": "T", "capacity": capacity}
    response = await client.post("/courses", json=body)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
async def test_non_json_media_types_are_415(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post(
        "/students", content=b'{"first_name": "A"}', headers={"content-type": content_type}
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_very_long_header_values_are_survived(client: httpx.AsyncClient) -> None:
    long = "x" * 20_000
    response = await client.get("/healthz", headers={"X-Request-ID": long, "X-Actor": long})
    assert response.status_code == 200
    assert response.headers["x-request-id"] != long
    response = await client.post("/students", json={}, headers={"Idempotency-Key": long})
    assert_problem(response, 422)


async def test_a_body_that_trickles_in_too_slowly_is_408(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "BODY_TIMEOUT_SECONDS", 0.2)

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"first_name": '
        await asyncio.sleep(1)
        yield b'"A", "last_name": "B", "email": "slow@example.edu"}'

    response = await client.post("/students", content=trickle(), headers=JSON)
    assert_problem(response, 408, "request-timeout")
    assert (await client.get("/students", params={"email": "slow@example.edu"})).json()[
        "items"
    ] == []


def padded_student(size: int) -> bytes:
    """A good student body, padded with JSON whitespace to exactly `size` bytes."""
    body = f'{{"first_name": "A", "last_name": "B", "email": "{unique("pad")}@x.edu"}}'.encode()
    return body + b" " * (size - len(body))


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    """The body in 4 KiB chunks, sent with Transfer-Encoding: chunked (no Content-Length)."""
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


@pytest.mark.parametrize("idempotency_key", [False, True])
async def test_a_chunked_body_over_64_kib_is_413_and_exactly_64_kib_is_read(
    client: httpx.AsyncClient, idempotency_key: bool
) -> None:
    headers = JSON | ({"Idempotency-Key": unique("chunked-")} if idempotency_key else {})
    over = padded_student(web.MAX_BODY_BYTES + 1)
    response = await client.post("/students", content=chunks(over), headers=headers)
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    email = over.split(b'"email": "')[1].split(b'"')[0].decode()
    assert (await client.get("/students", params={"email": email})).json()["items"] == []
    exact = padded_student(web.MAX_BODY_BYTES)
    headers = JSON | ({"Idempotency-Key": unique("chunked-")} if idempotency_key else {})
    assert (
        await client.post("/students", content=chunks(exact), headers=headers)
    ).status_code == 201
