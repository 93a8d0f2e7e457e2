"""Log lines: JSON with ts, level, event and request_id; one line per enrollment, drop,
completion and refused enrollment; one access line per request; never a key or a body."""

import json
import logging
from typing import Any

import httpx
import pytest

from service.plumbing.log_format import TextFormatter
from tests.api.conftest import LogLines, events
from tests.conftest import make_course, make_student


async def test_enrollment_lines_carry_who_what_and_the_request_id(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    student = await make_student(client)
    course, full = await make_course(client), await make_course(client, capacity=0)
    headers = {"X-Actor": "registrar-ui", "X-Request-ID": "req-enroll-1"}
    path = f"/students/{student['id']}/courses"
    await client.post(path, json={"course_ids": [course["id"]]}, headers=headers)
    await client.post(path, json={"course_ids": [full["id"]]}, headers=headers)
    await client.delete(f"{path}/{course['id']}", headers=headers)
    await client.put(f"{path}/{course['id']}", headers=headers)
    await client.patch(f"{path}/{course['id']}", json={"status": "completed"}, headers=headers)

    lines = log_lines()
    created, _again = events(lines, "enrollment.created")
    (rejected,) = events(lines, "enrollment.rejected")
    (dropped,) = events(lines, "enrollment.dropped")
    (completed,) = events(lines, "enrollment.completed")
    for line, course_id in (
        (created, course["id"]),
        (rejected, full["id"]),
        (dropped, course["id"]),
        (completed, course["id"]),
    ):
        assert line["level"] == "info"
        assert line["student_id"] == student["id"]
        assert line["course_ids"] == [course_id]
        assert line["actor"] == "registrar-ui"
        assert line["request_id"] == "req-enroll-1"
        assert line["ts"].endswith("Z")
    assert rejected["reason"] == "full"


async def test_a_drop_by_delete_or_patch_logs_enrollment_dropped_as_the_contract_names_it(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    """API.md v1.1: a drop logs `enrollment.dropped`; v1's `enrollment.deleted` is retired.
    The names are the contract's, written out here, not taken from the code."""
    student, course = await make_student(client), await make_course(client)
    pair = f"/students/{student['id']}/courses/{course['id']}"
    assert (await client.put(pair)).status_code == 201
    assert (await client.delete(pair)).status_code == 204
    assert (await client.put(pair)).status_code == 201
    dropped = await client.patch(pair, json={"status": "dropped"})
    assert dropped.status_code == 200
    lines = [line for line in log_lines() if line.get("student_id") == student["id"]]
    names = [line["event"] for line in lines if line["event"].startswith("enrollment.")]
    assert names == [
        "enrollment.created",
        "enrollment.dropped",
        "enrollment.created",
        "enrollment.dropped",
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"course_ids": [2**62]}, "unknown_course"),
        ({"course_ids": []}, "invalid_body"),
    ],
)
async def test_every_refused_enrollment_logs_its_reason(
    client: httpx.AsyncClient, log_lines: LogLines, body: dict[str, Any], reason: str
) -> None:
    student = await make_student(client)
    await client.post(f"/students/{student['id']}/courses", json=body)
    (line,) = events(log_lines(), "enrollment.rejected")
    assert line["reason"] == reason
    assert line["actor"] == "anonymous"


async def test_already_enrolled_is_a_reason_and_unknown_student_too(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    student, course = await make_student(client), await make_course(client)
    await client.put(f"/students/{student['id']}/courses/{course['id']}")
    await client.post(f"/students/{student['id']}/courses", json={"course_ids": [course["id"]]})
    await client.put(f"/students/{2**62}/courses/{course['id']}")
    reasons = [line["reason"] for line in events(log_lines(), "enrollment.rejected")]
    assert reasons == ["already_enrolled", "not_found"]


async def test_one_access_line_per_request_with_route_template(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    response = await client.get("/students/123456789")
    (line,) = events(log_lines(), "http.request")
    assert line["method"] == "GET"
    assert line["route"] == "/students/{student_id}"
    assert line["status"] == 404
    assert line["duration_ms"] >= 0
    assert line["request_id"] == response.headers["x-request-id"]


async def test_logs_hold_no_body(client: httpx.AsyncClient, log_lines: LogLines) -> None:
    student = await make_student(client, first_name="Secretive")
    assert student["first_name"] == "Secretive"
    everything = json.dumps(log_lines())
    assert "Secretive" not in everything
    assert student["email"] not in everything


def test_text_format_is_one_line_for_humans() -> None:
    record = logging.makeLogRecord(
        {"msg": "enrollment.created", "levelname": "INFO", "student_id": 7, "name": "x"}
    )
    line = TextFormatter().format(record)
    assert "INFO" in line
    assert "enrollment.created" in line
    assert "student_id=7" in line
    assert "\n" not in line


async def test_access_line_names_the_route_of_a_replayed_response(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    student = await make_student(client)
    body = {"first_name": "R", "last_name": "P", "email": f"replay-{student['id']}@example.edu"}
    headers = {"Idempotency-Key": f"route-{student['id']}"}
    await client.post("/students", json=body, headers=headers)
    await client.post("/students", json=body, headers=headers)  # replayed
    routes = [line["route"] for line in events(log_lines(), "http.request")]
    assert routes[-2:] == ["/students", "/students"]
