"""Log lines: JSON objects on stdout (`ts`, `level`, `event`, `request_id`, then any fields
passed as `extra=`, by name), or plain lines for humans with LOG_FORMAT=text.

Every request writes one, the access line, so it skips `logging`'s machinery (AccessLog), and
formatting is kept cheap for the other lines: no `datetime`, no Python scan of the record."""

import functools
import logging
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, TextIO

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


# ".000Z" to ".999Z": looked up, as formatting the milliseconds ("03d") took half the time
# of a timestamp.
_MILLISECONDS = tuple(f".{n:03d}Z" for n in range(1000))


def _timestamp(created: float) -> str:
    """`created` (a time.time()) as RFC 3339 UTC to the millisecond, truncated as LogRecord's
    msecs is."""
    second = int(created)
    return _utc_second(second) + _MILLISECONDS[int((created - second) * 1000)]


def _line_fields(
    created: float, level: str, event: str, logger: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """A line's fields in their order: the fixed ones, the request id within a request, then
    the `extra` ones by name."""
    fields = {"ts": _timestamp(created), "level": level, "event": event, "logger": logger}
    if (request_id := context.request_id.get()) is not None:
        fields["request_id"] = request_id
    for name in sorted(extra):
        fields[name] = extra[name]
    return fields


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    attributes = vars(record)
    fields = _line_fields(
        record.created,
        record.levelname.lower(),
        record.getMessage(),
        record.name,
        {name: attributes[name] for name in attributes.keys() - _STANDARD},  # set arithmetic in C
    )
    if record.exc_info:
        fields["exception"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _json_line(fields: dict[str, Any]) -> str:
    return orjson.dumps(fields, default=str).decode()


def _text_line(fields: dict[str, Any]) -> str:
    head = f"{fields.pop('ts')} {fields.pop('level').upper():7} {fields.pop('event')}"
    fields.pop("logger")
    exception = fields.pop("exception", None)
    line = " ".join([head, *(f"{k}={v}" for k, v in fields.items())])
    return f"{line}\n{exception}" if exception else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _json_line(_fields(record))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _text_line(_fields(record))


class AccessLog:
    """The access line, one per request, as an info line of the `service.access` logger
    would print (same fields, LOG_FORMAT, LOG_LEVEL), written straight to the stream of the
    log's handler. Through `logging`'s record, handler chain and formatter it cost a simple
    GET 8% more instructions and 12% more CPU (README "Performance").

    Lines are held and written in blocks, one write and flush for many lines: when the next
    line would overflow BLOCK_CHARS, each housekeeping round (every second), before any
    line not held (so lines keep their order) and at shutdown. A write system call per line
    cost a simple GET 11% more CPU in-process (README "Performance"). The other lines a
    request logs below WARNING are held in the same blocks: those logged through `logging`
    (see AccessLinesFirst), and the enrollment lines, which come through info()."""

    logger = logging.getLogger("service.access")
    # Whole lines, at most PIPE_BUF bytes a block (the lines are ASCII): a write that small
    # to a pipe is atomic, so another worker's block never lands inside a line.
    BLOCK_CHARS = 4096

    def __init__(self) -> None:
        # A deque: appends and pops are atomic, so a flush from another thread (a log line
        # written there) can neither lose nor repeat a line.
        self._held: deque[str] = deque()
        self._held_chars = 0
        self.write_to(logging.StreamHandler(sys.stderr), text=False)  # until configured

    def write_to(self, handler: logging.StreamHandler[Any], *, text: bool) -> None:
        self.flush()  # what was held goes where it was meant to
        self.handler = handler
        self.render = _text_line if text else _json_line

    def info(self, logger: logging.Logger, event: str, extra: Mapping[str, Any]) -> None:
        """The line `logger.info(event, extra=extra)` would write, held for the next block:
        for the lines many requests write (a refused enrollment's). Through `logging` that
        line cost a request of a registration rush 12% more instructions."""
        if logger.isEnabledFor(logging.INFO):
            fields = _line_fields(time.time(), "info", event, logger.name, extra)
            self.hold(self.render(fields) + "\n")

    def write(self, method: str, route: str, status: int, duration_ms: float) -> None:
        """The access line: what info() would write, built in one literal as every request
        writes it. Through info() it took 30% longer (0.8 us more)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        request_id = context.request_id.get()
        fields: dict[str, Any] = {
            "ts": _timestamp(time.time()),
            "level": "info",
            "event": "http.request",
            "logger": self.logger.name,
            "request_id": request_id,
            # The extra fields, by name as in every line.
            "duration_ms": duration_ms,
            "method": method,
            "route": route,
            "status": status,
        }
        if request_id is None:  # outside a request: no such field, as in other lines
            del fields["request_id"]
        self.hold(self.render(fields) + "\n")

    def hold(self, line: str) -> None:
        """Hold a whole line (newline included) for the next block."""
        if self._held_chars + len(line) > self.BLOCK_CHARS:
            self.flush()
        self._held.append(line)
        self._held_chars += len(line)

    def flush(self) -> None:
        """Write the lines held so far, in one block."""
        lines = []
        while self._held:
            lines.append(self._held.popleft())
        self._held_chars = 0
        if not lines:
            return
        self.handler.acquire()  # one block at a time, as the handler's own lines
        try:
            self.handler.stream.write("".join(lines))
            self.handler.stream.flush()
        finally:
            self.handler.release()


class AccessLinesFirst(logging.StreamHandler[TextIO]):
    """The service's handler. A line logged while serving a request, below WARNING, is held
    with the access lines and written in their blocks: a refused enrollment's line, written
    on its own, cost each request of a registration rush a second write system call. Any
    other line (startup, warnings, errors) is written at once, after the lines held, and the
    held lines are written whenever the handler is flushed (logging flushes every handler
    at exit)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and context.request_id.get() is not None:
            try:
                access_log.hold(self.format(record) + self.terminator)
            except Exception:
                self.handleError(record)
            return
        access_log.flush()
        super().emit(record)

    def flush(self) -> None:
        access_log.flush()
        super().flush()


access_log = AccessLog()


def configure_logging(level: str, log_format: str) -> None:
    """Send every logger, uvicorn's included, and the access line through one stdout handler
    in the chosen format."""
    handler = AccessLinesFirst(sys.stdout)
    text = log_format == "text"
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    access_log.write_to(handler, text=text)
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
