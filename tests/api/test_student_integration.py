"""What the enrollment endpoints store in student_courses, read back row for row."""

from datetime import datetime
from typing import Any

import asyncpg
import httpx

from tests.conftest import make_course, make_student


def timestamp(value: str) -> datetime:
    """Parse the documented format: RFC 3339, UTC, `Z` suffix."""
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def rows_of(conn: asyncpg.Connection, student_id: int) -> list[dict[str, Any]]:
    records = await conn.fetch(
        "SELECT student_id, course_id, enrolled_at FROM student_courses "
        "WHERE student_id = $1 ORDER BY course_id",
        student_id,
    )
    return [dict(r) for r in records]


async def test_enrollment_rows_match_what_the_endpoints_return(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student = await make_student(client)
    courses = [await make_course(client) for _ in range(3)]
    ids = sorted(c["id"] for c in courses)
    created = await client.post(f"/students/{student['id']}/courses", json={"course_ids": ids})
    rows = await rows_of(conn, student["id"])

    assert [(r["student_id"], r["course_id"]) for r in rows] == [(student["id"], i) for i in ids]
    for source in (
        created.json()["items"],
        (await client.get(f"/students/{student['id']}/courses")).json()["items"],
        (await client.get(f"/students/{student['id']}")).json()["courses"],
    ):
        assert [v["id"] for v in source] == ids
        assert [timestamp(v["enrolled_at"]) for v in source] == [r["enrolled_at"] for r in rows]
    for course_id, row in zip(ids, rows, strict=True):
        page = (await client.get(f"/courses/{course_id}/students")).json()
        (entry,) = page["items"]
        assert entry["id"] == student["id"]
        assert timestamp(entry["enrolled_at"]) == row["enrolled_at"]


async def test_course_rows_match_the_course_json(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    course = await make_course(client, capacity=7)
    row = await conn.fetchrow(
        "SELECT id, code, title, capacity, enrolled_count, created_at, updated_at "
        "FROM courses WHERE id = $1",
        course["id"],
    )
    assert row is not None
    for key in ("id", "code", "title", "capacity", "enrolled_count"):
        assert course[key] == row[key]
    assert timestamp(course["created_at"]) == row["created_at"]
    assert timestamp(course["updated_at"]) == row["updated_at"]


async def test_drop_keeps_exactly_its_row_as_dropped_and_frees_the_seat(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student = await make_student(client)
    a, b = await make_course(client), await make_course(client)
    await client.post(f"/students/{student['id']}/courses", json={"course_ids": [a["id"], b["id"]]})
    await client.delete(f"/students/{student['id']}/courses/{a['id']}")
    statuses = await conn.fetch(
        "SELECT course_id, status FROM student_courses WHERE student_id = $1 ORDER BY course_id",
        student["id"],
    )
    assert [tuple(r) for r in statuses] == [(a["id"], "dropped"), (b["id"], "enrolled")]
    counts = await conn.fetch(
        "SELECT id, enrolled_count FROM courses WHERE id = ANY($1) ORDER BY id", [a["id"], b["id"]]
    )
    assert [(r["id"], r["enrolled_count"]) for r in counts] == [(a["id"], 0), (b["id"], 1)]


async def test_deleting_a_student_deletes_its_rows(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student, other = await make_student(client), await make_student(client)
    course = await make_course(client)
    for s in (student, other):
        await client.put(f"/students/{s['id']}/courses/{course['id']}")
    await client.delete(f"/students/{student['id']}")
    assert await rows_of(conn, student["id"]) == []
    assert len(await rows_of(conn, other["id"])) == 1
    count = await conn.fetchval("SELECT enrolled_count FROM courses WHERE id = $1", course["id"])
    assert count == 1


async def test_rejected_enrollments_store_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    student = await make_student(client)
    open_course, full = await make_course(client), await make_course(client, capacity=0)
    body = {"course_ids": [open_course["id"], full["id"]]}
    assert (await client.post(f"/students/{student['id']}/courses", json=body)).status_code == 409
    assert await rows_of(conn, student["id"]) == []
