"""The JSON log line's own fields, formatted without the datetime module."""

import json
import logging
from datetime import UTC, datetime

from service.logs import JsonFormatter


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
