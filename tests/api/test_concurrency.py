"""Capacity holds under concurrency: parallel enrollments never overbook a course."""

import asyncio
from collections import Counter

import asyncpg
import httpx

from tests.conftest import make_course, make_student

RACERS = 200
CAPACITY = 10


async def test_parallel_enrollments_fill_exactly_the_capacity(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    course = await make_course(client, capacity=CAPACITY)
    students = [await make_student(client) for _ in range(RACERS)]

    async def enroll(student_id: int) -> int:
        # Half take the batch endpoint, half the single one: both paths share the lock.
        if student_id % 2:
            body = {"course_ids": [course["id"]]}
            response = await client.post(f"/students/{student_id}/courses", json=body)
        else:
            response = await client.put(f"/students/{student_id}/courses/{course['id']}")
        return response.status_code

    statuses = Counter(await asyncio.gather(*(enroll(s["id"]) for s in students)))

    assert statuses == {201: CAPACITY, 409: RACERS - CAPACITY}
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == CAPACITY
    rows = await conn.fetchval(
        "SELECT count(*) FROM student_courses WHERE course_id = $1", course["id"]
    )
    assert rows == CAPACITY


async def test_parallel_batches_over_shared_courses_stay_within_capacity(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    # Batches naming the same courses in different orders: locks in id order, no deadlock.
    courses = [await make_course(client, capacity=3) for _ in range(4)]
    ids = [c["id"] for c in courses]
    students = [await make_student(client) for _ in range(40)]

    async def enroll(index: int, student_id: int) -> int:
        order = ids[index % 4 :] + ids[: index % 4]
        body = {"course_ids": order[:2] if index % 2 else order}
        response = await client.post(f"/students/{student_id}/courses", json=body)
        return response.status_code

    statuses = await asyncio.gather(*(enroll(i, s["id"]) for i, s in enumerate(students)))
    assert set(statuses) <= {201, 409}
    counts = await conn.fetch(
        "SELECT c.id, c.enrolled_count, count(sc.student_id) AS n FROM courses c "
        "LEFT JOIN student_courses sc ON sc.course_id = c.id WHERE c.id = ANY($1) GROUP BY c.id",
        ids,
    )
    for row in counts:
        assert row["enrolled_count"] == row["n"] <= 3


async def test_one_student_racing_itself_gets_one_seat(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    # The losers read "not enrolled" in their snapshot, wait for the winner's course lock,
    # and find the pair taken at insert: they must answer as if they had come after it.
    course = await make_course(client, capacity=50)
    student = await make_student(client)
    path = f"/students/{student['id']}/courses"

    async def enroll(index: int) -> httpx.Response:
        if index % 2:
            return await client.post(path, json={"course_ids": [course["id"]]})
        return await client.put(f"{path}/{course['id']}")

    responses = await asyncio.gather(*(enroll(i) for i in range(20)))

    created = [r for r in responses if r.status_code == 201]
    assert len(created) == 1
    for response in responses:
        if response.request.method == "PUT" and response not in created:
            assert response.status_code == 200
            assert response.json()["enrolled_at"] is not None
        elif response not in created:
            assert response.status_code == 409
            assert response.json()["course_ids"] == [course["id"]]
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 1
    rows = await conn.fetchval(
        "SELECT count(*) FROM student_courses WHERE course_id = $1", course["id"]
    )
    assert rows == 1


async def test_a_refusal_does_not_queue_behind_a_seat_being_taken(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    # In a rush on a full course nearly every request is refused: it must not wait for the
    # course's row lock, which a request taking (or freeing) a seat holds.
    course = await make_course(client, capacity=1)
    holder, latecomer = await make_student(client), await make_student(client)
    taken = await client.put(f"/students/{holder['id']}/courses/{course['id']}")
    assert taken.status_code == 201
    async with conn.transaction():
        await conn.execute("SELECT FROM courses WHERE id = $1 FOR UPDATE", course["id"])
        full = await client.put(f"/students/{latecomer['id']}/courses/{course['id']}")
        again = await client.put(f"/students/{holder['id']}/courses/{course['id']}")
        batch = await client.post(
            f"/students/{latecomer['id']}/courses", json={"course_ids": [course["id"]]}
        )
    assert full.status_code == 409, full.text  # not 503 after the lock timeout
    assert full.json()["type"].endswith("/course-full")
    assert again.status_code == 200
    assert again.json()["enrolled_count"] == 1
    assert batch.status_code == 409
    assert batch.json()["course_ids"] == [course["id"]]
