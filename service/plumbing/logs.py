"""Logging's set-up: one stdout handler for every logger, uvicorn's included, which holds a
request's lines below WARNING with the access lines (service/plumbing/access_log.py) and
writes any other line at once, after them."""

import logging
import sys
from typing import TextIO

from service.plumbing import context
from service.plumbing.access_log import access_log
from service.plumbing.log_format import JsonFormatter, TextFormatter


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
