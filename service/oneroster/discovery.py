"""What the OneRoster surface serves, as the binding publishes it: a JSON Schema per type (the
fields, types and enums the 1EdTech JSON Schemas of OneRoster 1.2 require, `additionalProperties:
false` as theirs, our extras in `metadata`), and the OpenAPI document the discovery endpoint
serves, with this service's URL. The tests check every answer against these schemas."""

from typing import Any

PATH = "/discovery/onerosterv1p2rostersservice_openapi3_v1p0.json"
Schema = dict[str, Any]


def _ref(kind: str) -> Schema:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["href", "sourcedId", "type"],
        "properties": {
            "href": {"type": "string", "format": "uri", "pattern": "^https?://"},
            "sourcedId": {"type": "string"},
            "type": {"type": "string", "enum": [kind]},
        },
    }


DATE_TIME: Schema = {"type": "string", "format": "date-time", "pattern": "Z$"}  # in UTC
DATE: Schema = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
TEXT: Schema = {"type": "string"}
METADATA: Schema = {"type": "object"}


def _object(required: list[str], **properties: Schema) -> Schema:
    common = {
        "sourcedId": TEXT,
        "status": {"type": "string", "enum": ["active", "tobedeleted"]},
        "dateLastModified": DATE_TIME,
        "metadata": METADATA,
    }
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["sourcedId", "status", "dateLastModified", *required],
        "properties": {**common, **properties},
    }


SCHEMAS: dict[str, Schema] = {
    "user": _object(
        ["enabledUser", "givenName", "familyName", "roles"],
        enabledUser={"type": "string", "enum": ["true", "false"]},
        givenName=TEXT,
        familyName=TEXT,
        email=TEXT,
        primaryOrg=_ref("org"),
        roles={
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["roleType", "role", "org"],
                "properties": {
                    "roleType": {"type": "string", "enum": ["primary", "secondary"]},
                    "role": {
                        "type": "string",
                        "enum": [
                            "aide",
                            "counselor",
                            "districtAdministrator",
                            "guardian",
                            "parent",
                            "principal",
                            "proctor",
                            "relative",
                            "siteAdministrator",
                            "student",
                            "systemAdministrator",
                            "teacher",
                        ],
                    },
                    "org": _ref("org"),
                },
            },
        },
    ),
    "class": _object(
        ["title", "course", "school", "terms"],
        title=TEXT,
        classCode=TEXT,
        classType={"type": "string", "enum": ["homeroom", "scheduled"]},
        course=_ref("course"),
        school=_ref("org"),
        terms={"type": "array", "minItems": 1, "items": _ref("academicSession")},
    ),
    "course": _object(["title", "courseCode"], title=TEXT, courseCode=TEXT, org=_ref("org")),
    "enrollment": _object(
        ["user", "class", "school", "role"],
        user=_ref("user"),
        **{"class": _ref("class")},
        school=_ref("org"),
        role={"type": "string", "enum": ["administrator", "proctor", "student", "teacher"]},
        beginDate=DATE,
        endDate=DATE,
    ),
    "org": _object(
        ["name", "type", "identifier"],
        name=TEXT,
        type={
            "type": "string",
            "enum": ["department", "district", "local", "national", "school", "state"],
        },
        identifier=TEXT,
    ),
    "academicSession": _object(
        ["title", "startDate", "endDate", "type", "schoolYear"],
        title=TEXT,
        startDate=DATE,
        endDate=DATE,
        type={"type": "string", "enum": ["gradingPeriod", "semester", "schoolYear", "term"]},
        schoolYear={"type": "string", "pattern": r"^\d{4}$"},
    ),
    "demographics": _object([]),
    "imsx_StatusInfo": {
        "type": "object",
        "additionalProperties": False,
        "required": ["imsx_codeMajor", "imsx_severity", "imsx_CodeMinor"],
        "properties": {
            "imsx_codeMajor": {
                "type": "string",
                "enum": ["success", "processing", "failure", "unsupported"],
            },
            "imsx_severity": {"type": "string", "enum": ["status", "warning", "error"]},
            "imsx_description": TEXT,
            "imsx_CodeMinor": {
                "type": "object",
                "required": ["imsx_codeMinorField"],
                "properties": {
                    "imsx_codeMinorField": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["imsx_codeMinorFieldName", "imsx_codeMinorFieldValue"],
                            "properties": {
                                "imsx_codeMinorFieldName": TEXT,
                                "imsx_codeMinorFieldValue": TEXT,
                            },
                        },
                    }
                },
            },
        },
    },
}


def answer_schema(kind: str, key: str, many: bool) -> Schema:
    """The schema of an answer holding one record of `kind` under `key`, or a list of them."""
    item: Schema = {"$ref": f"#/components/schemas/{kind}"}
    body = {"type": "array", "items": item} if many else item
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [key],
        "properties": {key: body},
    }


def document(base_url: str, described: list[tuple[str, str, str, bool]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `described` paths (path, type, key, many) at `base_url`."""
    error = {
        "description": "An imsx_StatusInfo error.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/imsx_StatusInfo"}}
        },
    }
    paths: dict[str, Any] = {}
    for path, kind, key, many in described:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(path)
        ]
        if many:
            parameters += [
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "sort", "in": "query", "schema": {"type": "string"}},
                {"name": "orderBy", "in": "query", "schema": {"enum": ["asc", "desc"]}},
                {"name": "filter", "in": "query", "schema": {"type": "string"}},
                {"name": "fields", "in": "query", "schema": {"type": "string"}},
            ]
        paths[path] = {
            "get": {
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": answer_schema(kind, key, many)}},
                    },
                    **{status: error for status in ("400", "401", "403", "404", "500")},
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OneRoster 1.2 Rostering Service (read)",
            "version": "1.2",
            "description": "The rosters of the enrollment service in OneRoster 1.2 (API.md v1.3).",
        },
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
