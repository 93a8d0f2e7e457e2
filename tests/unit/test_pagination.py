"""Cursor encoding and paging parameters."""

import pytest
from starlette.datastructures import QueryParams

from service.pagination import (
    MAX_ID,
    PageRequest,
    decode_cursor,
    encode_cursor,
    page_of,
    parse_page_request,
)
from service.problems import ValidationFailed


@pytest.mark.parametrize("last_id", [1, 9, 10, 123456789, MAX_ID])
def test_cursor_round_trips(last_id: int) -> None:
    cursor = encode_cursor(last_id)
    assert cursor.isascii()
    assert "=" not in cursor
    assert decode_cursor(cursor) == last_id


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "YWZ0ZXI6",  # "after:"
        "YWZ0ZXI6LTE",  # "after:-1"
        "YWZ0ZXI6MDE",  # "after:01"
        "YWZ0ZXI6MA",  # "after:0": no id is 0
        "YmVmb3JlOjE",  # "before:1"
        encode_cursor(5) + "=",
        "YWZ0ZXI6OTIyMzM3MjAzNjg1NDc3NTgwOA",  # "after:" + 2**63
        "//79",  # not UTF-8
    ],
)
def test_cursor_that_this_service_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)


@pytest.mark.parametrize("position", [0, 1, MAX_ID])
def test_a_cursor_of_another_kind_round_trips_and_is_not_taken_for_a_collections(
    position: int,
) -> None:
    cursor = encode_cursor(position, "change:")
    assert decode_cursor(cursor, "change:", minimum=0) == position
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)


def test_page_request_defaults() -> None:
    assert parse_page_request(QueryParams("")) == PageRequest(limit=50, after_id=0)


def test_page_request_reads_limit_and_cursor() -> None:
    query = QueryParams({"limit": "200", "cursor": encode_cursor(42)})
    assert parse_page_request(query) == PageRequest(limit=200, after_id=42)


def test_page_request_names_every_bad_parameter() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_page_request(QueryParams({"limit": "-3", "cursor": "zzz"}))
    errors = caught.value.extensions["errors"]
    assert [e["parameter"] for e in errors] == ["limit", "cursor"]


@pytest.mark.parametrize("limit", ["0", "201", "1.5", "", "٣"])
def test_page_request_refuses_limits_out_of_range(limit: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_page_request(QueryParams({"limit": limit}))


def test_page_of_uses_the_extra_row_only_to_say_more_exist() -> None:
    rows = [{"id": i} for i in (3, 5, 8)]
    assert page_of(rows, PageRequest(limit=2)) == {
        "items": rows[:2],
        "next_cursor": encode_cursor(5),
    }
    assert page_of(rows, PageRequest(limit=3)) == {"items": rows, "next_cursor": None}
