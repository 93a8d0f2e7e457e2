"""Replaying the change feed from the start into empty collections yields the live state,
after a concurrent mixed load of every kind of write, waitlists and promotions included
(API.md v1.1 "Change feed"); and every pair's history accounts for its status."""

import asyncio
import random
from typing import Any

import asyncpg
import httpx
import orjson

from tests.conftest import make_course, make_student
from tests.support.feed import follow, replay

WORKERS = 12
OPERATIONS_EACH = 40


async def mixed_load(client: httpx.AsyncClient, seed: int) -> None:
    """One caller's random walk over creates, enrollments, waitlistings, drops (promoting
    the waiting), completions, re-enrollments, capacity changes and deletes of a small
    shared world."""
    chance = random.Random(seed)
    students = [(await make_student(client))["id"] for _ in range(4)]
    courses = [
        (await make_course(client, capacity=chance.randint(1, 3), waitlist_capacity=2))["id"]
        for _ in range(2)
    ]
    for _ in range(OPERATIONS_EACH):
        student, course = chance.choice(students), chance.choice(courses)
        pair = f"/students/{student}/courses/{course}"
        match chance.randrange(10):
            case 0 | 1 | 2:
                await client.put(pair)  # enrolls, waitlists, or re-enrolls a dropped pair
            case 3:
                body = {"course_ids": courses, "waitlist": chance.random() < 0.5}
                await client.post(f"/students/{student}/courses", json=body)
            case 4:
                await client.delete(pair)
            case 5:
                await client.patch(pair, json={"status": "completed", "reason": "passed"})
            case 6:
                capacity = chance.choice([None, 0, 1, 2, 5])
                await client.patch(f"/courses/{course}", json={"capacity": capacity})
            case 7:
                await client.patch(f"/students/{student}", json={"first_name": "Renamed"})
            case 8:
                if (await client.delete(f"/students/{student}")).status_code == 204:
                    students[students.index(student)] = (await make_student(client))["id"]
            case _:
                if (await client.delete(f"/courses/{course}")).status_code == 204:
                    courses[courses.index(course)] = (await make_course(client))["id"]


async def every_page(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params = {"limit": 200}
    while True:
        page = (await client.get(path, params=params)).json()
        items += page["items"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


def as_served(value: Any) -> Any:
    """A database value as the API writes it in JSON."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_UTC_Z))


async def live_enrollments(conn: asyncpg.Connection) -> dict[Any, Any]:
    rows = await conn.fetch(
        "SELECT student_id, course_id, status, enrolled_at, "
        "coalesce(status_changed_at, enrolled_at) AS status_changed_at FROM student_courses"
    )
    return {(row["student_id"], row["course_id"]): as_served(dict(row)) for row in rows}


async def test_replaying_the_feed_yields_the_live_state_after_a_concurrent_mixed_load(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await asyncio.gather(*(mixed_load(client, seed) for seed in range(WORKERS)))

    changes, _ = await follow(client)
    state = replay(changes)

    students = {(s["id"],): s for s in await every_page(client, "/students")}
    courses = {(c["id"],): c for c in await every_page(client, "/courses")}
    assert state["student"] == students
    assert state["course"] == courses
    assert state["enrollment"] == await live_enrollments(conn)
    kinds = {(c["entity"], c["op"]) for c in changes}
    assert kinds == {
        (e, op) for e in ("student", "course", "enrollment") for op in ("upsert", "delete")
    }
    statuses = {data["status"] for data in state["enrollment"].values()}
    assert {"enrolled", "waitlisted", "dropped", "completed"} <= statuses
    actions = await conn.fetch("SELECT DISTINCT action FROM enrollment_events")
    assert "promoted" in {row["action"] for row in actions}


async def test_every_pairs_history_accounts_for_its_status(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """After a load of its own (and whatever other tests wrote before it): each pair's
    events chain from its first enrollment to its status now."""
    await asyncio.gather(*(mixed_load(client, seed) for seed in range(100, 104)))
    broken = await conn.fetch(
        """
        WITH steps AS (
            SELECT e.student_id, e.course_id, e.from_status, e.to_status,
                   lag(e.to_status) OVER pair AS previous,
                   row_number() OVER pair AS step,
                   last_value(e.to_status) OVER (pair ROWS BETWEEN UNBOUNDED PRECEDING
                                                 AND UNBOUNDED FOLLOWING) AS last
            FROM enrollment_events e
            WINDOW pair AS (PARTITION BY e.student_id, e.course_id ORDER BY e.id)
        )
        SELECT sc.student_id, sc.course_id
        FROM student_courses sc
        LEFT JOIN steps s USING (student_id, course_id)
        WHERE s.student_id IS NULL
           OR s.from_status IS DISTINCT FROM s.previous
           OR (s.step = 1 AND s.from_status IS NOT NULL)
           OR s.last <> sc.status
        """
    )
    assert broken == []
    assert await conn.fetchval("SELECT count(DISTINCT status) FROM student_courses") >= 3
