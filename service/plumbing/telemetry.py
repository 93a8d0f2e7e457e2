"""What every request leaves behind: its id (echoed in `X-Request-ID`), one access line and
the request metrics. FrontDoor calls these for every request."""

import functools
import os
import re

from starlette.types import Scope

from service.plumbing import metrics
from service.plumbing.access_log import access_log

# 1..128 visible ASCII characters; anything else is replaced, never echoed.
_VALID_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a valid one, else a new random id."""
    value: bytes
    for header, value in scope["headers"]:
        if header == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def route_template(scope: Scope) -> str:
    """The route's path without converters (`/students/{student_id}`), or `unmatched`.
    Looked up when the router never ran (a 401 answered at the front door)."""
    route = scope.get("route")
    if route is None:
        routes = scope["app"].router.routes
        route = next((r for r in routes if r.path_regex.match(scope["path"])), None)
    path: str | None = getattr(route, "path", None)
    return _template(path) if path else "unmatched"


@functools.cache
def _template(path: str) -> str:
    return re.sub(r":\w+\}", "}", path)


def record(scope: Scope, status: int, seconds: float) -> None:
    """The access line and the request metrics of an answered request."""
    route = route_template(scope)
    metrics.requests_answered.add(scope["method"], route, status, seconds)
    # Milliseconds to two places: round() to an int then divide (round(x, 2) is 2x slower).
    access_log.write(scope["method"], route, status, round(seconds * 100_000) / 100)
