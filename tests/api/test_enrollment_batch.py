"""`POST /enrollments/batch` (API.md v1.1 "Batch enrollment"): many pairs in one request,
each on its own or all of them or none, with capacity exact under concurrency."""

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx

from tests.api.conftest import LogLines, events
from tests.conftest import assert_problem, make_course, make_student, pointers

BATCH = "/enrollments/batch"


def pairs(*ids: tuple[int, int]) -> list[dict[str, int]]:
    return [{"student_id": s, "course_id": c} for s, c in ids]


async def batch(client: httpx.AsyncClient, *ids: tuple[int, int], **flags: Any) -> httpx.Response:
    return await client.post(BATCH, json={"items": pairs(*ids), **flags})


async def counts(client: httpx.AsyncClient, course_id: int) -> tuple[int, int]:
    course = (await client.get(f"/courses/{course_id}")).json()
    return course["enrolled_count"], course["waitlisted_count"]


async def students(client: httpx.AsyncClient, n: int) -> list[int]:
    return [(await make_student(client))["id"] for _ in range(n)]


async def test_each_pair_is_tried_on_its_own_and_answered_in_request_order(
    client: httpx.AsyncClient,
) -> None:
    a, b, c, held = await students(client, 4)
    roomy = (await make_course(client, capacity=10))["id"]
    one_seat = (await make_course(client, capacity=1, waitlist_capacity=1))["id"]
    assert (await client.put(f"/students/{held}/courses/{roomy}")).status_code == 201

    response = await batch(
        client,
        (a, roomy),
        (a, one_seat),
        (b, one_seat),  # the seat went to a, who asked first
        (held, roomy),
        (999_999_999, roomy),
        (c, 999_999_999),
    )

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["student_id"], i["course_id"]) for i in items] == [
        (a, roomy),
        (a, one_seat),
        (b, one_seat),
        (held, roomy),
        (999_999_999, roomy),
        (c, 999_999_999),
    ]
    assert [i["status"] for i in items] == [201, 201, 409, 200, 404, 404]
    assert items[0]["enrollment"]["status"] == "enrolled"
    assert items[0]["enrollment"]["enrolled_count"] == 2  # held's seat and a's
    assert items[0]["problem"] is None
    assert items[2]["enrollment"] is None
    assert items[2]["problem"]["type"].endswith("/course-full")
    assert "student 999999999" in items[4]["problem"]["detail"]
    assert "course 999999999" in items[5]["problem"]["detail"]
    assert await counts(client, roomy) == (2, 0)
    assert await counts(client, one_seat) == (1, 0)
    # As PUT answers: what the batch enrolled is now held, 200 with the same view.
    again = (await batch(client, (a, roomy))).json()["items"][0]
    assert again["status"] == 200
    assert again["enrollment"]["enrolled_at"] == items[0]["enrollment"]["enrolled_at"]


async def test_with_waitlist_a_full_course_queues_pairs_in_request_order(
    client: httpx.AsyncClient,
) -> None:
    a, b, c, d = await students(client, 4)
    course = (await make_course(client, capacity=1, waitlist_capacity=2))["id"]

    response = await batch(
        client, (a, course), (b, course), (c, course), (d, course), waitlist=True
    )

    items = response.json()["items"]
    assert [i["status"] for i in items] == [201, 202, 202, 409]
    assert [i["enrollment"]["waitlist_position"] for i in items[1:3]] == [1, 2]
    assert items[1]["enrollment"]["waitlisted_count"] == 2
    assert await counts(client, course) == (1, 2)
    queue = (await client.get(f"/courses/{course}/students?status=waitlisted")).json()["items"]
    assert [s["id"] for s in queue] == [b, c]


async def test_a_dropped_pair_enrolls_again(client: httpx.AsyncClient) -> None:
    (student,) = await students(client, 1)
    course = (await make_course(client))["id"]
    assert (await client.put(f"/students/{student}/courses/{course}")).status_code == 201
    assert (await client.delete(f"/students/{student}/courses/{course}")).status_code == 204

    items = (await batch(client, (student, course))).json()["items"]

    assert items[0]["status"] == 201
    history = (await client.get(f"/students/{student}/courses/{course}/history")).json()
    assert [e["action"] for e in history["items"]] == ["enrolled", "dropped", "enrolled"]


async def test_an_atomic_batch_enrolls_every_pair(client: httpx.AsyncClient) -> None:
    a, b = await students(client, 2)
    first = (await make_course(client, capacity=2))["id"]
    second = (await make_course(client, capacity=1, waitlist_capacity=1))["id"]

    response = await batch(
        client, (a, first), (b, first), (a, second), (b, second), atomic=True, waitlist=True
    )

    assert response.status_code == 202  # b waits for the second course's seat
    items = response.json()["items"]
    assert [i["status"] for i in items] == [201, 201, 201, 202]
    assert all(i["problem"] is None for i in items)
    assert await counts(client, first) == (2, 0)
    assert await counts(client, second) == (1, 1)
    response = await batch(client, (a, (await make_course(client))["id"]), atomic=True)
    assert response.status_code == 201


async def test_an_atomic_batch_refuses_with_the_first_failing_rule_and_writes_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    a, b, held = await students(client, 3)
    course = (await make_course(client, capacity=2))["id"]
    assert (await client.put(f"/students/{held}/courses/{course}")).status_code == 201
    writes_before = await conn.fetchval("SELECT count(*) FROM changes")

    unknown_student = await batch(
        client, (a, course), (999_999_999, 999_999_998), (b, 999_999_997), atomic=True
    )
    problem = assert_problem(unknown_student, 404, "not-found")
    assert problem["items"] == pairs((999_999_999, 999_999_998))

    unknown_course = await batch(client, (a, course), (b, 999_999_997), atomic=True)
    problem = assert_problem(unknown_course, 422)
    assert pointers(problem) == ["/items/1/course_id"]
    assert problem["items"] == pairs((b, 999_999_997))

    already = await batch(client, (a, course), (held, course), atomic=True)
    problem = assert_problem(already, 409, "already-enrolled")
    assert problem["items"] == pairs((held, course))

    full = await batch(client, (a, course), (b, course), atomic=True)  # one seat left
    problem = assert_problem(full, 409, "course-full")
    assert problem["items"] == pairs((b, course))
    assert problem["course_ids"] == [course]

    assert await counts(client, course) == (1, 0)
    assert await conn.fetchval("SELECT count(*) FROM changes") == writes_before
    rows = await conn.fetchval(
        "SELECT count(*) FROM student_courses WHERE student_id = ANY($1::bigint[])", [a, b]
    )
    assert rows == 0


async def test_bad_batches_get_a_problem_naming_the_fault_and_write_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    (student,) = await students(client, 1)
    course = (await make_course(client))["id"]
    writes_before = await conn.fetchval("SELECT count(*) FROM changes")

    too_many = await client.post(
        BATCH, json={"items": pairs(*((student, i) for i in range(1, 502)))}
    )
    assert pointers(assert_problem(too_many, 422)) == ["/items"]
    assert "500" in too_many.json()["detail"]

    repeated = await batch(client, (student, course), (student, course))
    problem = assert_problem(repeated, 422)
    assert pointers(problem) == ["/items"]
    assert f"({student}, {course})" in problem["detail"]

    assert pointers(assert_problem(await batch(client), 422)) == ["/items"]
    unknown_field = await client.post(
        BATCH, json={"items": pairs((student, course)), "atomically": True}
    )
    assert pointers(assert_problem(unknown_field, 422)) == ["/atomically"]
    not_an_id = await client.post(BATCH, json={"items": [{"student_id": 0, "course_id": "x"}]})
    assert pointers(assert_problem(not_an_id, 422)) == ["/items/0/student_id", "/items/0/course_id"]
    assert_problem(await client.post(BATCH, content=b"{", headers=JSON), 400)

    assert await conn.fetchval("SELECT count(*) FROM changes") == writes_before


JSON = {"content-type": "application/json"}


async def test_an_idempotency_key_replays_the_batch(client: httpx.AsyncClient) -> None:
    a, b = await students(client, 2)
    course = (await make_course(client, capacity=1))["id"]
    key = {"Idempotency-Key": f"batch-{uuid.uuid4()}"}
    body = {"items": pairs((a, course), (b, course))}

    first = await client.post(BATCH, json=body, headers=key)
    replay = await client.post(BATCH, json=body, headers=key)
    other_body = await client.post(BATCH, json={"items": pairs((a, course))}, headers=key)

    assert [i["status"] for i in first.json()["items"]] == [201, 409]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert_problem(other_body, 422, "idempotency-key-reused")
    assert await counts(client, course) == (1, 0)


async def test_one_log_line_per_pair(client: httpx.AsyncClient, log_lines: LogLines) -> None:
    a, b, c = await students(client, 3)
    course = (await make_course(client, capacity=1, waitlist_capacity=1))["id"]
    await batch(client, (a, course), (b, course), (c, course), (a, 999_999_999), waitlist=True)
    await batch(client, (a, course))
    await batch(client, (c, course), (b, (await make_course(client))["id"]), atomic=True)

    lines = log_lines()
    assert [(e["student_id"], e["course_ids"]) for e in events(lines, "enrollment.created")] == [
        (a, [course])
    ]
    assert [e["student_id"] for e in events(lines, "enrollment.waitlisted")] == [b]
    assert [e["student_id"] for e in events(lines, "enrollment.unchanged")] == [a]
    rejected = [
        (e["student_id"], e["reason"], e["status"]) for e in events(lines, "enrollment.rejected")
    ]
    assert rejected == [
        (c, "full", 409),
        (a, "not_found", 404),
        (c, "full", 409),
        (b, "batch_refused", 409),  # it could have enrolled, but its batch was refused
    ]


async def test_overlapping_batches_never_overbook_a_course(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """40 batches of 25 pairs at once, on 3 courses of 5 seats and 5 places: the seats and
    places go exactly once, whatever order the batches commit in."""
    courses = [(await make_course(client, capacity=5, waitlist_capacity=5))["id"] for _ in "abc"]
    cohort = await students(client, 100)
    batches = [
        [(cohort[(i * 7 + j) % 100], courses[(i + j) % 3]) for j in range(25)] for i in range(40)
    ]
    batches = [list(dict.fromkeys(b)) for b in batches]  # each pair at most once a batch

    responses = await asyncio.gather(
        *(batch(client, *b, waitlist=True, atomic=i % 4 == 0) for i, b in enumerate(batches))
    )

    assert {r.status_code for r in responses} <= {200, 201, 202, 409}
    taken = [
        (i["student_id"], i["course_id"], i["status"])
        for r in responses
        if r.status_code < 300
        for i in r.json()["items"]
        if i["status"] in (201, 202)
    ]
    assert len({(s, c) for s, c, _ in taken}) == len(taken), "a pair was taken twice"
    for course_id in courses:
        seats = sum(1 for _, c, status in taken if c == course_id and status == 201)
        places = sum(1 for _, c, status in taken if c == course_id and status == 202)
        assert (seats, places) == (5, 5)
        row = await conn.fetchrow(
            "SELECT enrolled_count, waitlisted_count, "
            "(SELECT count(*) FROM student_courses WHERE course_id = $1 AND status = 'enrolled')"
            " AS enrolled, "
            "(SELECT count(*) FROM student_courses WHERE course_id = $1 AND status = 'waitlisted')"
            " AS waiting FROM courses WHERE id = $1",
            course_id,
        )
        assert row is not None
        assert tuple(row) == (5, 5, 5, 5)
