"""`GET /metrics`: Prometheus's text, summed over the workers (service/plumbing/metrics.py)."""

from starlette.requests import Request
from starlette.responses import Response

from service.plumbing import metrics
from service.routes import route


async def prometheus_metrics(request: Request) -> Response:
    metrics.refresh(request.state.db, request.state.changes_watcher)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


routes = [route("/metrics", "GET", prometheus_metrics)]
