"""A PUT on a course its worker found full looks before it tries for a seat (FullCourses in
service/repositories/enrollments.py): every answer stays the one `enroll` alone gives."""

import asyncpg
import httpx

from tests.conftest import assert_problem, make_course, make_student

BIG = 2**62


async def test_a_course_found_full_answers_as_before_and_a_freed_seat_is_taken(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    course = await make_course(client, capacity=1)
    holder, first, second = [await make_student(client) for _ in range(3)]
    seat = f"/students/{holder['id']}/courses/{course['id']}"
    assert (await client.put(seat)).status_code == 201

    refused = await client.put(f"/students/{first['id']}/courses/{course['id']}")  # by enroll
    again = await client.put(f"/students/{second['id']}/courses/{course['id']}")  # by a look
    for response in (refused, again):
        problem = assert_problem(response, 409, "course-full")
        assert problem["course_ids"] == [course["id"]]
    assert refused.json()["detail"] == again.json()["detail"]

    held = await client.put(seat)  # the holder asks again: 200 with its view, from a look
    assert held.status_code == 200
    assert held.json()["status"] == "enrolled"
    assert held.json()["enrolled_count"] == 1

    assert (await client.delete(seat)).status_code == 204  # the seat frees
    taken = await client.put(f"/students/{second['id']}/courses/{course['id']}")
    assert taken.status_code == 201
    count = await conn.fetchval("SELECT enrolled_count FROM courses WHERE id = $1", course["id"])
    assert count == 1


async def test_a_look_answers_404_for_an_unknown_student_as_enroll_does(
    client: httpx.AsyncClient,
) -> None:
    course = await make_course(client, capacity=0)
    student = await make_student(client)
    full = await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert_problem(full, 409, "course-full")
    unknown = await client.put(f"/students/{BIG}/courses/{course['id']}")
    assert_problem(unknown, 404)


async def test_a_full_course_with_waitlist_room_waitlists_after_a_look(
    client: httpx.AsyncClient,
) -> None:
    course = await make_course(client, capacity=1, waitlist_capacity=1)
    students = [await make_student(client) for _ in range(4)]
    statuses = [
        (await client.put(f"/students/{s['id']}/courses/{course['id']}")).status_code
        for s in students
    ]
    assert statuses == [201, 202, 409, 409]
