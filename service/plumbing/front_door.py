"""FrontDoor: the one middleware every request passes (pure ASGI). It gives the request its
id and its trace context (and span), checks its caller (key or token), answers every error
raised below it as problem details (a Problem from a handler, no such route, a method the
path does not allow, a crash), and writes the access line and the request metrics when the
response is done.

One layer for all of it, and in place of Starlette's own two outer layers (ServiceApp in
starlette_overrides.py): each layer a request passes through cost a simple GET 1.3 to 2.4% more
instructions (README "Performance")."""

import logging
import time
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import ApiKey
from service.oneroster import BASE_PATH as ONEROSTER_BASE
from service.oneroster.errors import status_info_response
from service.plumbing import context, metrics
from service.plumbing.auth import CallerCheck
from service.plumbing.telemetry import record, request_id_of
from service.plumbing.tokens import TokenCheck
from service.plumbing.tracing import Outcome, RequestTrace
from service.problems import PROBLEM_BASE, MethodNotAllowed, NotFound, Problem
from service.web import problem_response

if TYPE_CHECKING:  # imported only with export on (tracing.py)
    from service.plumbing.span_export import SpanExport

logger = logging.getLogger("service.access")


class FrontDoor:
    def __init__(
        self,
        app: ASGIApp,
        keys: tuple[ApiKey, ...],
        tokens: TokenCheck | None,
        spans: "SpanExport | None",
    ) -> None:
        self.app = app
        self.caller_check = CallerCheck(keys, tokens)
        self.spans = spans  # None with span export off

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = context.request_id.set(request_id)
        outcome = Outcome()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        started = time.perf_counter()
        metrics.requests_in_flight.value += 1
        try:
            with RequestTrace(scope, outcome, self.spans):
                try:
                    await self._answer(scope, receive, send_with_id, outcome)
                finally:  # within the trace: the access line carries its ids
                    record(scope, outcome.status, time.perf_counter() - started)
        finally:
            metrics.requests_in_flight.value -= 1
            context.request_id.reset(token)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, outcome: Outcome) -> None:
        """Pass the request on when its caller may make it; answer what is raised below as
        a problem."""
        try:
            if (refusal := self.caller_check.refusal(scope)) is not None:
                raise refusal
            await self.app(scope, receive, send)
        except Exception as error:
            if (problem := _as_problem(scope, error)) is None:
                # A bug. The log keeps the traceback, with the request id; the caller learns
                # nothing of the service's insides.
                logger.exception("http.unhandled_error")
                problem = Problem("the service failed; the error is logged with this request's id")
            outcome.problem_type = PROBLEM_BASE + problem.kind
            if outcome.status:  # the response had begun: all we can do is drop the connection
                raise
            if scope["path"].startswith(ONEROSTER_BASE):  # that surface answers in its own way
                await status_info_response(problem)(scope, receive, send)
            else:
                await problem_response(problem, scope["path"])(scope, receive, send)


def _as_problem(scope: Scope, error: Exception) -> Problem | None:
    """The problem an exception from the layers below is; None for a crash."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, HTTPException):  # Starlette's own: the router's 404 and 405
        return _routing_problem(scope, error)
    return None


def _routing_problem(scope: Scope, error: HTTPException) -> Problem:
    path = scope["path"]
    problem: Problem
    if error.status_code == 405:
        problem = MethodNotAllowed(f"{scope['method']} is not allowed on {path}")
        # Starlette names only the first matching route's methods; the path may have several.
        problem.headers["Allow"] = ", ".join(_allowed_methods(scope))
    elif error.status_code == 404:
        problem = NotFound(f"no resource at {path}")
    else:
        problem = Problem(str(error.detail))
        problem.status = error.status_code
        problem.headers.update(error.headers or {})
    return problem


def _allowed_methods(scope: Scope) -> list[str]:
    methods: set[str] = set()
    for route in scope["app"].router.routes:
        if isinstance(route, Route) and route.path_regex.match(scope["path"]):
            methods |= route.methods or set()
    return sorted(methods)
