"""HTTP handlers, one module per entity: parse, call one repository function, respond.
Each module lists its routes, every one declared with route()."""

from functools import cached_property
from urllib.parse import unquote

from starlette.routing import Match, Route
from starlette.types import Scope

from service.plumbing.idempotency import idempotent as answering_once_per_key
from service.plumbing.starlette_overrides import Endpoint, Handler


class RawPathRoute(Route):
    """A route matched on the path as the client sent it, each parameter then
    percent-decoded once. Starlette matches the decoded path, where an encoded `/` in a
    parameter (an external id may hold one) has become a separator the route cannot match."""

    @cached_property
    def fixed_start(self) -> str:
        """The path before its first parameter: no request path without it can match."""
        return self.path.partition("{")[0]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw_path = scope.get("raw_path")
        if raw_path is None or not scope["path"].startswith(self.fixed_start):
            return super().matches(scope)
        # httpx's test transport puts the query string in raw_path; servers do not.
        path = raw_path.partition(b"?")[0].decode("latin-1")
        match, child_scope = super().matches({**scope, "path": path})
        if match is not Match.NONE:
            params = child_scope["path_params"]
            child_scope["path_params"] = {name: unquote(value) for name, value in params.items()}
        return match, child_scope


def route(
    path: str, method: str, handler: Handler, *, idempotent: bool = False, raw_path: bool = False
) -> Route:
    """The route calling `handler` for `method` on `path`, through Endpoint; with
    `idempotent`, once per Idempotency-Key (service/plumbing/idempotency.py); with
    `raw_path`, matched on the path as sent (RawPathRoute)."""
    app = answering_once_per_key(handler) if idempotent else Endpoint(handler)
    kind = RawPathRoute if raw_path else Route
    return kind(path, app, methods=[method], name=handler.__name__)
