"""The change feed (API.md v1.1): every committed change once, with the object as GET shows
it; long polls that hold no database connection; bad parameters refused."""

import asyncio
import base64
import random
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import assert_problem, make_course, make_student, pointers, unique
from tests.support.feed import follow, head_cursor


def ours(changes: list[dict[str, Any]], student_id: int, course_id: int) -> list[tuple[Any, ...]]:
    """The changes to this student, this course and their enrollment."""
    mine = {
        ("student", (student_id,)),
        ("course", (course_id,)),
        ("enrollment", (student_id, course_id)),
    }
    return [
        (c["entity"], c["op"], c["key"], c["data"])
        for c in changes
        if (c["entity"], tuple(c["key"].values())) in mine
    ]


async def test_each_write_appears_once_with_the_object_as_get_shows_it(
    client: httpx.AsyncClient,
) -> None:
    start = await head_cursor(client)
    student, course = await make_student(client), await make_course(client, capacity=5)
    pair = f"/students/{student['id']}/courses/{course['id']}"
    enrolled = (await client.put(pair)).json()
    dropped = (await client.patch(pair, json={"status": "dropped"})).json()
    renamed = (await client.patch(f"/courses/{course['id']}", json={"title": "Renamed"})).json()
    assert (await client.delete(f"/students/{student['id']}")).status_code == 204

    changes, _ = await follow(client, start)

    key = {"student_id": student["id"], "course_id": course["id"]}
    assert ours(changes, student["id"], course["id"]) == [
        ("student", "upsert", {"id": student["id"]}, student),
        ("course", "upsert", {"id": course["id"]}, course),
        # A seat taken: the course's count moves first (its trigger runs first), then the pair.
        ("course", "upsert", {"id": course["id"]}, {**course, "enrolled_count": 1}),
        ("enrollment", "upsert", key, {**key, **enrollment_fields(enrolled)}),
        ("course", "upsert", {"id": course["id"]}, {**course, "enrolled_count": 0}),
        ("enrollment", "upsert", key, {**key, **enrollment_fields(dropped)}),
        ("course", "upsert", {"id": course["id"]}, renamed),
        # The student's deletion takes the pair with it, and the feed says so (the cascade's
        # triggers run after the student's own).
        ("student", "delete", {"id": student["id"]}, None),
        ("enrollment", "delete", key, None),
    ]
    assert dropped["status"] == "dropped"
    assert len({c["cursor"] for c in changes}) == len(changes)


def enrollment_fields(view: dict[str, Any]) -> dict[str, Any]:
    return {name: view[name] for name in ("status", "enrolled_at", "status_changed_at")}


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("cursor=nonsense", "cursor"),
        (f"cursor={cursor_of('after:5')}", "cursor"),  # a collection's cursor, not the feed's
        (f"cursor={cursor_of('change:09')}", "cursor"),  # a form this service never writes
        (f"cursor={cursor_of('change:9223372036854775807')}", "cursor"),  # past the head
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
        ("wait=-1", "wait"),
        ("wait=1.5", "wait"),
    ],
)
async def test_a_bad_parameter_gets_422_naming_it(
    client: httpx.AsyncClient, query: str, parameter: str
) -> None:
    problem = assert_problem(await client.get(f"/changes?{query}"), 422, "validation-error")
    assert pointers(problem) == [parameter]


async def test_pages_follow_on_without_gaps_or_repeats(client: httpx.AsyncClient) -> None:
    start = await head_cursor(client)
    made = [(await make_student(client))["id"] for _ in range(7)]

    in_threes, end = await follow(client, start, limit=3)
    at_once, same_end = await follow(client, start)

    assert [c["key"]["id"] for c in in_threes] == made
    assert in_threes == at_once
    assert end == same_end == in_threes[-1]["cursor"]


async def readers_waiting(client: httpx.AsyncClient, count: int) -> None:
    """Once `count` long polls wait (the gauge says so), within ten seconds."""
    line = f"change_feed_readers_waiting {float(count)}"
    deadline = time.monotonic() + 10
    while line not in (await client.get("/metrics")).text.splitlines():
        assert time.monotonic() < deadline, f"never {count} waiting"
        await asyncio.sleep(0.02)


async def test_a_long_poll_answers_when_a_change_commits(client: httpx.AsyncClient) -> None:
    head = await head_cursor(client)
    poll = asyncio.create_task(client.get("/changes", params={"cursor": head, "wait": 20}))
    await readers_waiting(client, 1)
    assert not poll.done()  # nothing new yet: it waits

    student = await make_student(client)

    response = await asyncio.wait_for(poll, timeout=15)
    assert response.status_code == 200
    assert [c["data"] for c in response.json()["items"]] == [student]


async def test_a_long_poll_with_nothing_new_answers_empty_after_the_wait(
    client: httpx.AsyncClient,
) -> None:
    head = await head_cursor(client)

    response = await client.get("/changes", params={"cursor": head, "wait": 1})

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": head}


async def test_waiting_requests_hold_no_database_connection(client: httpx.AsyncClient) -> None:
    """The app's pool has 20 connections; 40 requests wait while others are served."""
    head = await head_cursor(client)
    polls = [
        asyncio.create_task(client.get("/changes", params={"cursor": head, "wait": 20}))
        for _ in range(40)
    ]
    await readers_waiting(client, 40)

    student = await make_student(client)  # a write and a read, with 40 requests waiting
    assert (await client.get(f"/students/{student['id']}")).status_code == 200

    answers = await asyncio.wait_for(asyncio.gather(*polls), timeout=15)
    assert {tuple(c["data"]["id"] for c in r.json()["items"]) for r in answers} == {
        (student["id"],)
    }


async def test_a_reader_sees_every_change_once_though_commits_come_out_of_order(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Twenty writers insert students in transactions that sleep before they commit, so ids
    are taken in one order and committed in another, while a reader follows the feed."""
    start = await head_cursor(client)
    writers = [await asyncpg.connect(database_url) for _ in range(20)]
    written: list[int] = []
    seen: list[dict[str, Any]] = []
    writing_done = asyncio.Event()

    async def write(conn: asyncpg.Connection, transactions: int) -> None:
        for _ in range(transactions):
            async with conn.transaction():
                student_id = await conn.fetchval(
                    "INSERT INTO students (first_name, last_name, email) "
                    "VALUES ('Out', 'Of Order', $1) RETURNING id",
                    f"{unique('order')}@example.edu",
                )
                await asyncio.sleep(random.uniform(0, 0.02))
            written.append(student_id)

    async def read() -> None:
        cursor = start
        while True:
            finished = writing_done.is_set()
            response = await client.get("/changes", params={"cursor": cursor, "wait": 1})
            page = response.json()
            seen.extend(page["items"])
            cursor = page["next_cursor"]
            if finished and not page["items"]:
                return

    reader = asyncio.create_task(read())
    try:
        await asyncio.gather(*(write(conn, 10) for conn in writers))
    finally:
        writing_done.set()
        for conn in writers:
            await conn.close()
    await asyncio.wait_for(reader, timeout=60)

    students_seen = Counter(
        c["key"]["id"] for c in seen if c["entity"] == "student" and c["key"]["id"] in written
    )
    assert len(written) == 200
    assert students_seen == Counter(written)  # each exactly once
    assert len({c["cursor"] for c in seen}) == len(seen)
    order = await fetch_feed_order(database_url, written)
    assert inversions(order) > 0, "the commits must have come out of id order"


async def fetch_feed_order(database_url: str, student_ids: list[int]) -> list[int]:
    """The change ids of these students' inserts, in feed order."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT id FROM changes WHERE entity = 'student' "
            "AND (key->>'id')::bigint = ANY($1::bigint[]) ORDER BY position",
            student_ids,
        )
    finally:
        await conn.close()
    return [row["id"] for row in rows]


def inversions(ids: list[int]) -> int:
    """How many later positions hold an earlier id."""
    return sum(1 for i, later in enumerate(ids) for earlier in ids[:i] if later < earlier)


async def test_a_raised_capacity_that_promotes_leaves_the_course_as_read_last_in_the_feed(
    client: httpx.AsyncClient,
) -> None:
    course = await make_course(client, capacity=1, waitlist_capacity=2)
    for expected in (201, 202):
        student = await make_student(client)
        put = await client.put(f"/students/{student['id']}/courses/{course['id']}")
        assert put.status_code == expected
    after = await head_cursor(client)

    assert (await client.patch(f"/courses/{course['id']}", json={"capacity": 2})).status_code == 200

    changes, _ = await follow(client, after)
    last = [c for c in changes if c["entity"] == "course" and c["key"] == {"id": course["id"]}]
    read = (await client.get(f"/courses/{course['id']}")).json()
    assert (read["enrolled_count"], read["waitlisted_count"]) == (2, 0)
    assert last[-1]["data"] == read
