"""OneRoster 1.2 (API.md v1.3) over HTTP, on a database of its own so that counts are exact:
every answer checked against the binding's required fields, types and enums
(service/oneroster/discovery.py's schemas); paging, sort, fields, the filter language,
tombstones, and the binding's errors."""

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from asgi_lifespan import LifespanManager
from jsonschema import Draft202012Validator

from service.app import create_app
from service.config import Settings
from service.migrations import apply_migrations
from service.oneroster import BASE_PATH
from service.oneroster.discovery import SCHEMAS, answer_schema
from tests.support.postgres import scratch_database

ROSTER = "http://test" + BASE_PATH
COLLECTIONS = {  # path: (type, answer key)
    "/users": ("user", "users"),
    "/students": ("user", "users"),
    "/teachers": ("user", "users"),
    "/classes": ("class", "classes"),
    "/courses": ("course", "courses"),
    "/enrollments": ("enrollment", "enrollments"),
    "/orgs": ("org", "orgs"),
    "/schools": ("org", "orgs"),
    "/academicSessions": ("academicSession", "academicSessions"),
    "/terms": ("academicSession", "academicSessions"),
    "/gradingPeriods": ("academicSession", "academicSessions"),
    "/demographics": ("demographics", "demographics"),
}


def conforms(kind: str, key: str, many: bool, body: Any) -> None:
    schema = {**answer_schema(kind, key, many), "components": {"schemas": SCHEMAS}}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == []


def status_info(response: httpx.Response, status: int, code_minor: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    conforms_to_status_info(body)
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    field = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    assert field["imsx_codeMinorFieldName"] == "TargetEndSystem"
    assert field["imsx_codeMinorFieldValue"] == code_minor
    return body


def conforms_to_status_info(body: Any) -> None:
    errors = list(Draft202012Validator(SCHEMAS["imsx_StatusInfo"]).iter_errors(body))
    assert errors == []


@pytest.fixture(scope="module")
def roster_database(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "oneroster_test") as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="module")
async def api(roster_database: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=roster_database))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture(scope="module")
async def roster(api: httpx.AsyncClient) -> dict[str, Any]:
    """Five students (one with an external id holding a slash), two courses; three seats
    taken, one dropped, one completed, one waitlisted."""
    names = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]
    students = []
    for first, last in names:
        body = {"first_name": first, "last_name": last, "email": f"{first.lower()}@example.edu"}
        students.append((await api.post("/students", json=body)).json())
    body = {"first_name": "Barbara", "last_name": "O'Liskov", "email": "barbara@example.edu"}
    students.append((await api.post("/students", json={**body, "external_id": "sis/5"})).json())
    algebra = (
        await api.post("/courses", json={"code": "ALG", "title": "Algebra", "capacity": 3})
    ).json()
    biology = (
        await api.post(
            "/courses",
            json={"code": "BIO", "title": "Biology", "capacity": 1, "waitlist_capacity": 5},
        )
    ).json()
    for student in students[:3]:
        await api.put(f"/students/{student['id']}/courses/{algebra['id']}")
    await api.put(f"/students/{students[3]['id']}/courses/{biology['id']}")
    await api.put(f"/students/{students[4]['id']}/courses/{biology['id']}")  # waitlisted
    pair = f"/students/{students[1]['id']}/courses/{algebra['id']}"
    assert (await api.patch(pair, json={"status": "dropped"})).status_code == 200
    pair = f"/students/{students[2]['id']}/courses/{algebra['id']}"
    assert (await api.patch(pair, json={"status": "completed"})).status_code == 200
    return {"students": students, "algebra": algebra, "biology": biology}


async def get(api: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await api.get(BASE_PATH + path, params=params)


@pytest.mark.parametrize("path", list(COLLECTIONS))
async def test_every_collection_answers_in_the_bindings_shape(
    api: httpx.AsyncClient, roster: dict[str, Any], path: str
) -> None:
    response = await get(api, path)
    assert response.status_code == 200, response.text
    kind, key = COLLECTIONS[path]
    conforms(kind, key, True, response.json())
    assert int(response.headers["x-total-count"]) == len(response.json()[key])


async def test_a_student_is_a_user_with_the_role_student_at_the_school(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    ada = roster["students"][0]
    response = await get(api, f"/users/student-{ada['id']}")
    conforms("user", "user", False, response.json())
    user = response.json()["user"]
    assert user["sourcedId"] == f"student-{ada['id']}"
    assert (user["givenName"], user["familyName"], user["email"]) == (
        "Ada",
        "Lovelace",
        "ada@example.edu",
    )
    assert user["enabledUser"] == "true"
    assert user["status"] == "active"
    assert user["roles"] == [
        {
            "roleType": "primary",
            "role": "student",
            "org": {"href": f"{ROSTER}/schools/school", "sourcedId": "school", "type": "org"},
        }
    ]
    assert user["dateLastModified"] == ada["updated_at"]
    same = (await get(api, f"/students/student-{ada['id']}")).json()["user"]
    assert same == user


async def test_an_external_id_is_the_sourced_id_even_with_a_slash(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    response = await api.get(f"{BASE_PATH}/users/{quote('sis/5', safe='')}")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["sourcedId"] == "sis/5"


async def test_a_course_is_both_a_class_and_a_course_under_one_sourced_id(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    algebra = roster["algebra"]
    sourced_id = f"course-{algebra['id']}"
    a_class = (await get(api, f"/classes/{sourced_id}")).json()
    conforms("class", "class", False, a_class)
    shown = a_class["class"]
    assert (shown["title"], shown["classCode"], shown["classType"]) == (
        "Algebra",
        "ALG",
        "scheduled",
    )
    assert shown["course"] == {
        "href": f"{ROSTER}/courses/{sourced_id}",
        "sourcedId": sourced_id,
        "type": "course",
    }
    term = (await get(api, "/terms")).json()["academicSessions"][0]
    assert shown["terms"] == [
        {
            "href": f"{ROSTER}/terms/{term['sourcedId']}",
            "sourcedId": term["sourcedId"],
            "type": "academicSession",
        }
    ]
    assert shown["metadata"] == {
        "capacity": 3,
        "enrolledCount": 1,  # one enrolled; one dropped, one completed
        "waitlistCapacity": 0,
        "waitlistedCount": 0,
    }
    course = (await get(api, f"/courses/{sourced_id}")).json()
    conforms("course", "course", False, course)
    assert (course["course"]["title"], course["course"]["courseCode"]) == ("Algebra", "ALG")


async def test_enrollments_show_seats_dropped_ones_to_be_deleted_and_no_waitlist(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    students, algebra, biology = roster["students"], roster["algebra"], roster["biology"]
    shown = (await get(api, "/enrollments")).json()["enrollments"]
    by_id = {e["sourcedId"]: e for e in shown}
    ada, grace, alan, edsger, barbara = (s["id"] for s in students)
    assert by_id[f"enrollment-{ada}-{algebra['id']}"]["status"] == "active"
    assert by_id[f"enrollment-{grace}-{algebra['id']}"]["status"] == "tobedeleted"
    completed = by_id[f"enrollment-{alan}-{algebra['id']}"]
    assert completed["status"] == "active"
    assert completed["endDate"] == completed["dateLastModified"][:10]
    assert f"enrollment-{barbara}-{biology['id']}" not in by_id  # waitlisted
    one = by_id[f"enrollment-{edsger}-{biology['id']}"]
    assert one["role"] == "student"
    assert one["user"]["sourcedId"] == f"student-{edsger}"
    assert one["class"]["sourcedId"] == f"course-{biology['id']}"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", one["beginDate"])
    single = (await get(api, f"/enrollments/{one['sourcedId']}")).json()
    conforms("enrollment", "enrollment", False, single)
    assert single["enrollment"] == one


async def test_the_school_and_the_term_come_from_configuration(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    school = (await get(api, "/schools/school")).json()
    conforms("org", "org", False, school)
    assert school["org"]["type"] == "school"
    terms = (await get(api, "/terms")).json()["academicSessions"]
    assert [t["type"] for t in terms] == ["term"]
    assert (await get(api, f"/academicSessions/{terms[0]['sourcedId']}")).status_code == 200


async def test_paging_has_totals_links_and_neither_repeats_nor_skips(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    everyone = (await get(api, "/users")).json()["users"]
    seen: list[str] = []
    for offset in range(0, 6, 2):
        response = await get(api, "/users", limit=2, offset=offset)
        assert response.headers["x-total-count"] == str(len(everyone))
        links = dict(
            (rel, url)
            for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["link"])
        )
        assert "offset=0" in links["first"]
        assert f"offset={(len(everyone) - 1) // 2 * 2}" in links["last"]
        assert ("prev" in links) == (offset > 0)
        assert ("next" in links) == (offset + 2 < len(everyone))
        seen += [u["sourcedId"] for u in response.json()["users"]]
    assert seen == [u["sourcedId"] for u in everyone]
    assert seen == sorted(seen)


async def test_pages_read_in_order_and_pages_jumped_to_agree(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    # A shape no test read before: each jump misses the resume points (OFFSET); then the
    # pages in order each resume where the one before ended (keyset).
    shape = {"sort": "email", "orderBy": "desc", "limit": 2}
    jumped = [(await get(api, "/users", offset=o, **shape)).json()["users"] for o in (4, 2, 0)]
    in_order = [(await get(api, "/users", offset=o, **shape)).json()["users"] for o in (0, 2, 4)]
    assert in_order == jumped[::-1]
    emails = [u["email"] for page in in_order for u in page]
    assert emails == sorted(emails, reverse=True)


async def test_a_limit_over_1000_is_cut_to_1000(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    response = await get(api, "/users", limit=5000)
    assert response.status_code == 200
    assert "limit=1000" in response.headers["link"]


async def test_sort_both_ways_is_total(api: httpx.AsyncClient, roster: dict[str, Any]) -> None:
    up = (await get(api, "/users", sort="familyName")).json()["users"]
    down = (await get(api, "/users", sort="familyName", orderBy="desc")).json()["users"]
    assert [u["familyName"] for u in up] == sorted(u["familyName"] for u in up)
    assert down == up[::-1]


async def test_fields_select_top_level_fields(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    users = (await get(api, "/users", fields="sourcedId,givenName")).json()["users"]
    assert {tuple(u) for u in users} == {("sourcedId", "givenName")}
    repeated = await api.get(
        BASE_PATH + "/users", params=[("fields", "sourcedId"), ("fields", "email")]
    )
    assert {tuple(u) for u in repeated.json()["users"]} == {("sourcedId", "email")}
    status_info(
        await get(api, "/users", fields="sourcedId,password"), 400, "invalid_selection_field"
    )


@pytest.mark.parametrize(
    ("filter_text", "given_names"),
    [
        ("givenName='Ada'", {"Ada"}),
        ("givenName!='Ada'", {"Grace", "Alan", "Edsger", "Barbara"}),
        ("familyName>'Lovelace'", {"Barbara", "Alan"}),
        ("familyName>='Lovelace'", {"Ada", "Barbara", "Alan"}),
        ("familyName<'Hopper'", {"Edsger"}),
        ("familyName<='Hopper'", {"Edsger", "Grace"}),
        ("email~'GRACE'", {"Grace"}),
        ("givenName='Ada' OR givenName='Alan'", {"Ada", "Alan"}),
        ("givenName~'a' AND familyName~'o'", {"Ada", "Grace", "Barbara"}),
        ("familyName='O''Liskov'", {"Barbara"}),
        ("sourcedId='sis/5'", {"Barbara"}),
        ("status='tobedeleted'", set()),
    ],
)
async def test_each_predicate_filters(
    api: httpx.AsyncClient, roster: dict[str, Any], filter_text: str, given_names: set[str]
) -> None:
    response = await get(api, "/users", filter=filter_text)
    assert response.status_code == 200, response.text
    assert {u["givenName"] for u in response.json()["users"]} == given_names
    assert response.headers["x-total-count"] == str(len(given_names))


@pytest.mark.parametrize(
    "filter_text",
    [
        "givenName='x' OR '1'='1'",  # a literal in place of a field
        "givenName='x'' OR ''1''=''1",  # the quote smuggled: an unclosed value
        "password='x'",  # not a field of users
        "givenName='" + "a" * 251 + "'",
        "givenName='a' AND familyName='b' OR email='c'",
        "givenName=Ada",
        "givenName = 'Ada'",
        "dateLastModified>'yesterday'",
        "givenName='a'; DROP TABLE students",
    ],
)
async def test_a_bad_filter_is_invalid_filter_field(
    api: httpx.AsyncClient, roster: dict[str, Any], filter_text: str
) -> None:
    status_info(await get(api, "/users", filter=filter_text), 400, "invalid_filter_field")


async def test_a_smuggled_quote_is_a_value_not_sql(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    # The doubled quotes are part of the value: nobody is named that.
    response = await get(api, "/users", filter="givenName='x'' OR ''1''=''1'")
    assert response.status_code == 200
    assert response.json()["users"] == []


async def test_or_inside_a_relationship_collection_stays_inside_it(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    algebra = f"course-{roster['algebra']['id']}"
    everyone = await get(api, f"/classes/{algebra}/students")
    # Ada is enrolled and Alan completed; Grace dropped; Edsger is in another class.
    assert {u["givenName"] for u in everyone.json()["users"]} == {"Ada", "Alan"}
    widened = await get(
        api, f"/classes/{algebra}/students", filter="givenName='Ada' OR givenName='Edsger'"
    )
    assert {u["givenName"] for u in widened.json()["users"]} == {"Ada"}
    assert widened.headers["x-total-count"] == "1"


async def test_relationship_collections(api: httpx.AsyncClient, roster: dict[str, Any]) -> None:
    students, algebra = roster["students"], f"course-{roster['algebra']['id']}"
    ada = f"student-{students[0]['id']}"
    classes = (await get(api, f"/users/{ada}/classes")).json()["classes"]
    assert [c["sourcedId"] for c in classes] == [algebra]
    assert (await get(api, f"/students/{ada}/classes")).json()["classes"] == classes
    assert [
        c["sourcedId"] for c in (await get(api, f"/courses/{algebra}/classes")).json()["classes"]
    ] == [algebra]
    enrollments = (await get(api, f"/schools/school/classes/{algebra}/enrollments")).json()
    assert len(enrollments["enrollments"]) == 3  # enrolled, dropped (tobedeleted), completed
    for path in (
        f"/classes/{algebra}/teachers",
        "/schools/school/teachers",
        f"/schools/school/classes/{algebra}/teachers",
    ):
        assert (await get(api, path)).json()["users"] == []
    term = (await get(api, "/terms")).json()["academicSessions"][0]["sourcedId"]
    assert len((await get(api, f"/terms/{term}/classes")).json()["classes"]) == 2
    assert (await get(api, f"/terms/{term}/gradingPeriods")).json()["academicSessions"] == []
    for path, key in (
        ("/schools/school/classes", "classes"),
        ("/schools/school/courses", "courses"),
        ("/schools/school/students", "users"),
        ("/schools/school/terms", "academicSessions"),
        ("/schools/school/enrollments", "enrollments"),
        (f"/schools/school/classes/{algebra}/students", "users"),
    ):
        response = await get(api, path)
        assert response.status_code == 200, path
        assert response.json()[key], path


@pytest.mark.parametrize(
    "path",
    [
        "/users/student-999999",
        "/users/nobody",
        "/teachers/anyone",
        "/classes/course-999999",
        "/courses/nope",
        "/enrollments/enrollment-1-999999",
        "/enrollments/not-an-enrollment",
        "/orgs/elsewhere",
        "/terms/another",
        "/gradingPeriods/any",
        "/demographics/any",
        "/classes/course-999999/students",
        "/users/nobody/classes",
        "/teachers/anyone/classes",
        "/schools/elsewhere/classes",
        "/terms/another/classes",
        "/schools/school/classes/course-999999/enrollments",
    ],
)
async def test_an_unknown_sourced_id_or_parent_is_unknownobject(
    api: httpx.AsyncClient, roster: dict[str, Any], path: str
) -> None:
    status_info(await get(api, path), 404, "unknownobject")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "ten"},
        {"offset": "-1"},
        {"sort": "password"},
        {"sort": "roles"},
        {"orderBy": "sideways"},
    ],
)
async def test_bad_paging_is_invaliddata(
    api: httpx.AsyncClient, roster: dict[str, Any], params: dict[str, str]
) -> None:
    status_info(await get(api, "/users", **params), 400, "invaliddata")


async def test_deletions_reach_a_delta_sync_as_tobedeleted(
    api: httpx.AsyncClient, roster: dict[str, Any]
) -> None:
    body = {"first_name": "Temp", "last_name": "Orary", "email": "temp@example.edu"}
    temp = (await api.post("/students", json={**body, "external_id": "sis-temp"})).json()
    course = (await api.post("/courses", json={"code": "TMP", "title": "Temp"})).json()
    assert (await api.put(f"/students/{temp['id']}/courses/{course['id']}")).status_code == 201
    since = (await get(api, "/users/sis-temp")).json()["user"]["dateLastModified"]
    assert (await api.delete(f"/students/{temp['id']}")).status_code == 204
    assert (await api.delete(f"/courses/{course['id']}")).status_code == 204
    delta = f"dateLastModified>'{since}'"
    users = (await get(api, "/users", filter=delta)).json()["users"]
    gone = next(u for u in users if u["sourcedId"] == "sis-temp")
    assert gone["status"] == "tobedeleted"
    assert (gone["givenName"], gone["familyName"]) == ("Temp", "Orary")  # as it last was
    assert gone["dateLastModified"] > since
    conforms("user", "users", True, {"users": users})
    classes = (await get(api, "/classes", filter=delta)).json()["classes"]
    assert [(c["sourcedId"], c["status"]) for c in classes] == [
        (f"course-{course['id']}", "tobedeleted")
    ]
    enrollments = (await get(api, "/enrollments", filter=delta)).json()["enrollments"]
    assert [(e["sourcedId"], e["status"]) for e in enrollments] == [
        (f"enrollment-{temp['id']}-{course['id']}", "tobedeleted")
    ]
    single = (await get(api, "/users/sis-temp")).json()["user"]
    assert single["status"] == "tobedeleted"
    active = (await get(api, "/users", filter="status='active'")).json()["users"]
    assert "sis-temp" not in {u["sourcedId"] for u in active}


async def test_the_discovery_document_describes_every_endpoint_at_this_url(
    api: httpx.AsyncClient,
) -> None:
    response = await get(api, "/discovery/onerosterv1p2rostersservice_openapi3_v1p0.json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": ROSTER}]
    assert "/classes/{class}/students" in document["paths"]
    assert len(document["paths"]) == 41
