"""Conditional requests (API.md v1.1): strong ETags on student and course reads, 304 for a
current If-None-Match, 412 for a stale If-Match on PATCH and DELETE, nothing changed."""

import asyncio

import httpx
import pytest

from tests.conftest import assert_problem, make_course, make_student


@pytest.mark.parametrize("kind", ["student", "course"])
async def test_a_read_carries_an_etag_and_a_repeat_with_it_gets_304(
    client: httpx.AsyncClient, kind: str
) -> None:
    made = await (make_student(client) if kind == "student" else make_course(client))
    path = f"/{kind}s/{made['id']}"
    first = await client.get(path)
    tag = first.headers["etag"]

    again = await client.get(path, headers={"If-None-Match": tag})
    listed = await client.get(path, headers={"If-None-Match": f'"other", W/{tag}'})
    anything = await client.get(path, headers={"If-None-Match": "*"})

    assert tag[0] == tag[-1] == '"'
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
    assert listed.status_code == 304  # If-None-Match compares weakly
    assert anything.status_code == 304
    assert (await client.get(path, headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_the_etag_changes_with_any_byte_of_the_body(client: httpx.AsyncClient) -> None:
    """A student's representation holds its courses' counts: another student's enrollment
    changes it too."""
    student, course = await make_student(client), await make_course(client)
    enrolled = await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert enrolled.status_code == 201
    path = f"/students/{student['id']}"
    before = (await client.get(path)).headers["etag"]

    other = await make_student(client)
    await client.put(f"/students/{other['id']}/courses/{course['id']}")

    after = await client.get(path, headers={"If-None-Match": before})
    assert after.status_code == 200
    assert after.headers["etag"] != before
    assert after.json()["courses"][0]["enrolled_count"] == 2


@pytest.mark.parametrize("kind", ["student", "course"])
async def test_a_stale_if_match_gets_412_and_changes_nothing(
    client: httpx.AsyncClient, kind: str
) -> None:
    made = await (make_student(client) if kind == "student" else make_course(client))
    path = f"/{kind}s/{made['id']}"
    tag = (await client.get(path)).headers["etag"]
    field = "first_name" if kind == "student" else "title"
    changed = await client.patch(path, json={field: "Changed"}, headers={"If-Match": tag})
    assert changed.status_code == 200
    fresh = (await client.get(path)).headers["etag"]

    stale_patch = await client.patch(path, json={field: "Stale"}, headers={"If-Match": tag})
    stale_delete = await client.delete(path, headers={"If-Match": tag})

    assert_problem(stale_patch, 412, "precondition-failed")
    assert_problem(stale_delete, 412, "precondition-failed")
    current = await client.get(path)
    assert current.status_code == 200
    assert current.json()[field] == "Changed"
    assert current.json()["updated_at"] == changed.json()["updated_at"]
    assert current.headers["etag"] == fresh
    assert (await client.delete(path, headers={"If-Match": fresh})).status_code == 204
    assert (await client.get(path)).status_code == 404


async def test_if_match_star_needs_the_resource_and_a_weak_tag_never_matches(
    client: httpx.AsyncClient,
) -> None:
    course = await make_course(client)
    path = f"/courses/{course['id']}"
    tag = (await client.get(path)).headers["etag"]

    weak = await client.patch(path, json={"title": "T2"}, headers={"If-Match": f"W/{tag}"})
    star = await client.patch(path, json={"title": "T3"}, headers={"If-Match": "*"})
    missing = await client.patch(
        "/courses/999999999", json={"title": "T"}, headers={"If-Match": "*"}
    )

    assert_problem(weak, 412)
    assert star.status_code == 200
    assert_problem(missing, 404)  # unknown first, as without the header


@pytest.mark.parametrize("value", ["abc", '"a" "b"', 'W/"a', '"a",,"b"'])
async def test_a_malformed_tag_gets_400_naming_the_header(
    client: httpx.AsyncClient, value: str
) -> None:
    course = await make_course(client)
    path = f"/courses/{course['id']}"

    read = await client.get(path, headers={"If-None-Match": value})
    write = await client.patch(path, json={"title": "Never"}, headers={"If-Match": value})

    assert "If-None-Match" in assert_problem(read, 400)["detail"]
    assert_problem(write, 400)
    assert (await client.get(path)).json()["title"] != "Never"


async def test_concurrent_writers_with_one_tag_let_only_one_through(
    client: httpx.AsyncClient,
) -> None:
    """The check runs under the write's row lock: of ten PATCHes naming the same ETag, one
    changes the course and the others find it changed."""
    course = await make_course(client)
    path = f"/courses/{course['id']}"
    tag = (await client.get(path)).headers["etag"]

    answers = await asyncio.gather(
        *(
            client.patch(path, json={"title": f"Writer {i}"}, headers={"If-Match": tag})
            for i in range(10)
        )
    )

    assert sorted(a.status_code for a in answers) == [200] + [412] * 9
