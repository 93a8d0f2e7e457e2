"""Students and enrollments over HTTP: every endpoint's success and error cases."""

import httpx
import pytest

from service.pagination import encode_cursor
from tests.conftest import assert_problem, make_course, make_student, pointers, unique

BIG = 2**63 - 1


async def test_create_student_returns_it_with_location(client: httpx.AsyncClient) -> None:
    email = f"{unique('grace')}@example.edu"
    response = await client.post(
        "/students", json={"first_name": " Grace ", "last_name": "Hopper", "email": email}
    )
    assert response.status_code == 201
    student = response.json()
    assert response.headers["location"] == f"/students/{student['id']}"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert student["first_name"] == "Grace"  # trimmed
    assert student["email"] == email
    assert student["created_at"].endswith("Z")
    assert student["created_at"] == student["updated_at"]
    assert set(student) == {
        "id",
        "first_name",
        "last_name",
        "email",
        "external_id",
        "created_at",
        "updated_at",
    }
    assert student["external_id"] is None


async def test_create_student_rejects_taken_email_ignoring_case(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    response = await client.post(
        "/students",
        json={"first_name": "A", "last_name": "B", "email": student["email"].upper()},
    )
    assert_problem(response, 409)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"last_name": "L", "email": "a@b.co"}, "/first_name"),
        ({"first_name": "   ", "last_name": "L", "email": "a@b.co"}, "/first_name"),
        ({"first_name": "x" * 101, "last_name": "L", "email": "a@b.co"}, "/first_name"),
        ({"first_name": "F", "last_name": 7, "email": "a@b.co"}, "/last_name"),
        ({"first_name": "F", "last_name": "L", "email": "not-an-email"}, "/email"),
        ({"first_name": "F", "last_name": "L", "email": "a@" + "b" * 250 + ".co"}, "/email"),
        ({"first_name": "F", "last_name": "L", "email": "a@b.co", "id": 5}, "/id"),
    ],
)
async def test_create_student_rejects_invalid_fields_with_pointers(
    client: httpx.AsyncClient, body: dict[str, object], pointer: str
) -> None:
    before = (await client.get("/students", params={"email": "a@b.co"})).json()["items"]
    problem = assert_problem(await client.post("/students", json=body), 422, "validation-error")
    assert pointer in pointers(problem)
    assert (await client.get("/students", params={"email": "a@b.co"})).json()["items"] == before


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"", 400)],
)
async def test_create_student_rejects_bodies_that_are_not_json_objects(
    client: httpx.AsyncClient, content: bytes, status: int
) -> None:
    response = await client.post(
        "/students", content=content, headers={"content-type": "application/json"}
    )
    assert_problem(response, status, "malformed-request")


async def test_create_student_rejects_bodies_over_64_kib(client: httpx.AsyncClient) -> None:
    body = {"first_name": "F", "last_name": "L", "email": "a@b.co", "pad": "x" * 70_000}
    assert_problem(await client.post("/students", json=body), 413)


async def test_create_student_rejects_non_json_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post("/students", data={"first_name": "F"})
    assert_problem(response, 415)


async def test_get_student_includes_enrollment_views(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    course = await make_course(client)
    await client.put(f"/students/{student['id']}/courses/{course['id']}")
    response = await client.get(f"/students/{student['id']}")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in student} == student
    (view,) = body["courses"]
    assert view["id"] == course["id"]
    assert view["enrolled_count"] == 1
    assert view["enrolled_at"].endswith("Z")


@pytest.mark.parametrize("path", ["/students/0", f"/students/{BIG}", f"/students/{BIG + 1}"])
async def test_get_student_not_found_for_unknown_or_impossible_ids(
    client: httpx.AsyncClient, path: str
) -> None:
    assert_problem(await client.get(path), 404, "not-found")


async def test_non_integer_id_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/students/abc"), 404)
    assert_problem(await client.get("/students/-1"), 404)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.put("/students")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_list_students_pages_by_id_with_cursor(client: httpx.AsyncClient) -> None:
    made = [(await make_student(client))["id"] for _ in range(5)]
    # Start just before our first student and walk two at a time until past our last.
    cursor: str | None = encode_cursor(made[0] - 1)
    seen: list[int] = []
    while cursor is not None and (not seen or seen[-1] < made[-1]):
        page = (await client.get("/students", params={"limit": 2, "cursor": cursor})).json()
        assert len(page["items"]) <= 2
        seen += [student["id"] for student in page["items"]]
        cursor = page["next_cursor"]
    assert [i for i in seen if i in made] == made
    assert seen == sorted(set(seen))


async def test_list_students_filters_by_email_ignoring_case(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    page = (await client.get("/students", params={"email": student["email"].upper()})).json()
    assert page == {"items": [student], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "YWZ0ZXI6MDE"}, "cursor"),
    ],
)
async def test_list_students_rejects_bad_paging(
    client: httpx.AsyncClient, params: dict[str, str | int], parameter: str
) -> None:
    problem = assert_problem(await client.get("/students", params=params), 422)
    assert pointers(problem) == [parameter]


async def test_patch_student_changes_only_given_fields(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    response = await client.patch(f"/students/{student['id']}", json={"last_name": "Byron"})
    assert response.status_code == 200
    changed = response.json()
    assert changed["last_name"] == "Byron"
    assert changed["first_name"] == student["first_name"]
    assert changed["email"] == student["email"]
    assert changed["updated_at"] > student["updated_at"]


async def test_patch_student_rejects_null_unknown_and_taken_email(
    client: httpx.AsyncClient,
) -> None:
    student = await make_student(client)
    other = await make_student(client)
    path = f"/students/{student['id']}"
    problem = assert_problem(await client.patch(path, json={"first_name": None}), 422)
    assert pointers(problem) == ["/first_name"]
    assert_problem(await client.patch(path, json={"age": 3}), 422)
    assert_problem(await client.patch(path, json={"email": other["email"]}), 409)
    assert (await client.get(path)).json()["email"] == student["email"]


async def test_patch_student_with_empty_object_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    student = await make_student(client)
    response = await client.patch(f"/students/{student['id']}", json={})
    assert response.status_code == 200
    assert response.json() == student
    assert_problem(await client.patch(f"/students/{BIG}", json={}), 404)


async def test_patch_unknown_student_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.patch(f"/students/{BIG}", json={"last_name": "X"}), 404)


async def test_delete_student_frees_seats(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    course = await make_course(client, capacity=1)
    await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 1
    assert (await client.delete(f"/students/{student['id']}")).status_code == 204
    assert_problem(await client.get(f"/students/{student['id']}"), 404)
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 0
    assert_problem(await client.delete(f"/students/{student['id']}"), 404)


# --- enrollment ---------------------------------------------------------------------------


async def test_enroll_in_several_courses_returns_views(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    a, b = await make_course(client), await make_course(client, capacity=None)
    response = await client.post(
        f"/students/{student['id']}/courses", json={"course_ids": [b["id"], a["id"]]}
    )
    assert response.status_code == 201
    items = response.json()["items"]
    assert [v["id"] for v in items] == sorted([a["id"], b["id"]])
    assert all(v["enrolled_count"] == 1 and v["enrolled_at"].endswith("Z") for v in items)


async def test_enroll_unknown_student_is_404_even_with_a_bad_body(
    client: httpx.AsyncClient,
) -> None:
    assert_problem(await client.post(f"/students/{BIG}/courses", json={"course_ids": [1]}), 404)
    assert_problem(await client.post(f"/students/{BIG}/courses", json={"course_ids": []}), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"course_ids": []},
        {"course_ids": list(range(1, 52))},
        {"course_ids": [0]},
        {"course_ids": ["1"]},
        {"course_ids": [1.5]},
        {"course_ids": [1], "extra": True},
        {},
    ],
)
async def test_enroll_rejects_invalid_shape(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    student = await make_student(client)
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    assert_problem(response, 422, "validation-error")


async def test_enroll_rejects_repeated_ids_before_unknown_courses(
    client: httpx.AsyncClient,
) -> None:
    student = await make_student(client)
    course = await make_course(client)
    body = {"course_ids": [course["id"], BIG, course["id"]]}  # a repeat, and an unknown course
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    problem = assert_problem(response, 422)
    assert pointers(problem) == ["/course_ids"]  # the repeat's, not /course_ids/1's
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 0


@pytest.mark.parametrize("invalid", ["unknown", "repeated"])
async def test_an_invalid_list_answers_422_before_held_or_full_courses_answer_409(
    client: httpx.AsyncClient, invalid: str
) -> None:
    student = await make_student(client)
    held, full = await make_course(client), await make_course(client, capacity=1)
    assert (await client.put(f"/students/{student['id']}/courses/{held['id']}")).status_code == 201
    taker = await make_student(client)
    assert (await client.put(f"/students/{taker['id']}/courses/{full['id']}")).status_code == 201
    other = await make_course(client)
    last = BIG if invalid == "unknown" else other["id"]
    body = {"course_ids": [held["id"], full["id"], other["id"], last]}
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    problem = assert_problem(response, 422)
    assert pointers(problem) == (["/course_ids/3"] if invalid == "unknown" else ["/course_ids"])
    courses = (await client.get(f"/students/{student['id']}")).json()["courses"]
    assert [course["id"] for course in courses] == [held["id"]]


async def test_enroll_names_each_unknown_course_and_enrolls_nothing(
    client: httpx.AsyncClient,
) -> None:
    student = await make_student(client)
    course = await make_course(client)
    body = {"course_ids": [course["id"], BIG, BIG - 1]}
    problem = assert_problem(
        await client.post(f"/students/{student['id']}/courses", json=body), 422
    )
    assert pointers(problem) == ["/course_ids/1", "/course_ids/2"]
    assert (await client.get(f"/students/{student['id']}")).json()["courses"] == []


async def test_enroll_names_each_already_enrolled_course_and_enrolls_nothing(
    client: httpx.AsyncClient,
) -> None:
    student = await make_student(client)
    a, b, c = [await make_course(client) for _ in range(3)]
    await client.post(f"/students/{student['id']}/courses", json={"course_ids": [a["id"], b["id"]]})
    body = {"course_ids": [c["id"], b["id"], a["id"]]}
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    problem = assert_problem(response, 409, "already-enrolled")
    assert problem["course_ids"] == sorted([a["id"], b["id"]])
    assert (await client.get(f"/courses/{c['id']}")).json()["enrolled_count"] == 0


async def test_enroll_names_each_full_course_and_enrolls_nothing(
    client: httpx.AsyncClient,
) -> None:
    student, other = await make_student(client), await make_student(client)
    full_a, full_b = await make_course(client, capacity=0), await make_course(client, capacity=1)
    open_course = await make_course(client)
    await client.put(f"/students/{other['id']}/courses/{full_b['id']}")
    body = {"course_ids": [open_course["id"], full_b["id"], full_a["id"]]}
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    problem = assert_problem(response, 409, "course-full")
    assert problem["course_ids"] == sorted([full_a["id"], full_b["id"]])
    assert (await client.get(f"/courses/{open_course['id']}")).json()["enrolled_count"] == 0


async def test_enroll_already_enrolled_answers_before_full(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    mine = await make_course(client)
    full = await make_course(client, capacity=0)
    await client.put(f"/students/{student['id']}/courses/{mine['id']}")
    body = {"course_ids": [full["id"], mine["id"]]}
    response = await client.post(f"/students/{student['id']}/courses", json=body)
    assert_problem(response, 409, "already-enrolled")


async def test_put_enrollment_is_201_then_200(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    course = await make_course(client, capacity=1)
    path = f"/students/{student['id']}/courses/{course['id']}"
    first = await client.put(path)
    again = await client.put(path)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json() == again.json()
    assert again.json()["enrolled_count"] == 1


async def test_put_enrollment_errors(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    full = await make_course(client, capacity=0)
    assert_problem(await client.put(f"/students/{BIG}/courses/{full['id']}"), 404)
    assert_problem(await client.put(f"/students/{student['id']}/courses/{BIG}"), 404)
    response = await client.put(f"/students/{student['id']}/courses/{full['id']}")
    assert_problem(response, 409, "course-full")


async def test_list_student_courses_pages_views(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    courses = [await make_course(client) for _ in range(3)]
    ids = [c["id"] for c in courses]
    await client.post(f"/students/{student['id']}/courses", json={"course_ids": ids})
    first = (await client.get(f"/students/{student['id']}/courses", params={"limit": 2})).json()
    assert [v["id"] for v in first["items"]] == ids[:2]
    rest = (
        await client.get(
            f"/students/{student['id']}/courses", params={"cursor": first["next_cursor"]}
        )
    ).json()
    assert [v["id"] for v in rest["items"]] == ids[2:]
    assert rest["next_cursor"] is None
    assert "enrolled_at" in rest["items"][0]


async def test_list_student_courses_errors(client: httpx.AsyncClient) -> None:
    student = await make_student(client)
    assert_problem(await client.get(f"/students/{BIG}/courses"), 404)
    response = await client.get(f"/students/{student['id']}/courses", params={"cursor": "x"})
    assert_problem(response, 422)


async def test_unenroll_frees_the_seat_and_then_is_404(client: httpx.AsyncClient) -> None:
    student, other = await make_student(client), await make_student(client)
    course = await make_course(client, capacity=1)
    path = f"/students/{student['id']}/courses/{course['id']}"
    await client.put(path)
    assert (await client.delete(path)).status_code == 204
    assert (await client.get(f"/courses/{course['id']}")).json()["enrolled_count"] == 0
    assert_problem(await client.delete(path), 404)
    # The freed seat can be taken.
    assert (await client.put(f"/students/{other['id']}/courses/{course['id']}")).status_code == 201


async def test_list_course_students_includes_enrolled_at(client: httpx.AsyncClient) -> None:
    a, b = await make_student(client), await make_student(client)
    course = await make_course(client)
    for student in (b, a):
        await client.put(f"/students/{student['id']}/courses/{course['id']}")
    page = (await client.get(f"/courses/{course['id']}/students")).json()
    assert [s["id"] for s in page["items"]] == sorted([a["id"], b["id"]])
    assert {k: page["items"][0][k] for k in a} == min(a, b, key=lambda s: s["id"])
    assert page["items"][0]["enrolled_at"].endswith("Z")
    assert_problem(await client.get(f"/courses/{BIG}/students"), 404)


async def test_nul_in_a_query_filter_is_422(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/students", params={"email": "a\x00@b.co"}), 422)
    assert pointers(problem) == ["email"]
    assert_problem(await client.get("/courses", params={"code": "\x00"}), 422)


async def test_empty_pages_are_empty_not_404(client: httpx.AsyncClient) -> None:
    student, course = await make_student(client), await make_course(client)
    empty: dict[str, object] = {"items": [], "next_cursor": None}
    assert (await client.get(f"/students/{student['id']}/courses")).json() == empty
    assert (await client.get(f"/courses/{course['id']}/students")).json() == empty
