"""HTTP handlers, one module per entity: parse, call one repository function, respond.
Each module lists its routes, every one declared with route()."""

from starlette.routing import Route

from service.plumbing.idempotency import idempotent as answering_once_per_key
from service.plumbing.starlette_overrides import Endpoint, Handler


def route(path: str, method: str, handler: Handler, *, idempotent: bool = False) -> Route:
    """The route calling `handler` for `method` on `path`, through Endpoint; with
    `idempotent`, once per Idempotency-Key (service/plumbing/idempotency.py)."""
    app = answering_once_per_key(handler) if idempotent else Endpoint(handler)
    return Route(path, app, methods=[method], name=handler.__name__)
