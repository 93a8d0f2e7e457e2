"""A log line's fields and how it is written: JSON objects (`ts`, `level`, `event`,
`logger`, `request_id`, `trace_id`, `span_id`, then any fields passed as `extra=`, by name),
or plain lines for humans with LOG_FORMAT=text. Kept cheap, as every request writes at least one: no
`datetime`, no Python scan of the record."""

import functools
import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

import orjson

from service.plumbing import context

# Attributes every LogRecord has; anything else on a record came from `extra=`.
# uvicorn adds color_message, an ANSI-coloured copy of the message.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


@functools.lru_cache(maxsize=1)
def _utc_second(second: int) -> str:
    """RFC 3339 up to the second; lines come many to a second, so it is formatted once."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


# ".000Z" to ".999Z": looked up, as formatting the milliseconds ("03d") took half the time
# of a timestamp.
_MILLISECONDS = tuple(f".{n:03d}Z" for n in range(1000))


def timestamp(created: float) -> str:
    """`created` (a time.time()) as RFC 3339 UTC to the millisecond, truncated as LogRecord's
    msecs is."""
    second = int(created)
    return _utc_second(second) + _MILLISECONDS[int((created - second) * 1000)]


def line_fields(
    created: float, level: str, event: str, logger: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """A line's fields in their order: the fixed ones, the request id and trace ids within a
    request, then the `extra` ones by name."""
    fields = {"ts": timestamp(created), "level": level, "event": event, "logger": logger}
    if (request_id := context.request_id.get()) is not None:
        fields["request_id"] = request_id
    if (trace := context.trace.get()) is not None:
        fields["trace_id"], fields["span_id"] = trace
    for name in sorted(extra):
        fields[name] = extra[name]
    return fields


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    attributes = vars(record)
    fields = line_fields(
        record.created,
        record.levelname.lower(),
        record.getMessage(),
        record.name,
        {name: attributes[name] for name in attributes.keys() - _STANDARD},  # set arithmetic in C
    )
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return fields


def json_line(fields: dict[str, Any]) -> str:
    return orjson.dumps(fields, default=str).decode()


# A value written as it is in a text line: visible ASCII but the quote, `=` and `\\`.
_BARE = re.compile(r"[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+")


def logfmt_value(value: Any) -> str:
    """`value` as a logfmt value: bare when it can be, else quoted with JSON's escapes (so a
    space, `=`, a quote, a control or a non-ASCII character such as U+0085 can never start
    another field, or another line, in a caller's text)."""
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text)


def text_line(fields: dict[str, Any]) -> str:
    head = f"{fields.pop('ts')} {fields.pop('level').upper():7} {logfmt_value(fields.pop('event'))}"
    fields.pop("logger")
    exception = fields.pop("exception", None)
    line = " ".join([head, *(f"{k}={logfmt_value(v)}" for k, v in fields.items())])
    return f"{line}\n{exception}" if exception else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json_line(_fields(record))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return text_line(_fields(record))
