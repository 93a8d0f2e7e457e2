"""Fixtures of the HTTP tests."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from service.plumbing.access_log import access_log
from service.plumbing.log_format import JsonFormatter
from service.plumbing.logs import AccessLinesFirst

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """What the service writes to stdout during the test, one parsed JSON object a line."""
    stream = io.StringIO()
    handler = AccessLinesFirst(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    writing_to = access_log.handler, access_log.render
    access_log.write_to(handler, text=False)

    def lines() -> list[dict[str, Any]]:
        access_log.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        access_log.flush()
        root.removeHandler(handler)
        root.setLevel(level)
        access_log.handler, access_log.render = writing_to


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == name]
