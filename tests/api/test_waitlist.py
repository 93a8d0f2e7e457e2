"""Waitlists (API.md v1.1 "Waitlist"): a full course queues students up to its
waitlist_capacity, and every freed seat goes at once to the longest-waiting one."""

from typing import Any

import httpx

from tests.api.conftest import LogLines, events
from tests.conftest import assert_problem, make_course, make_student, pointers


async def put(client: httpx.AsyncClient, student_id: int, course_id: int) -> httpx.Response:
    return await client.put(f"/students/{student_id}/courses/{course_id}")


async def course_of(client: httpx.AsyncClient, course_id: int) -> dict[str, Any]:
    course: dict[str, Any] = (await client.get(f"/courses/{course_id}")).json()
    return course


async def full_course_with_queue(
    client: httpx.AsyncClient, *, capacity: int = 1, waiting: int = 2, room: int = 3
) -> tuple[dict[str, Any], list[int], list[int]]:
    """A course filled to capacity, `waiting` students on its waitlist of `room` places:
    the course, the enrolled students' ids and the waiting ones', in queue order."""
    course = await make_course(client, capacity=capacity, waitlist_capacity=room)
    enrolled = [(await make_student(client))["id"] for _ in range(capacity)]
    for student_id in enrolled:
        assert (await put(client, student_id, course["id"])).status_code == 201
    queue = [(await make_student(client))["id"] for _ in range(waiting)]
    for student_id in queue:
        assert (await put(client, student_id, course["id"])).status_code == 202
    return course, enrolled, queue


async def status_of(client: httpx.AsyncClient, student_id: int, course_id: int) -> str:
    response = await client.get(f"/students/{student_id}/courses/{course_id}/history")
    status: str = response.json()["items"][-1]["to_status"]
    return status


async def test_a_full_course_waitlists_in_order_and_a_repeat_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    course = await make_course(client, capacity=1, waitlist_capacity=2)
    first, second, third, fourth = [(await make_student(client))["id"] for _ in range(4)]
    assert (await put(client, first, course["id"])).status_code == 201

    queued = await put(client, second, course["id"])
    behind = await put(client, third, course["id"])
    again = await put(client, second, course["id"])
    refused = await put(client, fourth, course["id"])

    assert queued.status_code == 202
    view = queued.json()
    assert (view["status"], view["waitlist_position"], view["enrolled_at"]) == (
        "waitlisted",
        1,
        None,
    )
    assert (behind.status_code, behind.json()["waitlist_position"]) == (202, 2)
    assert again.status_code == 200
    assert {k: v for k, v in again.json().items() if k != "waitlisted_count"} == {
        k: v for k, v in view.items() if k != "waitlisted_count"
    }
    assert_problem(refused, 409, "course-full")
    counts = await course_of(client, course["id"])
    assert (counts["enrolled_count"], counts["waitlisted_count"]) == (1, 2)
    listed = (await client.get(f"/students/{third}")).json()["courses"]
    assert [(c["status"], c["waitlist_position"]) for c in listed] == [("waitlisted", 2)]


async def test_a_drop_promotes_the_longest_waiting_in_the_same_request(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    course, (holder,), (first, second) = await full_course_with_queue(client)

    assert (await client.delete(f"/students/{holder}/courses/{course['id']}")).status_code == 204

    assert await status_of(client, first, course["id"]) == "enrolled"
    history = (await client.get(f"/students/{first}/courses/{course['id']}/history")).json()
    promotion = history["items"][-1]
    assert (promotion["action"], promotion["from_status"], promotion["reason"]) == (
        "promoted",
        "waitlisted",
        "a seat freed",
    )
    waiting = (await client.get(f"/students/{second}/courses?status=waitlisted")).json()
    assert [c["waitlist_position"] for c in waiting["items"]] == [1]
    counts = await course_of(client, course["id"])
    assert (counts["enrolled_count"], counts["waitlisted_count"]) == (1, 1)
    promoted = events(log_lines(), "enrollment.promoted")
    assert [(e["student_id"], e["course_ids"]) for e in promoted] == [(first, [course["id"]])]


async def test_a_completion_and_a_deleted_student_free_seats_for_the_queue(
    client: httpx.AsyncClient,
) -> None:
    course, (holder,), (first, second) = await full_course_with_queue(client)
    pair = f"/students/{holder}/courses/{course['id']}"

    assert (await client.patch(pair, json={"status": "completed"})).status_code == 200
    assert await status_of(client, first, course["id"]) == "enrolled"
    assert (await client.delete(f"/students/{first}")).status_code == 204
    assert await status_of(client, second, course["id"]) == "enrolled"
    counts = await course_of(client, course["id"])
    assert (counts["enrolled_count"], counts["waitlisted_count"]) == (1, 0)


async def test_a_raised_capacity_promotes_as_many_as_it_frees(
    client: httpx.AsyncClient,
) -> None:
    course, _, queue = await full_course_with_queue(client, waiting=3)

    response = await client.patch(f"/courses/{course['id']}", json={"capacity": 3})

    assert response.status_code == 200
    assert (response.json()["enrolled_count"], response.json()["waitlisted_count"]) == (3, 1)
    assert [await status_of(client, s, course["id"]) for s in queue] == [
        "enrolled",
        "enrolled",
        "waitlisted",
    ]
    unlimited = await client.patch(f"/courses/{course['id']}", json={"capacity": None})
    assert (unlimited.json()["enrolled_count"], unlimited.json()["waitlisted_count"]) == (4, 0)


async def test_a_dropped_waitlisted_student_leaves_the_queue(client: httpx.AsyncClient) -> None:
    course, _, (first, second) = await full_course_with_queue(client)

    assert (await client.delete(f"/students/{first}/courses/{course['id']}")).status_code == 204

    assert await status_of(client, first, course["id"]) == "dropped"
    waiting = (await client.get(f"/students/{second}/courses?status=waitlisted")).json()
    assert [c["waitlist_position"] for c in waiting["items"]] == [1]
    assert (await course_of(client, course["id"]))["waitlisted_count"] == 1


async def test_post_waitlists_only_when_asked_and_stays_all_or_nothing(
    client: httpx.AsyncClient,
) -> None:
    open_course = await make_course(client, capacity=5)
    full, _, _ = await full_course_with_queue(client, waiting=0, room=1)
    student = await make_student(client)
    path = f"/students/{student['id']}/courses"
    both = [open_course["id"], full["id"]]

    refused = await client.post(path, json={"course_ids": both})
    assert_problem(refused, 409, "course-full")
    assert (await course_of(client, open_course["id"]))["enrolled_count"] == 0

    response = await client.post(path, json={"course_ids": both, "waitlist": True})

    assert response.status_code == 202
    assert [(v["id"], v["status"]) for v in response.json()["items"]] == [
        (open_course["id"], "enrolled"),
        (full["id"], "waitlisted"),
    ]
    other = await make_student(client)
    again = await client.post(
        f"/students/{other['id']}/courses", json={"course_ids": both, "waitlist": True}
    )
    assert_problem(again, 409, "course-full")  # the waitlist is full now
    assert (await course_of(client, open_course["id"]))["enrolled_count"] == 1


async def test_waitlist_capacity_is_checked_and_never_below_the_queue(
    client: httpx.AsyncClient,
) -> None:
    course, _, _ = await full_course_with_queue(client, waiting=2, room=3)

    lowered = await client.patch(f"/courses/{course['id']}", json={"waitlist_capacity": 1})
    out_of_range = await client.post(
        "/courses", json={"code": "W-RANGE", "title": "T", "waitlist_capacity": 100_001}
    )

    assert_problem(lowered, 409)
    assert (await course_of(client, course["id"]))["waitlist_capacity"] == 3
    assert pointers(assert_problem(out_of_range, 422)) == ["/waitlist_capacity"]


async def test_a_course_with_a_queue_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    course, (holder,), _ = await full_course_with_queue(client, waiting=1)
    assert (await client.delete(f"/students/{holder}/courses/{course['id']}")).status_code == 204

    assert_problem(await client.delete(f"/courses/{course['id']}"), 409)


async def test_the_waitlist_lists_in_queue_order_page_by_page(client: httpx.AsyncClient) -> None:
    course = await make_course(client, capacity=0, waitlist_capacity=5)
    # Students made in reverse, so that id order and queue order differ.
    students = [(await make_student(client))["id"] for _ in range(4)][::-1]
    for student_id in students:
        assert (await put(client, student_id, course["id"])).status_code == 202
    path = f"/courses/{course['id']}/students"

    first = (await client.get(path, params={"status": "waitlisted", "limit": 3})).json()
    rest = await client.get(
        path, params={"status": "waitlisted", "limit": 3, "cursor": first["next_cursor"]}
    )

    listed = first["items"] + rest.json()["items"]
    assert [s["id"] for s in listed] == students
    assert [s["waitlist_position"] for s in listed] == [1, 2, 3, 4]
    assert rest.json()["next_cursor"] is None
    by_id = await client.get(path, params={"status": "waitlisted,enrolled"})
    assert [s["id"] for s in by_id.json()["items"]] == sorted(students)
    # A queue's cursor is not an id's, and the other way round.
    assert_problem(await client.get(path, params={"cursor": first["next_cursor"]}), 422)
