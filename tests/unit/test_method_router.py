"""MethodRouter sends every request where Starlette's own Router would."""

import pytest
from starlette.exceptions import HTTPException
from starlette.routing import Route, Router
from starlette.types import Message, Receive, Scope, Send

from service.app import MethodRouter, create_app
from service.config import Settings

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATHS = (
    "/students",
    "/students/",
    "/students/7",
    "/students/7/",
    "/students/x",
    "/students/7/courses",
    "/students/7/courses/3",
    "/courses",
    "/courses/3",
    "/courses/3/students",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/nowhere",
)


async def served_by(router: Router, method: str, path: str) -> str:
    """The route the router called, with its path parameters, or what it answered instead."""
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
        "app": object(),  # so that Starlette raises its 404 and 405, as under FrontDoor
    }
    try:
        await router(scope, _receive, _send)
    except HTTPException as error:
        return f"{error.status_code} {error.headers}"
    if "route" not in scope:
        return "redirected"  # to the path with its trailing slash added or removed
    return f"{scope['route'].path} {scope['route'].methods} {scope['path_params']}"


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


class _Endpoint:
    """An ASGI app that does nothing (a class, so Route calls it as an app)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def _service_routes() -> list[Route]:
    """The service's routes, in its order, each with an endpoint that does nothing."""
    app = create_app(Settings(database_url="postgresql://unused"))
    return [
        Route(route.path, _Endpoint(), methods=route.methods)
        for route in app.routes
        if isinstance(route, Route)
    ]


@pytest.mark.parametrize("method", METHODS)
async def test_each_request_goes_where_starlette_would_send_it(method: str) -> None:
    routes = _service_routes()
    starlettes, ours = Router(routes), MethodRouter(routes, lifespan=None)
    for path in PATHS:
        assert await served_by(ours, method, path) == await served_by(starlettes, method, path)


def test_the_service_is_routed_by_method() -> None:
    assert isinstance(create_app(Settings(database_url="postgresql://unused")).router, MethodRouter)
