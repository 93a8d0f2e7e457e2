"""The log line's own fields, formatted without the datetime module; the access line."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from service.plumbing import context
from service.plumbing.access_log import access_log
from service.plumbing.log_format import JsonFormatter, TextFormatter
from service.plumbing.logs import AccessLinesFirst


def line_for(created: float, **extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"msg": "some.event", "levelname": "INFO", **extra})
    record.created = created
    record.msecs = int((created - int(created)) * 1000)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_timestamp_is_rfc3339_utc_to_the_millisecond() -> None:
    for created in (0.0, 1_795_000_000.9999, 1_795_000_001.0005, 1_704_067_199.5):
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert line_for(created)["ts"] == expected.replace("+00:00", "Z")


def test_extra_fields_follow_the_fixed_ones_by_name() -> None:
    line = line_for(1_795_000_000.0, status=200, method="GET", route="/students")
    assert list(line) == ["ts", "level", "event", "logger", "method", "route", "status"]
    assert line["event"] == "some.event"
    assert line["status"] == 200


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every line at info and up, the access line's included, in one stream through the
    service's own JSON handler."""
    stream = io.StringIO()
    handler = AccessLinesFirst(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    writing_to = access_log.handler, access_log.render
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access_log.write_to(handler, text=False)
    yield stream
    access_log.flush()
    root.removeHandler(handler)
    root.setLevel(level)
    access_log.handler, access_log.render = writing_to


ACCESS_LINE = {
    "method": "GET",
    "route": "/students/{student_id}",
    "status": 200,
    "duration_ms": 1.25,
}
ENROLLMENT_LINE = {
    "student_id": 7,
    "course_ids": [3],
    "actor": "ui",
    "reason": "full",
    "status": 409,
}


@pytest.mark.parametrize(
    ("logger_name", "event", "extra", "write"),
    [
        (
            "service.access",
            "http.request",
            ACCESS_LINE,
            lambda: access_log.write("GET", "/students/{student_id}", 200, 1.25),
        ),
        (
            "service.enrollments",
            "enrollment.rejected",
            ENROLLMENT_LINE,
            lambda: access_log.info(
                logging.getLogger("service.enrollments"), "enrollment.rejected", ENROLLMENT_LINE
            ),
        ),
    ],
)
def test_lines_written_past_logging_are_the_lines_logging_would_write(
    log_stream: io.StringIO,
    logger_name: str,
    event: str,
    extra: dict[str, object],
    write: Callable[[], None],
) -> None:
    """AccessLog skips `logging` for speed; its lines must not differ from ones through it."""
    token = context.request_id.set("req-1")
    try:
        write()
        logging.getLogger(logger_name).info(event, extra=extra)
    finally:
        context.request_id.reset(token)
    access_log.flush()  # both were held: lines a request logs at info join the blocks
    written, via_logging = (json.loads(line) for line in log_stream.getvalue().splitlines())
    assert written.pop("ts") <= via_logging.pop("ts")
    assert list(written.items()) == list(via_logging.items())


def test_the_access_line_follows_log_format_and_level(log_stream: io.StringIO) -> None:
    access_log.write_to(logging.StreamHandler(log_stream), text=True)
    access_log.write("DELETE", "/courses/{course_id}", 204, 0.5)
    logging.getLogger().setLevel(logging.WARNING)
    access_log.write("GET", "/courses", 200, 0.5)  # an info line: not written at warning
    access_log.info(logging.getLogger("service.enrollments"), "enrollment.rejected", {})
    access_log.flush()
    (line,) = log_stream.getvalue().splitlines()
    assert line.endswith(
        " INFO    http.request duration_ms=0.5 method=DELETE route=/courses/{course_id} status=204"
    )


def test_access_lines_are_held_then_written_before_any_other_line(
    log_stream: io.StringIO,
) -> None:
    access_log.write("GET", "/courses", 200, 0.5)
    access_log.write("GET", "/students", 200, 0.5)
    assert log_stream.getvalue() == ""  # held, to be written in one go
    logging.getLogger("service.enrollments").warning("enrollment.rejected")
    events = [json.loads(line)["event"] for line in log_stream.getvalue().splitlines()]
    assert events == ["http.request", "http.request", "enrollment.rejected"]


class RecordedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_access_lines_go_out_in_blocks_of_whole_lines_a_pipe_writes_at_once(
    log_stream: io.StringIO,
) -> None:
    stream = RecordedWrites()
    access_log.write_to(logging.StreamHandler(stream), text=False)
    for n in range(100):
        access_log.write("GET", "/students/{student_id}", 200, float(n))
    access_log.flush()
    assert 1 < len(stream.writes) < 10
    for block in stream.writes:
        assert len(block.encode()) <= 4096  # PIPE_BUF: no other worker's write lands inside
        assert block.endswith("\n")
    durations = [json.loads(line)["duration_ms"] for line in stream.getvalue().splitlines()]
    assert durations == [float(n) for n in range(100)]


def test_a_requests_own_info_lines_are_held_with_its_access_lines(
    log_stream: io.StringIO,
) -> None:
    token = context.request_id.set("req-2")
    try:
        logging.getLogger("service.enrollments").info("enrollment.rejected")
        access_log.write("PUT", "/students/{student_id}/courses/{course_id}", 409, 0.5)
        assert log_stream.getvalue() == ""  # held: no write of its own
        logging.getLogger("service.database").warning("db.release_failed")
    finally:
        context.request_id.reset(token)
    logging.getLogger("service").info("outside.a.request")  # not held
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "enrollment.rejected",
        "http.request",
        "db.release_failed",
        "outside.a.request",
    ]
    assert lines[0]["request_id"] == lines[2]["request_id"] == "req-2"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("registrar", "registrar"),
        (42, "42"),
        (
            "bob reason=forged event=enrollment.created student_id=999",
            '"bob reason=forged event=enrollment.created student_id=999"',
        ),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("back\\slash", '"back\\\\slash"'),
        ("two\nlines", '"two\\nlines"'),
        ("next\u0085line", '"next\\u0085line"'),
        ("", '""'),
    ],
)
def test_text_lines_quote_and_escape_values_the_logfmt_way(value: object, written: str) -> None:
    record = logging.makeLogRecord({"msg": "some.event", "levelname": "INFO", "actor": value})
    line = TextFormatter().format(record)
    assert line.endswith(f" actor={written}")
    assert "\n" not in line
    assert "\u0085" not in line
