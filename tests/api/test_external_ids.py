"""External ids and upsert (API.md v1.2): the caller's own identifier on students and
courses, the filters, and `PUT .../by-external-id/{external_id}`."""

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import assert_problem, make_course, make_student, pointers, unique
from tests.support.feed import follow, head_cursor, replay


def student_body(**fields: Any) -> dict[str, Any]:
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"{unique('ada')}@x.edu",
    } | fields


async def put_student(
    client: httpx.AsyncClient, external_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.put(f"/students/by-external-id/{external_id}", json=body)


async def test_put_creates_then_updates_only_the_fields_sent(client: httpx.AsyncClient) -> None:
    external_id = unique("SIS-")
    body = student_body()
    created = await put_student(client, external_id, body)
    assert created.status_code == 201
    student = created.json()
    assert created.headers["location"] == f"/students/{student['id']}"
    assert student["external_id"] == external_id
    assert {k: student[k] for k in body} == body

    updated = await put_student(client, external_id, {"last_name": "King"})
    assert updated.status_code == 200
    assert updated.json() == student | {
        "last_name": "King",
        "updated_at": updated.json()["updated_at"],
    }
    assert updated.json()["updated_at"] > student["updated_at"]
    found = await client.get(f"/students/{student['id']}")
    assert found.json()["last_name"] == "King"


async def test_put_with_the_body_as_it_is_changes_nothing(client: httpx.AsyncClient) -> None:
    external_id = unique("SIS-")
    body = student_body()
    first = (await put_student(client, external_id, body)).json()
    since = await head_cursor(client)
    again = await put_student(client, external_id, body)
    assert again.status_code == 200
    assert again.json() == first  # updated_at too
    later, _ = await follow(client, since)
    assert [c for c in later if c["key"] == {"id": first["id"]}] == []


async def test_put_of_a_new_course_needs_what_a_create_needs(client: httpx.AsyncClient) -> None:
    external_id = unique("CAT-")
    refused = await client.put(f"/courses/by-external-id/{external_id}", json={"title": "T"})
    assert pointers(assert_problem(refused, 422)) == ["/code"]
    assert (await client.get(f"/courses?external_id={external_id}")).json()["items"] == []
    body = {"code": unique("C"), "title": "Logic", "capacity": 2}
    created = await client.put(f"/courses/by-external-id/{external_id}", json=body)
    assert created.status_code == 201
    assert created.json()["external_id"] == external_id
    page = (await client.get(f"/courses?external_id={external_id}")).json()
    assert [c["id"] for c in page["items"]] == [created.json()["id"]]


async def test_put_keeps_the_v1_rules(client: httpx.AsyncClient) -> None:
    taken = await make_student(client)
    external_id = unique("SIS-")
    refused = await put_student(client, external_id, student_body(email=taken["email"].upper()))
    assert_problem(refused, 409)
    assert (await client.get(f"/students?external_id={external_id}")).json()["items"] == []

    course_id = unique("CAT-")
    body = {"code": unique("C"), "title": "T", "capacity": 1}
    course = (await client.put(f"/courses/by-external-id/{course_id}", json=body)).json()
    student = await make_student(client)
    enrolled = await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert enrolled.status_code == 201
    below = await client.put(f"/courses/by-external-id/{course_id}", json={"capacity": 0})
    assert_problem(below, 409)
    assert (await client.get(f"/courses/{course['id']}")).json()["capacity"] == 1


async def test_fifty_concurrent_puts_of_one_new_external_id_create_one_student(
    client: httpx.AsyncClient,
) -> None:
    external_id = unique("SIS-")
    body = student_body()
    responses = await asyncio.gather(*(put_student(client, external_id, body) for _ in range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    page = (await client.get(f"/students?external_id={external_id}")).json()
    assert len(page["items"]) == 1


def new_body(collection: str) -> dict[str, Any]:
    """What a PUT needs to create one of `collection`."""
    return student_body() if collection == "students" else {"code": unique("C"), "title": "T"}


@pytest.mark.parametrize("collection", ["students", "courses"])
async def test_every_external_id_stored_can_be_upserted_a_slash_included(
    client: httpx.AsyncClient, collection: str
) -> None:
    external_id = unique("2024/") + "/x"
    made = await client.post(
        f"/{collection}", json=new_body(collection) | {"external_id": external_id}
    )
    assert made.status_code == 201
    encoded = external_id.replace("/", "%2F")
    response = await client.put(
        f"/{collection}/by-external-id/{encoded}", json=new_body(collection)
    )
    assert response.status_code == 200, response.text
    assert response.json()["id"] == made.json()["id"]
    assert response.json()["external_id"] == external_id
    # Decoded once: %252F is the id's own "%2F", another id than the one with a /.
    literal = external_id.replace("/", "%252F")
    other = await client.put(f"/{collection}/by-external-id/{literal}", json=new_body(collection))
    assert other.status_code == 201, other.text
    assert other.json()["external_id"] == encoded


async def test_a_put_racing_a_post_or_patch_that_sets_its_external_id_ends_in_one_row(
    client: httpx.AsyncClient,
) -> None:
    for attempt in range(30):
        external_id = unique("RACE-")
        other = await make_student(client)
        setting = (
            client.post("/students", json=student_body(external_id=external_id))
            if attempt % 2
            else client.patch(f"/students/{other['id']}", json={"external_id": external_id})
        )
        put, set_ = await asyncio.gather(put_student(client, external_id, student_body()), setting)
        assert put.status_code in (200, 201), put.text
        assert set_.status_code in (200, 201, 409), set_.text
        page = (await client.get(f"/students?external_id={external_id}")).json()
        assert [s["id"] for s in page["items"]] == [put.json()["id"]]


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/students/by-external-id/", {404, 405}),  # empty: no such route
        ("/students/by-external-id/" + "x" * 129, {422}),
        ("/students/by-external-id/a%01b", {422}),  # a control character
        ("/students/by-external-id/a%20b", {422}),  # a space is not visible
        ("/students/by-external-id/caf%C3%A9", {422}),  # not ASCII
        ("/students/by-external-id/a/b", {404}),  # a / unencoded splits the path
    ],
)
async def test_a_bad_external_id_changes_nothing(
    client: httpx.AsyncClient, path: str, statuses: set[int]
) -> None:
    before = await head_cursor(client)
    response = await client.put(path, json=student_body())
    assert response.status_code in statuses
    assert_problem(response, response.status_code)
    assert (await follow(client, before))[0] == []


@pytest.mark.parametrize("value", ["", "x" * 129, "a b", "tab\there"])
async def test_the_filter_refuses_what_no_external_id_can_be(
    client: httpx.AsyncClient, value: str
) -> None:
    for collection in ("/students", "/courses"):
        response = await client.get(collection, params={"external_id": value})
        assert pointers(assert_problem(response, 422)) == ["external_id"]


async def test_post_and_patch_set_and_clear_it_uniquely(client: httpx.AsyncClient) -> None:
    external_id = unique("SIS-")
    student = await make_student(client, external_id=external_id)
    assert student["external_id"] == external_id
    other = await make_student(client)
    taken = await client.patch(f"/students/{other['id']}", json={"external_id": external_id})
    assert "external_id" in assert_problem(taken, 409)["detail"]
    cleared = await client.patch(f"/students/{student['id']}", json={"external_id": None})
    assert cleared.json()["external_id"] is None
    moved = await client.patch(f"/students/{other['id']}", json={"external_id": external_id})
    assert moved.json()["external_id"] == external_id
    course = await make_course(client, external_id=external_id)  # unique per entity only
    assert course["external_id"] == external_id


async def test_the_enrollment_view_and_roster_carry_it(client: httpx.AsyncClient) -> None:
    student = await make_student(client, external_id=unique("SIS-"))
    course = await make_course(client, external_id=unique("CAT-"))
    view = await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert view.json()["external_id"] == course["external_id"]
    with_courses = (await client.get(f"/students/{student['id']}")).json()
    assert [c["external_id"] for c in with_courses["courses"]] == [course["external_id"]]
    roster = (await client.get(f"/courses/{course['id']}/students")).json()
    assert [s["external_id"] for s in roster["items"]] == [student["external_id"]]


async def test_the_feed_carries_it_and_replays_to_the_live_state(
    client: httpx.AsyncClient,
) -> None:
    external_id = unique("SIS-")
    student = (await put_student(client, external_id, student_body())).json()
    await put_student(client, external_id, {"first_name": "Augusta"})
    changes, _ = await follow(client)
    mine = [c for c in changes if c["entity"] == "student" and c["key"] == {"id": student["id"]}]
    assert [c["data"]["external_id"] for c in mine] == [external_id, external_id]
    live = (await client.get(f"/students/{student['id']}")).json()
    del live["courses"]
    assert replay(changes)["student"][(student["id"],)] == live


@pytest.mark.parametrize("collection", ["students", "courses"])
async def test_an_unknown_field_in_a_put_is_422_with_its_pointer_and_changes_nothing(
    client: httpx.AsyncClient, collection: str
) -> None:
    external_id = unique("SIS-")
    before = await head_cursor(client)
    body = new_body(collection) | {"nickname": "x"}
    response = await client.put(f"/{collection}/by-external-id/{external_id}", json=body)
    assert pointers(assert_problem(response, 422)) == ["/nickname"]
    assert (await follow(client, before))[0] == []
