"""The ASGI application: routes, lifespan and the handlers that render every error."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.config import Settings
from service.database import Database, open_database
from service.problems import MethodNotAllowed, NotFound, Problem
from service.routes import courses, enrollments, health, students
from service.web import JSONResponse


class State(TypedDict):
    db: Database


def problem_response(request: Request, problem: Problem) -> Response:
    response = JSONResponse(
        problem.body(request.url.path), status_code=problem.status, headers=problem.headers
    )
    response.headers["content-type"] = "application/problem+json"
    return response


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no such route, wrong method), as problem details."""
    assert isinstance(exc, HTTPException)
    problem: Problem
    if exc.status_code == 405:
        problem = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        # Starlette names only the first matching route's methods; the path may have several.
        exc.headers = {"Allow": ", ".join(_allowed_methods(request))}
    elif exc.status_code == 404:
        problem = NotFound(f"no resource at {request.url.path}")
    else:
        problem = Problem(str(exc.detail))
        problem.status = exc.status_code
    problem.headers.update(exc.headers or {})
    return problem_response(request, problem)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return sorted(methods)


async def handle_crash(request: Request, exc: Exception) -> Response:
    """A bug: the caller learns nothing of its insides; the log keeps the traceback."""
    return problem_response(request, Problem("the service failed; the error is logged"))


def create_app(settings: Settings | None = None) -> Starlette:
    """The application; it opens its database pool on startup and closes it on shutdown."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        db = await open_database(settings)
        try:
            yield {"db": db}
        finally:
            await db.pool.close()

    return Starlette(
        routes=[*students.routes, *courses.routes, *enrollments.routes, *health.routes],
        lifespan=lifespan,
        exception_handlers={
            Problem: handle_problem,
            HTTPException: handle_http_exception,
            Exception: handle_crash,
        },
    )
