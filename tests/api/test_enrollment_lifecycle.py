"""Enrollment lifecycle (API.md v1.1): drops and completions keep the record, re-enrollment,
`?status=` filters, and a history written in the same transaction as each change."""

import asyncio
import itertools
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import assert_problem, make_course, make_student, pointers


async def enrolled_pair(client: httpx.AsyncClient, **course: Any) -> tuple[int, int, str]:
    """A new student enrolled in a new course: their ids and the pair's path."""
    student, made = await make_student(client), await make_course(client, **course)
    path = f"/students/{student['id']}/courses/{made['id']}"
    assert (await client.put(path)).status_code == 201
    return student["id"], made["id"], path


async def history(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    response = await client.get(f"{path}/history")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def enrolled_count(client: httpx.AsyncClient, course_id: int) -> int:
    count: int = (await client.get(f"/courses/{course_id}")).json()["enrolled_count"]
    return count


async def test_drop_keeps_the_record_frees_the_seat_and_hides_it_from_the_student(
    client: httpx.AsyncClient,
) -> None:
    student_id, course_id, path = await enrolled_pair(client, capacity=1)

    assert (await client.delete(path)).status_code == 204

    assert await enrolled_count(client, course_id) == 0
    assert (await client.get(f"/students/{student_id}")).json()["courses"] == []
    listed = (await client.get(f"/students/{student_id}/courses?status=dropped")).json()["items"]
    assert [(c["id"], c["status"]) for c in listed] == [(course_id, "dropped")]
    assert listed[0]["status_changed_at"] >= listed[0]["enrolled_at"]
    assert_problem(await client.delete(path), 404)


async def test_completion_frees_the_seat_and_then_no_other_move_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    _, course_id, path = await enrolled_pair(client, capacity=1)

    response = await client.patch(path, json={"status": "completed", "reason": "passed"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert response.json()["enrolled_count"] == 0
    assert await enrolled_count(client, course_id) == 0
    for move in ("dropped", "completed"):
        problem = assert_problem(
            await client.patch(path, json={"status": move}), 409, "invalid-transition"
        )
        assert problem["current_status"] == "completed"
    assert_problem(await client.delete(path), 404)
    assert [e["action"] for e in await history(client, path)] == ["enrolled", "completed"]


async def test_re_enrollment_after_a_drop_is_new_and_history_keeps_every_step(
    client: httpx.AsyncClient,
) -> None:
    student_id, course_id, path = await enrolled_pair(client)
    who = {"X-Actor": "registrar-ui", "X-Request-ID": "req-lifecycle-1"}
    await client.patch(path, json={"status": "dropped", "reason": "clash"}, headers=who)

    again = await client.post(f"/students/{student_id}/courses", json={"course_ids": [course_id]})

    assert again.status_code == 201
    assert again.json()["items"][0]["status"] == "enrolled"
    events = await history(client, path)
    assert [(e["action"], e["from_status"], e["to_status"]) for e in events] == [
        ("enrolled", None, "enrolled"),
        ("dropped", "enrolled", "dropped"),
        ("enrolled", "dropped", "enrolled"),
    ]
    dropped = events[1]
    assert (dropped["actor"], dropped["request_id"], dropped["reason"]) == (
        "registrar-ui",
        "req-lifecycle-1",
        "clash",
    )
    assert events[2]["reason"] is None
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert await enrolled_count(client, course_id) == 1


async def test_history_pages_oldest_first(client: httpx.AsyncClient) -> None:
    _, _, path = await enrolled_pair(client)
    await client.delete(path)
    await client.put(path)

    first = (await client.get(f"{path}/history?limit=2")).json()
    rest = (await client.get(f"{path}/history?limit=2&cursor={first['next_cursor']}")).json()

    assert [e["action"] for e in first["items"] + rest["items"]] == [
        "enrolled",
        "dropped",
        "enrolled",
    ]
    assert rest["next_cursor"] is None


async def test_history_is_404_for_a_pair_that_never_existed(client: httpx.AsyncClient) -> None:
    student, course = await make_student(client), await make_course(client)
    path = f"/students/{student['id']}/courses/{course['id']}"
    assert_problem(await client.get(f"{path}/history"), 404)
    assert_problem(await client.patch(path, json={"status": "dropped"}), 404)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"status": "enrolled"}, "/status"),
        ({"status": "gone"}, "/status"),
        ({}, "/status"),
        ({"status": "dropped", "reason": "x" * 501}, "/reason"),
        ({"status": "dropped", "extra": 1}, "/extra"),
    ],
)
async def test_a_bad_status_change_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    _, course_id, path = await enrolled_pair(client)

    problem = assert_problem(await client.patch(path, json=body), 422)

    assert pointer in pointers(problem)
    assert [e["action"] for e in await history(client, path)] == ["enrolled"]
    assert await enrolled_count(client, course_id) == 1


async def test_status_filters_take_a_comma_list_and_refuse_unknown_values(
    client: httpx.AsyncClient,
) -> None:
    student_id, course_id, path = await enrolled_pair(client)
    other = await make_course(client)
    await client.put(f"/students/{student_id}/courses/{other['id']}")
    await client.patch(path, json={"status": "completed"})

    def listed(response: httpx.Response) -> list[tuple[int, str]]:
        assert response.status_code == 200, response.text
        return [(item["id"], item["status"]) for item in response.json()["items"]]

    courses = f"/students/{student_id}/courses"
    assert listed(await client.get(courses)) == [(other["id"], "enrolled")]
    assert listed(await client.get(f"{courses}?status=completed,enrolled")) == [
        (course_id, "completed"),
        (other["id"], "enrolled"),
    ]
    roster = f"/courses/{course_id}/students"
    assert listed(await client.get(roster)) == []
    assert listed(await client.get(f"{roster}?status=completed")) == [(student_id, "completed")]
    for where in (courses, roster):
        for bad in ("gone", "enrolled,", "Enrolled"):
            problem = assert_problem(await client.get(f"{where}?status={bad}"), 422)
            assert pointers(problem) == ["status"]


async def test_a_course_with_only_past_records_can_be_deleted_with_their_history(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    _, course_id, path = await enrolled_pair(client)
    assert_problem(await client.delete(f"/courses/{course_id}"), 409)
    await client.delete(path)

    assert (await client.delete(f"/courses/{course_id}")).status_code == 204

    left = await conn.fetchval(
        "SELECT count(*) FROM enrollment_events WHERE course_id = $1", course_id
    )
    assert left == 0


async def test_deleting_a_student_removes_its_enrollments_and_their_history(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student_id, course_id, path = await enrolled_pair(client)
    await client.delete(path)
    await client.put(path)

    assert (await client.delete(f"/students/{student_id}")).status_code == 204

    assert await enrolled_count(client, course_id) == 0
    left = await conn.fetchval(
        "SELECT count(*) FROM enrollment_events WHERE student_id = $1", student_id
    )
    assert left == 0


async def test_concurrent_re_enrollments_of_one_dropped_pair_take_one_seat(
    client: httpx.AsyncClient,
) -> None:
    _, course_id, path = await enrolled_pair(client, capacity=1)
    await client.delete(path)

    statuses = Counter(
        r.status_code for r in await asyncio.gather(*(client.put(path) for _ in range(20)))
    )

    assert statuses == {201: 1, 200: 19}
    assert await enrolled_count(client, course_id) == 1
    assert [e["action"] for e in await history(client, path)] == ["enrolled", "dropped", "enrolled"]


async def test_drops_and_re_enrollments_racing_never_overbook_and_counts_match_rows(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    capacity = 5
    course = await make_course(client, capacity=capacity)
    students = [await make_student(client) for _ in range(30)]
    paths = [f"/students/{s['id']}/courses/{course['id']}" for s in students]

    seats = (
        "SELECT c.enrolled_count, count(sc.*) FILTER (WHERE sc.status = 'enrolled') AS rows "
        "FROM courses c LEFT JOIN student_courses sc ON sc.course_id = c.id "
        "WHERE c.id = $1 GROUP BY c.enrolled_count"
    )
    racing = True
    seen: list[tuple[int, int]] = []

    async def churn(path: str) -> None:
        for _ in range(3):
            if (await client.put(path)).status_code == 201:
                await client.delete(path)

    async def watch() -> None:
        """The seats as each snapshot shows them while the race runs: a drop that follows
        every seat taken would hide an overbooking from a look at the end alone."""
        while racing:
            row = await conn.fetchrow(seats, course["id"])
            assert row is not None
            seen.append((row["enrolled_count"], row["rows"]))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(churn(p) for p in paths))
    racing = False
    await watcher

    assert len(seen) > 10
    assert all(count == rows <= capacity for count, rows in seen), seen
    assert max(rows for _, rows in seen) > 0  # it watched seats taken, not only an empty course
    row = await conn.fetchrow(seats, course["id"])
    assert row is not None
    assert row["enrolled_count"] == row["rows"] <= capacity
    # Every status a pair went through is in its history, in order (a pair that never got
    # a seat never existed).
    for path in paths:
        if (await client.get(f"{path}/history")).status_code == 404:
            continue
        events = await history(client, path)
        steps = [(e["from_status"], e["to_status"]) for e in events]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(steps))
