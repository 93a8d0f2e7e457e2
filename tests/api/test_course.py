"""Courses over HTTP: every endpoint's success and error cases."""

import httpx
import pytest

from tests.conftest import assert_problem, make_course, make_student, pointers, unique

BIG = 2**63 - 1


async def test_create_course_returns_it_with_location(client: httpx.AsyncClient) -> None:
    code = unique("MATH.")
    response = await client.post(
        "/courses", json={"code": code, "title": " Algebra ", "capacity": 3}
    )
    assert response.status_code == 201
    course = response.json()
    assert response.headers["location"] == f"/courses/{course['id']}"
    assert course["code"] == code
    assert course["title"] == "Algebra"
    assert course["capacity"] == 3
    assert course["enrolled_count"] == 0
    assert (await client.get(f"/courses/{course['id']}")).json() == course


async def test_create_course_without_capacity_has_no_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/courses", json={"code": unique("X"), "title": "T"})
    assert response.status_code == 201
    assert response.json()["capacity"] is None


async def test_create_course_rejects_taken_code_ignoring_case(client: httpx.AsyncClient) -> None:
    course = await make_course(client)
    body = {"code": course["code"].lower(), "title": "Other"}
    assert_problem(await client.post("/courses", json=body), 409)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"code": "has space", "title": "T"}, "/code"),
        ({"code": "", "title": "T"}, "/code"),
        ({"code": "A" * 33, "title": "T"}, "/code"),
        ({"code": "OK1", "title": ""}, "/title"),
        ({"code": "OK1", "title": "t" * 201}, "/title"),
        ({"code": "OK1", "title": "T", "capacity": -1}, "/capacity"),
        ({"code": "OK1", "title": "T", "capacity": 100_001}, "/capacity"),
        ({"code": "OK1", "title": "T", "capacity": "10"}, "/capacity"),
        ({"code": "OK1", "title": "T", "capacity": True}, "/capacity"),
        ({"code": "OK1", "title": "T", "enrolled_count": 5}, "/enrolled_count"),
    ],
)
async def test_create_course_rejects_invalid_fields(
    client: httpx.AsyncClient, body: dict[str, object], pointer: str
) -> None:
    problem = assert_problem(await client.post("/courses", json=body), 422)
    assert pointer in pointers(problem)


async def test_list_courses_filters_by_code_and_pages(client: httpx.AsyncClient) -> None:
    course = await make_course(client)
    page = (await client.get("/courses", params={"code": course["code"].lower()})).json()
    assert page == {"items": [course], "next_cursor": None}
    first = (await client.get("/courses", params={"limit": 1})).json()
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    second = (
        await client.get("/courses", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    assert second["items"][0]["id"] > first["items"][0]["id"]
    assert_problem(await client.get("/courses", params={"limit": "0"}), 422)


async def test_patch_course_changes_fields_and_clears_capacity(client: httpx.AsyncClient) -> None:
    course = await make_course(client, capacity=5)
    path = f"/courses/{course['id']}"
    changed = (await client.patch(path, json={"title": "New title"})).json()
    assert changed["title"] == "New title"
    assert changed["capacity"] == 5
    assert (await client.patch(path, json={"capacity": None})).json()["capacity"] is None
    assert (await client.patch(path, json={"capacity": 2})).json()["capacity"] == 2


async def test_patch_course_with_empty_object_changes_nothing(client: httpx.AsyncClient) -> None:
    course = await make_course(client)
    response = await client.patch(f"/courses/{course['id']}", json={})
    assert response.json() == course


async def test_patch_course_refuses_capacity_below_enrolled(client: httpx.AsyncClient) -> None:
    course = await make_course(client, capacity=5)
    for _ in range(2):
        student = await make_student(client)
        await client.put(f"/students/{student['id']}/courses/{course['id']}")
    path = f"/courses/{course['id']}"
    assert_problem(await client.patch(path, json={"capacity": 1}), 409)
    assert (await client.get(path)).json()["capacity"] == 5
    assert (await client.patch(path, json={"capacity": 2})).status_code == 200


async def test_patch_course_errors(client: httpx.AsyncClient) -> None:
    course, other = await make_course(client), await make_course(client)
    path = f"/courses/{course['id']}"
    assert_problem(await client.patch(path, json={"code": other["code"]}), 409)
    assert_problem(await client.patch(path, json={"title": None}), 422)
    assert_problem(await client.patch(path, json={"enrolled_count": 0}), 422)
    assert_problem(await client.patch(f"/courses/{BIG}", json={"title": "T"}), 404)


async def test_delete_course_refused_while_students_enrolled(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    course = await make_course(client)
    enrollment = f"/students/{student['id']}/courses/{course['id']}"
    await client.put(enrollment)
    assert_problem(await client.delete(f"/courses/{course['id']}"), 409)
    assert (await client.get(f"/courses/{course['id']}")).status_code == 200
    await client.delete(enrollment)
    assert (await client.delete(f"/courses/{course['id']}")).status_code == 204
    assert_problem(await client.get(f"/courses/{course['id']}"), 404)
    assert_problem(await client.delete(f"/courses/{course['id']}"), 404)


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}
