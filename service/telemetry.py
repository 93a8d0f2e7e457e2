"""Pure ASGI middleware that gives every request an id, echoes it in `X-Request-ID`, and
writes one access line and the request metrics when the response is done."""

import functools
import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import context, metrics
from service.logs import access_log
from service.problems import Problem
from service.web import problem_response

logger = logging.getLogger("service.access")
# 1..128 visible ASCII characters; anything else is replaced, never echoed.
_VALID_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")


def _request_id(scope: Scope) -> str:
    value: bytes
    for header, value in scope["headers"]:
        if header == b"x-request-id" and _VALID_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def route_template(scope: Scope) -> str:
    """The route's path without converters (`/students/{student_id}`), or `unmatched`.
    Looked up when the router never ran (a 401 answered by AuthMiddleware)."""
    route = scope.get("route")
    if route is None:
        routes = scope["app"].router.routes
        route = next((r for r in routes if r.path_regex.match(scope["path"])), None)
    path: str | None = getattr(route, "path", None)
    return _template(path) if path else "unmatched"


@functools.cache
def _template(path: str) -> str:
    return re.sub(r":\w+\}", "}", path)


class TelemetryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = context.request_id.set(request_id)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        started = time.perf_counter()
        metrics.requests_in_flight.value += 1
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug. The log keeps the traceback, with the request id; the caller learns
            # nothing of the service's insides.
            logger.exception("http.unhandled_error")
            if status:  # the response had begun: all we can do is drop the connection
                raise
            crash = Problem("the service failed; the error is logged with this request's id")
            await problem_response(crash, scope["path"])(scope, receive, send_with_id)
        finally:
            metrics.requests_in_flight.value -= 1
            self._record(scope, status, time.perf_counter() - started)
            context.request_id.reset(token)

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        metrics.requests_answered.add(scope["method"], route, status, seconds)
        # Milliseconds to two places: round() to an int then divide (round(x, 2) is 2x slower).
        access_log.write(scope["method"], route, status, round(seconds * 100_000) / 100)
