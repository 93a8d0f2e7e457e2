"""Liveness, readiness and the OpenAPI document."""

from starlette.requests import Request
from starlette.responses import Response

from service.openapi import load_openapi
from service.plumbing import metrics
from service.plumbing.starlette_overrides import route
from service.problems import ServiceUnavailable
from service.repositories import health
from service.web import JSONResponse

OPENAPI = load_openapi()


async def healthz(request: Request) -> Response:
    """Alive: the process answers. Touches no database, so a database outage restarts nothing."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready: the database answers a query within DB_TIMEOUT."""
    if not await health.database_answers(request.state.db):
        raise ServiceUnavailable("the database cannot be reached")
    return JSONResponse({"status": "ok"})


async def prometheus_metrics(request: Request) -> Response:
    metrics.refresh(request.state.db, request.state.feed)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


async def openapi(request: Request) -> Response:
    return JSONResponse(OPENAPI)


routes = [
    route("/healthz", "GET", healthz),
    route("/readyz", "GET", readyz),
    route("/metrics", "GET", prometheus_metrics),
    route("/openapi.json", "GET", openapi),
]
