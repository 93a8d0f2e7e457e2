"""The two parts of Starlette the service replaces, each for a measured gain on every request
(tests/load/README.md has the figures). tests/unit/test_starlette_overrides.py fails when
Starlette changes what they replace, so that each is looked at again then."""

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Awaitable[Response]]


class ServiceApp(Starlette):
    """Starlette less its two outer layers, whose work FrontDoor does: ServerErrorMiddleware
    (the 500 for a crash) and ExceptionMiddleware (problems and the router's 404 and 405 as
    responses; with no handlers registered, Route's wrapper around each handler lets them
    through to FrontDoor). The two cost a simple GET 3.7% more instructions."""

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


class Endpoint:
    """A route handler as the ASGI app its Route calls: a Request in, the Response sent.
    Given a plain function, Route wraps it in Starlette's request_response instead, which
    also looks up exception handlers and wraps `send` on every request: the service
    registers none (FrontDoor answers every problem), and without that wrapper a simple GET
    costs 2.9% fewer instructions."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
