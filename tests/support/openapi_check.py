"""Checks a real response against what service/openapi.yaml promises for it."""

import re
from functools import cache
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from service.openapi import load_openapi

DOCUMENT_URI = "urn:enrollment:openapi"


@cache
def _document() -> dict[str, Any]:
    return load_openapi()


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_document(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    return registry


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")


def find_operation(method: str, path: str) -> dict[str, Any] | None:
    for template, item in _document()["paths"].items():
        if _template_regex(template).match(path) and method.lower() in item:
            operation: dict[str, Any] = item[method.lower()]
            return operation
    return None


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = _document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def problems_with(response: httpx.Response) -> list[str]:
    """Every way the response departs from the document; empty when it conforms."""
    request = response.request
    # As sent, as the service matches it: an encoded / stays within its segment.
    path = request.url.raw_path.partition(b"?")[0].decode()
    operation = find_operation(request.method, path)
    if operation is None:
        # A request the document does not describe: all it may get is a 404 or 405 problem.
        media_type = response.headers.get("content-type")
        if response.status_code in (404, 405) and media_type == "application/problem+json":
            return []
        return [f"{request.method} {path} is not in the document"]
    declared = operation["responses"].get(str(response.status_code))
    if declared is None:
        return [f"status {response.status_code} is not declared for {request.method}"]
    declared = _resolve(declared)
    content = declared.get("content")
    if not content:
        return [] if not response.content else ["a body where the document declares none"]
    media_type = response.headers.get("content-type", "").split(";")[0]
    if media_type not in content:
        return [f"content type {media_type!r} is not one of {sorted(content)}"]
    if not media_type.endswith("json"):
        return []  # /metrics' text: its content type is all the document says of it
    schema = _anchored(content[media_type]["schema"])
    validator = Draft202012Validator(schema, registry=_registry())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())]


def _anchored(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its `$ref` pointing into the document, so that nested refs resolve."""
    if "$ref" in schema:
        return {"$ref": DOCUMENT_URI + schema["$ref"]}
    return schema


async def assert_conforms(response: httpx.Response) -> None:
    """An httpx response hook: fail the test on any response the document does not describe."""
    await response.aread()
    if response.request.url.path == "/openapi.json":
        return
    found = problems_with(response)
    assert not found, f"{response.request.method} {response.request.url.path}: {found}"
