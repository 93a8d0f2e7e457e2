"""Request parsing and response building shared by every route."""

import asyncio
import re
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from service.pagination import MAX_ID
from service.problems import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    Problem,
    RequestTimeout,
    UnsupportedMediaType,
    ValidationFailed,
    field_error,
    parameter_error,
)
from service.schemas import EXTERNAL_ID_PATTERN

_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
MAX_BODY_BYTES = 64 * 1024
BODY_TIMEOUT_SECONDS = 10.0
JSON_TYPE = "application/json"
Model = TypeVar("Model", bound=BaseModel)


class JSONResponse(Response):
    """JSON via orjson: faster than the stdlib, and datetimes come out as RFC 3339 with `Z`."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def path_id(request: Request, name: str) -> int:
    """An `{id}` path segment as a database id; anything that cannot be one is simply not found."""
    value: int = request.path_params[name]
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no resource at {request.url.path}")
    return value


def query_text(request: Request, name: str) -> str | None:
    """An optional text query parameter; 422 for one Postgres could not store (NUL)."""
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise ValidationFailed([parameter_error(name, "must not contain the NUL character")])
    return value


def query_external_id(request: Request) -> str | None:
    """The `external_id` filter, when given; 422 for one no student or course can have."""
    value = request.query_params.get("external_id")
    return None if value is None else _external_id(value)


def path_external_id(request: Request) -> str:
    """The `{external_id}` path segment, decoded once (its route is a RawPathRoute, so an
    encoded `/` is part of it); 422 for one no student or course can have."""
    return _external_id(request.path_params["external_id"])


def _external_id(value: str) -> str:
    if not _EXTERNAL_ID.fullmatch(value):
        raise ValidationFailed(
            [parameter_error("external_id", "must be 1..128 visible ASCII characters")]
        )
    return value


async def receive_body(receive: Receive) -> bytes:
    """The whole request body from the ASGI channel: 413 past 64 KiB, 408 when the client
    takes longer than BODY_TIMEOUT_SECONDS to send it (a slow body holds a worker's slot)."""
    body = bytearray()
    more = True
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise BadRequest("the client went away before sending the body")
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY_BYTES:
                    raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    except TimeoutError:
        raise RequestTimeout(f"the body took over {BODY_TIMEOUT_SECONDS} s to arrive") from None
    return bytes(body)


async def read_json(request: Request) -> Any:
    """The JSON body, refusing non-JSON media types (415), over 64 KiB (413), malformed (400)."""
    media_type = request.headers.get("content-type", JSON_TYPE).split(";")[0].strip().lower()
    if media_type != JSON_TYPE and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"send the body as {JSON_TYPE}, not {media_type}")
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body must be at most {MAX_BODY_BYTES} bytes")
    body = await receive_body(request.receive)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON") from None


def validate(model: type[Model], payload: Any) -> Model:
    """The payload as `model`, or 400 when it is not a JSON object and 422 naming each field."""
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(payload, strict=True)
    except ValidationError as error:
        raise ValidationFailed(
            [field_error(_pointer(e["loc"]), _message(e)) for e in error.errors()]
        ) from None


def _message(error: ErrorDetails) -> str:
    """Pydantic's message, without the "Value error, " it puts before our own."""
    if error["type"] == "value_error":
        return str(error["ctx"]["error"])
    return error["msg"]


def _pointer(location: tuple[int | str, ...]) -> str:
    """A JSON Pointer (RFC 6901) from pydantic's error location."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "".join("/" + part for part in parts)


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    """The RFC 9457 response for a problem met while serving `instance`."""
    response = JSONResponse(
        problem.body(instance), status_code=problem.status, headers=problem.headers
    )
    response.headers["content-type"] = "application/problem+json"
    return response


def created(content: Any, location: str) -> JSONResponse:
    return JSONResponse(content, status_code=201, headers={"Location": location})


def no_content() -> Response:
    return Response(status_code=204)
