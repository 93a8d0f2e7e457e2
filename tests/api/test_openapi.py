"""The OpenAPI document describes exactly the routes the app serves, and the response
checker that every API test runs through (tests/support/openapi_check.py) does catch departures."""

import re

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Mount, Route

from service.app import create_app
from service.config import Settings
from service.oneroster import BASE_PATH as ONEROSTER_BASE
from service.openapi import load_openapi
from tests.support.openapi_check import problems_with

METHODS = {"get", "post", "put", "patch", "delete"}


def app_operations() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="postgresql://unused"))
    operations = set()
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/docs/assets":
            continue  # the API page's files, not operations
        assert isinstance(route, Route)
        if route.path.startswith(ONEROSTER_BASE):
            continue  # a surface of its own, in its own document (tests/api/test_oneroster.py)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        operations |= {(m.lower(), path) for m in route.methods or () if m != "HEAD"}
    return operations


def document_operations() -> set[tuple[str, str]]:
    paths = load_openapi()["paths"]
    return {(m, path) for path, item in paths.items() for m in item if m in METHODS}


def test_document_and_app_have_the_same_operations() -> None:
    assert app_operations() == document_operations()


def test_document_is_openapi_3_1_with_valid_schemas() -> None:
    document = load_openapi()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


async def test_openapi_json_serves_the_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == load_openapi()


def _response(method: str, path: str, status: int, body: object, media: str) -> httpx.Response:
    request = httpx.Request(method, f"http://test{path}")
    return httpx.Response(status, json=body, headers={"content-type": media}, request=request)


STUDENT = {
    "id": 1,
    "first_name": "A",
    "last_name": "B",
    "email": "a@b.co",
    "external_id": None,
    "created_at": "2026-11-27T09:30:00Z",
    "updated_at": "2026-11-27T09:30:00Z",
}


def test_checker_accepts_a_conforming_response() -> None:
    response = _response("PATCH", "/students/1", 200, STUDENT, "application/json")
    assert problems_with(response) == []


@pytest.mark.parametrize(
    ("status", "body", "media"),
    [
        (200, {k: v for k, v in STUDENT.items() if k != "email"}, "application/json"),
        (200, {**STUDENT, "password": "x"}, "application/json"),
        (200, {**STUDENT, "created_at": "2026-11-27T09:30:00+01:00"}, "application/json"),
        (200, STUDENT, "text/html"),
        (418, STUDENT, "application/json"),
        (404, {"title": "no type"}, "application/problem+json"),
    ],
)
def test_checker_rejects_a_departing_response(status: int, body: object, media: str) -> None:
    assert problems_with(_response("PATCH", "/students/1", status, body, media))
