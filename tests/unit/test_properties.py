"""Properties over generated input: the cursor codec and the body validators either accept
or refuse with the problem the contract names, never anything else."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from service.pagination import MAX_ID, PageRequest, decode_cursor, encode_cursor, parse_page_request
from service.problems import BadRequest, ValidationFailed
from service.schemas.courses import CourseCreate, CourseUpdate
from service.schemas.enrollments import EnrollmentCreate
from service.schemas.students import StudentCreate, StudentUpdate
from service.web import validate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    ["first_name", "last_name", "email", "code", "title", "capacity", "course_ids", "id", "x"]
)
bodies = st.dictionaries(field_names, json_values, max_size=6) | json_values


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_every_id_round_trips_through_a_cursor(last_id: int) -> None:
    assert decode_cursor(encode_cursor(last_id)) == last_id


@given(st.text())
def test_any_cursor_string_decodes_to_an_id_or_is_refused(cursor: str) -> None:
    try:
        last_id = decode_cursor(cursor)
    except ValueError:
        return
    assert 1 <= last_id <= MAX_ID
    assert encode_cursor(last_id) == cursor


@given(st.text(), st.text())
def test_any_paging_parameters_parse_or_give_422(limit: str, cursor: str) -> None:
    try:
        page = parse_page_request(QueryParams({"limit": limit, "cursor": cursor}))
    except ValidationFailed as problem:
        assert problem.status == 422
        assert {e["parameter"] for e in problem.extensions["errors"]} <= {"limit", "cursor"}
        return
    assert isinstance(page, PageRequest)
    assert 1 <= page.limit <= 200


@given(
    st.sampled_from([StudentCreate, StudentUpdate, CourseCreate, CourseUpdate, EnrollmentCreate]),
    bodies,
)
def test_any_body_validates_or_gives_400_or_422_with_pointers(model: Any, body: Any) -> None:
    try:
        validate(model, body)
    except BadRequest:
        assert not isinstance(body, dict)
    except ValidationFailed as problem:
        for error in problem.extensions["errors"]:
            assert error["pointer"].startswith("/")
            assert error["detail"]
