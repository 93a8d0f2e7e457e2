"""The waitlist under concurrency: 1,000 students PUT at once into 5 courses of 10 seats
and 20 waitlist places, while seats are dropped and capacities change (issue: "Waitlist")."""

import asyncio
import random

import asyncpg
import httpx

from tests.conftest import make_course, make_student

COURSES, SEATS, PLACES, STUDENTS = 5, 10, 20, 1000
CALLERS_AT_ONCE = 64


async def test_the_queue_stays_exact_under_a_concurrent_rush(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    chance = random.Random(21)
    courses = [
        (await make_course(client, capacity=SEATS, waitlist_capacity=PLACES))["id"]
        for _ in range(COURSES)
    ]
    students = [(await make_student(client))["id"] for _ in range(STUDENTS)]
    at_once = asyncio.Semaphore(CALLERS_AT_ONCE)
    statuses: list[int] = []

    async def enroll(student_id: int) -> None:
        course_id = chance.choice(courses)
        async with at_once:
            response = await client.put(f"/students/{student_id}/courses/{course_id}")
        statuses.append(response.status_code)
        if response.status_code == 201 and chance.random() < 0.3:
            async with at_once:  # a drop, which frees a seat for the queue
                await client.delete(f"/students/{student_id}/courses/{course_id}")

    async def change_capacities() -> None:
        for _ in range(20):
            async with at_once:
                capacity = chance.randint(SEATS - 2, SEATS + 4)  # may be refused: 409
                await client.patch(
                    f"/courses/{chance.choice(courses)}", json={"capacity": capacity}
                )
            await asyncio.sleep(0.01)

    await asyncio.gather(*(enroll(s) for s in students), change_capacities())

    assert set(statuses) <= {201, 202, 409}
    assert {201, 202, 409} <= set(statuses)  # seats, waitlist places and refusals all seen
    rows = await conn.fetch(
        """
        SELECT c.id, c.capacity, c.enrolled_count, c.waitlisted_count, c.waitlist_capacity,
               count(*) FILTER (WHERE sc.status = 'enrolled') AS enrolled,
               count(*) FILTER (WHERE sc.status = 'waitlisted') AS waiting
        FROM courses c LEFT JOIN student_courses sc ON sc.course_id = c.id
        WHERE c.id = ANY($1::bigint[])
        GROUP BY c.id
        """,
        courses,
    )
    for row in rows:
        assert (row["enrolled_count"], row["waitlisted_count"]) == (row["enrolled"], row["waiting"])
        assert row["waitlisted_count"] <= row["waitlist_capacity"]
        if row["waiting"]:
            assert row["enrolled_count"] == row["capacity"], "a seat stayed free while one waited"
    assert sum(row["waiting"] for row in rows) > 0
    promotions = await conn.fetch(
        """
        SELECT e.course_id, e.student_id, e.id AS promoted_at,
               (SELECT w.id FROM enrollment_events w
                WHERE w.student_id = e.student_id AND w.course_id = e.course_id
                      AND w.action = 'waitlisted') AS queued_at
        FROM enrollment_events e
        WHERE e.course_id = ANY($1::bigint[]) AND e.action = 'promoted'
        ORDER BY e.course_id, e.id
        """,
        courses,
    )
    assert promotions, "the drops and raised capacities must have promoted someone"
    pairs = [(p["course_id"], p["student_id"]) for p in promotions]
    assert len(pairs) == len(set(pairs)), "a student was promoted twice"
    for course_id in courses:
        queued = [p["queued_at"] for p in promotions if p["course_id"] == course_id]
        assert queued == sorted(queued), "promotions out of waitlisting order"
        still_waiting = await conn.fetchval(
            "SELECT min(e.id) FROM enrollment_events e JOIN student_courses sc "
            "USING (student_id, course_id) WHERE sc.course_id = $1 "
            "AND sc.status = 'waitlisted' AND e.action = 'waitlisted'",
            course_id,
        )
        if still_waiting is not None and queued:
            assert max(queued) < still_waiting, "someone waiting longer was passed over"
