"""What the service's replacements of library parts stand on, checked against the libraries
installed: each test fails when the library changes what was replaced (a new middleware
layer, a route wrapper, a pool release path), so the replacement is looked at again. The
replacements: ServiceApp and Endpoint (service/plumbing/starlette_overrides.py), the pool's
release (PooledAccess._put_back in service/pooled_access.py). The access line's replacement of
`logging` is checked line for line in tests/unit/test_logs.py."""

import inspect

from asyncpg.pool import Pool, PoolConnectionHolder
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.plumbing.starlette_overrides import Endpoint, ServiceApp


class Marker:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def layers(app: Starlette) -> list[type]:
    """The classes of the layers a request passes, down to the router."""
    stack: object = app.build_middleware_stack()
    found = [type(stack)]
    while not isinstance(stack, Router):
        stack = stack.app  # type: ignore[attr-defined]
        found.append(type(stack))
    return found


def test_starlette_wraps_the_app_in_exactly_the_two_layers_service_app_leaves_out() -> None:
    assert layers(Starlette(middleware=[Middleware(Marker)])) == [
        ServerErrorMiddleware,
        Marker,
        ExceptionMiddleware,
        Router,
    ]
    assert layers(ServiceApp(middleware=[Middleware(Marker)])) == [Marker, Router]


async def handler(request: Request) -> Response:
    return Response()


def test_a_route_wraps_a_plain_function_and_takes_an_asgi_app_as_it_is() -> None:
    # The wrapper Endpoint spares every request: request_response, with its exception
    # handler lookup.
    assert Route("/", handler).app.__qualname__.startswith(request_response.__qualname__)
    assert "wrap_app_handling_exceptions" in inspect.getsource(request_response)
    endpoint = Endpoint(handler)
    assert Route("/", endpoint).app is endpoint


def test_the_pool_release_put_back_calls_is_the_one_pool_release_shields() -> None:
    # _put_back calls the holder's release itself, with no timeout, where Pool.release
    # runs it in a shielded task.
    assert list(inspect.signature(PoolConnectionHolder.release).parameters) == [
        "self",
        "timeout",
    ]
    source = inspect.getsource(Pool.release)
    assert "shield" in source
    assert "release(timeout)" in source
