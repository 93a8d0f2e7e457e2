"""Request body validation, and how its failures become JSON pointers."""

from typing import Any

import pytest

from service.problems import BadRequest, ValidationFailed
from service.schemas.courses import CourseCreate, CourseUpdate
from service.schemas.enrollments import EnrollmentCreate
from service.schemas.students import StudentCreate, StudentUpdate
from service.web import validate


def errors_of(model: Any, payload: object) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        validate(model, payload)
    errors: list[dict[str, str]] = caught.value.extensions["errors"]
    return errors


def test_student_names_and_email_are_trimmed() -> None:
    body = validate(StudentCreate, {"first_name": " Ada ", "last_name": "L", "email": " a@b.co "})
    assert (body.first_name, body.email) == ("Ada", "a@b.co")


def test_every_failing_field_is_named_by_pointer() -> None:
    errors = errors_of(StudentCreate, {"first_name": "", "email": "nope", "x": 1})
    assert sorted(e["pointer"] for e in errors) == ["/email", "/first_name", "/last_name", "/x"]
    assert all(e["detail"] for e in errors)


@pytest.mark.parametrize("email", ["a@b", "a b@c.de", "@b.co", "a@@b.co", "a@b.co" + "m" * 250])
def test_email_must_look_like_an_address(email: str) -> None:
    payload = {"first_name": "A", "last_name": "B", "email": email}
    assert [e["pointer"] for e in errors_of(StudentCreate, payload)] == ["/email"]


def test_patch_refuses_null_but_keeps_absent_fields_absent() -> None:
    assert validate(StudentUpdate, {"last_name": "X"}).changes() == {"last_name": "X"}
    assert validate(StudentUpdate, {}).changes() == {}
    assert errors_of(StudentUpdate, {"email": None})[0]["detail"] == "must not be null"


def test_course_capacity_may_be_null_only_where_it_means_no_limit() -> None:
    assert validate(CourseUpdate, {"capacity": None}).changes() == {"capacity": None}
    assert validate(CourseCreate, {"code": "A-1_b.c", "title": "T"}).capacity is None
    assert [e["pointer"] for e in errors_of(CourseUpdate, {"code": None})] == ["/code"]


@pytest.mark.parametrize("capacity", [-1, 100_001, 2.0, "3", True])
def test_course_capacity_is_a_whole_number_in_range(capacity: object) -> None:
    errors = errors_of(CourseCreate, {"code": "A", "title": "T", "capacity": capacity})
    assert [e["pointer"] for e in errors] == ["/capacity"]


def test_course_ids_repeat_is_named() -> None:
    (error,) = errors_of(EnrollmentCreate, {"course_ids": [3, 4, 3]})
    assert error["pointer"] == "/course_ids"
    assert "[3]" in error["detail"]


def test_course_ids_element_errors_point_at_the_element() -> None:
    errors = errors_of(EnrollmentCreate, {"course_ids": [1, 0, "2"]})
    assert [e["pointer"] for e in errors] == ["/course_ids/1", "/course_ids/2"]


@pytest.mark.parametrize("payload", [[], "text", 3, None])
def test_a_body_that_is_not_an_object_is_a_bad_request(payload: object) -> None:
    with pytest.raises(BadRequest):
        validate(StudentCreate, payload)


def test_pointer_escapes_slash_and_tilde() -> None:
    (error,) = errors_of(CourseUpdate, {"a/b~c": 1})
    assert error["pointer"] == "/a~1b~0c"


def test_nul_characters_are_refused_in_any_text_field() -> None:
    errors = errors_of(StudentCreate, {"first_name": "A\x00", "last_name": "B", "email": "a@b.co"})
    assert [e["pointer"] for e in errors] == ["/first_name"]
    assert [e["pointer"] for e in errors_of(CourseUpdate, {"title": "\x00"})] == ["/title"]
