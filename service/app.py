"""The ASGI application: routes, lifespan and the handlers that render every error."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import metrics
from service.auth import AuthMiddleware
from service.config import Settings
from service.database import Database, open_database
from service.logs import access_log, configure_logging
from service.problems import MethodNotAllowed, NotFound, Problem
from service.repositories import idempotency
from service.routes import courses, enrollments, health, students
from service.telemetry import TelemetryMiddleware
from service.web import problem_response

logger = logging.getLogger("service")
HOUSEKEEPING_SECONDS = 1
KEY_EXPIRY_EVERY_ROUNDS = 600  # every ten minutes


class State(TypedDict):
    db: Database


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


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
    return problem_response(problem, request.url.path)


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return sorted(methods)


def create_app(settings: Settings | None = None) -> Starlette:
    """The application; it opens its database pool on startup and closes it on shutdown."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        db = await open_database(settings)
        chores = asyncio.create_task(housekeeping(db))
        try:
            yield {"db": db}
        finally:
            chores.cancel()
            await db.pool.close()
            metrics.requests_answered.flush()
            metrics.forget_this_process()
            access_log.flush()

    return Starlette(
        routes=[*students.routes, *courses.routes, *enrollments.routes, *health.routes],
        lifespan=lifespan,
        middleware=[
            Middleware(TelemetryMiddleware),
            Middleware(AuthMiddleware, keys=settings.api_keys),
        ],
        exception_handlers={Problem: handle_problem, HTTPException: handle_http_exception},
    )


def serve_app() -> Starlette:
    """The factory uvicorn calls in each worker process: logging first, then the app."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


async def housekeeping(db: Database) -> None:
    """Every second, write the access lines held, flush the request tally and refresh the
    gauges (pool, requests in flight); now and then expire idempotency keys. Off the request
    path; a failure is logged and tried again next round."""
    rounds = 0
    while True:
        access_log.flush()
        metrics.refresh(db)
        if rounds % KEY_EXPIRY_EVERY_ROUNDS == 0:
            try:
                if expired := await idempotency.delete_expired(db):
                    logger.info("idempotency.expired", extra={"deleted": expired})
            except Exception:
                logger.exception("idempotency.expiry_failed")
        rounds += 1
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
