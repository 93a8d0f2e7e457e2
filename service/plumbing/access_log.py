"""The access line, written past `logging` (which it replaces for the lines every request
writes), and the blocks the request lines are held in. tests/unit/test_logs.py checks that
its lines are the ones `logging` would have written, so a change in `logging` shows."""

import logging
import sys
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from service.plumbing import context
from service.plumbing.log_format import json_line, line_fields, text_line, timestamp


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
        self.render = text_line if text else json_line

    def info(self, logger: logging.Logger, event: str, extra: Mapping[str, Any]) -> None:
        """The line `logger.info(event, extra=extra)` would write, held for the next block:
        for the lines many requests write (a refused enrollment's). Through `logging` that
        line cost a request of a registration rush 12% more instructions."""
        if logger.isEnabledFor(logging.INFO):
            fields = line_fields(time.time(), "info", event, logger.name, extra)
            self.hold(self.render(fields) + "\n")

    def write(self, method: str, route: str, status: int, duration_ms: float) -> None:
        """The access line: what info() would write, built in one literal as every request
        writes it. Through info() it took 30% longer (0.8 us more)."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        request_id, trace = context.request_id.get(), context.trace.get()
        fields: dict[str, Any] = {
            "ts": timestamp(time.time()),
            "level": "info",
            "event": "http.request",
            "logger": self.logger.name,
        }
        if request_id is not None:  # outside a request: no such fields, as in other lines
            fields["request_id"] = request_id
        if trace is not None:
            fields["trace_id"], fields["span_id"] = trace
        # The extra fields, by name as in every line.
        fields["duration_ms"] = duration_ms
        fields["method"] = method
        fields["route"] = route
        fields["status"] = status
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


access_log = AccessLog()
