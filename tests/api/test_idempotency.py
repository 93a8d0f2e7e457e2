"""Idempotency-Key on POST: replay, mismatch, in-flight, expiry, clean-up."""

import asyncio
import uuid

import asyncpg
import httpx

from service.database import Database
from service.repositories.idempotency import delete_expired, try_claim
from tests.conftest import assert_problem, make_course, make_student, pointers, unique


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


def student_body() -> dict[str, str]:
    return {"first_name": "Ada", "last_name": "L", "email": f"{unique('idem')}@example.edu"}


async def count_students(conn: asyncpg.Connection, email: str) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM students WHERE email = $1", email)
    return count


async def test_retry_replays_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    headers, body = key(), student_body()
    first = await client.post("/students", json=body, headers=headers)
    again = await client.post("/students", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_students(conn, body["email"]) == 1


async def test_enrollment_retry_replays_and_enrolls_once(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student, course = await make_student(client), await make_course(client)
    headers, body = key(), {"course_ids": [course["id"]]}
    path = f"/students/{student['id']}/courses"
    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 1


async def test_same_key_with_another_body_is_422(client: httpx.AsyncClient) -> None:
    headers = key()
    assert (await client.post("/students", json=student_body(), headers=headers)).status_code == 201
    response = await client.post("/students", json=student_body(), headers=headers)
    problem = assert_problem(response, 422, "idempotency-key-reused")
    assert pointers(problem) == ["Idempotency-Key"]


async def test_same_key_on_another_path_is_422(client: httpx.AsyncClient) -> None:
    headers = key()
    await client.post("/students", json=student_body(), headers=headers)
    response = await client.post(
        "/courses", json={"code": unique("K"), "title": "T"}, headers=headers
    )
    assert_problem(response, 422)


async def test_refused_requests_are_not_recorded(client: httpx.AsyncClient) -> None:
    headers, taken = key(), await make_student(client)
    body = {"first_name": "A", "last_name": "B", "email": taken["email"]}
    assert_problem(await client.post("/students", json=body, headers=headers), 409)
    # The same key may now carry a request that succeeds.
    assert (await client.post("/students", json=student_body(), headers=headers)).status_code == 201


async def test_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    headers, body = key(), student_body()
    responses = await asyncio.gather(
        *(client.post("/students", json=body, headers=headers) for _ in range(5))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert await count_students(conn, body["email"]) == 1
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["type"].endswith("idempotency-key-in-flight")


async def test_invalid_key_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/students", json=student_body(), headers={"Idempotency-Key": "k" * 256}
    )
    assert pointers(assert_problem(response, 422)) == ["Idempotency-Key"]


async def test_keys_expire_after_24_hours_and_are_cleaned_up(
    client: httpx.AsyncClient, conn: asyncpg.Connection, database_url: str
) -> None:
    headers = key()
    await client.post("/students", json=student_body(), headers=headers)
    await conn.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1",
        headers["Idempotency-Key"],
    )
    # Expired: the key is free for another request.
    assert (await client.post("/students", json=student_body(), headers=headers)).status_code == 201
    await conn.execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1",
        headers["Idempotency-Key"],
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await delete_expired(Database(pool, timeout=5, lock_timeout=2)) >= 1
    finally:
        await pool.close()
    remaining = await conn.fetchval(
        "SELECT count(*) FROM idempotency_keys WHERE key = $1", headers["Idempotency-Key"]
    )
    assert remaining == 0


async def course_row_locked(conn: asyncpg.Connection, course_id: int) -> bool:
    """Whether another transaction holds the course's row lock now."""
    try:
        async with conn.transaction():
            await conn.execute("SELECT id FROM courses WHERE id = $1 FOR UPDATE NOWAIT", course_id)
    except asyncpg.LockNotAvailableError:
        return True
    return False


async def test_with_a_key_the_course_stays_locked_until_the_key_commits(
    client: httpx.AsyncClient, database_url: str
) -> None:
    # Database.within: the enrollment runs in the key's transaction, so the course row it
    # locks is held past its statement, through the key's insert, until the commit.
    student, course = await make_student(client), await make_course(client)
    holder, prober = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        keys_held = holder.transaction()
        await keys_held.start()
        # The key's insert waits behind this: the request stops between enrolling and commit.
        await holder.execute("LOCK TABLE idempotency_keys IN SHARE MODE")
        path = f"/students/{student['id']}/courses"
        request = asyncio.create_task(
            client.post(path, json={"course_ids": [course["id"]]}, headers=key())
        )
        for _ in range(100):
            if await course_row_locked(prober, course["id"]):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the enrollment never locked the course")
        assert not request.done()  # enrolled, the key not yet recorded: still locked

        await keys_held.rollback()
        response = await request

        assert response.status_code == 201
        assert not await course_row_locked(prober, course["id"])  # the commit let it go
    finally:
        await holder.close()
        await prober.close()


async def test_a_key_held_by_a_request_in_flight_gets_409_at_once_and_changes_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """The first request's hold on its key, taken here as the service takes it (auth off:
    every caller shares the scope ""), so the retry surely arrives while it is held."""
    headers, body = key(), student_body()
    async with conn.transaction():
        assert await try_claim(conn, scope="", key=headers["Idempotency-Key"])
        retry = await client.post("/students", json=body, headers=headers)
        assert_problem(retry, 409, "idempotency-key-in-flight")
        assert await count_students(conn, body["email"]) == 0
    # Once the first request is done with the key, it carries a request again.
    assert (await client.post("/students", json=body, headers=headers)).status_code == 201
