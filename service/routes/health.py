"""Liveness and readiness."""

from starlette.requests import Request
from starlette.responses import Response

from service.problems import ServiceUnavailable
from service.repositories import health
from service.routes import route
from service.web import JSONResponse


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Touches no database, so a database outage restarts nothing."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the database answers a query within DB_TIMEOUT."""
    if not await health.database_answers(request.state.db):
        raise ServiceUnavailable("the database cannot be reached")
    return JSONResponse({"status": "ok"})


routes = [
    route("/healthz", "GET", healthz),
    route("/readyz", "GET", readyz),
]
