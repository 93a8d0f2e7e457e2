"""Log lines: JSON objects on stdout (`ts`, `level`, `event`, `request_id`, then any fields
passed as `extra=`, by name), or plain lines for humans with LOG_FORMAT=text.

Every request writes one (the access line), so formatting is kept cheap: it was half the
cost of a log call, the timestamp and the search for `extra=` fields most of it."""

import functools
import logging
import sys
import time
from typing import Any

import orjson

from service import context

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


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {
        "ts": f"{_utc_second(int(record.created))}.{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "event": record.getMessage(),
        "logger": record.name,
    }
    if (request_id := context.request_id.get()) is not None:
        fields["request_id"] = request_id
    attributes = vars(record)
    for name in sorted(attributes.keys() - _STANDARD):  # set arithmetic runs in C
        fields[name] = attributes[name]
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(_fields(record), default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        head = f"{fields.pop('ts')} {fields.pop('level').upper():7} {fields.pop('event')}"
        fields.pop("logger")
        exception = fields.pop("exception", None)
        line = " ".join([head, *(f"{k}={v}" for k, v in fields.items())])
        return f"{line}\n{exception}" if exception else line


def configure_logging(level: str, log_format: str) -> None:
    """Send every logger, uvicorn's included, through one stdout handler in the chosen format."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Every line would otherwise walk the stack for its caller's file and line, and look up
    # thread and process names: none of which our lines print, at a cost on every request.
    logging._srcfile = None  # the documented switch (logging HOWTO, "Optimization")
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # yoyo narrates each step; service.migrations logs each migration applied instead.
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    # Our access line replaces uvicorn's, which has neither request id nor route template
    # (`python -m service` also tells uvicorn not to write it; this covers other launchers).
    logging.getLogger("uvicorn.access").disabled = True
