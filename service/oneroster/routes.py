"""The OneRoster 1.2 rostering endpoints (API.md v1.3), read-only, under BASE_PATH.

A collection is its type's source (sql/oneroster.sql) as `r`, narrowed by the endpoint's
scope (a class's students, say: fixed SQL, the parent's key bound), then by the caller's
filter (parsed, compiled over the type's allow-list, values bound, parenthesized: it cannot
widen the scope), in a total order (the sort field, then sourcedId), one page of it.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.config import OneRosterSettings
from service.oneroster import BASE_PATH, discovery, errors
from service.oneroster.entities import (
    ACADEMIC_SESSION,
    CLASS,
    COURSE,
    DEMOGRAPHICS,
    ENROLLMENT,
    ORG,
    USER,
    Entity,
    source_values,
)
from service.oneroster.filters import Filter, FilterError, Params, compile_filter, parse
from service.oneroster.mapping import Refs
from service.oneroster.paging import Paging, links
from service.plumbing import tracing
from service.plumbing.starlette_overrides import Handler
from service.queries import Connection, load_queries
from service.repositories import changes
from service.routes import route
from service.web import JSONResponse

SQL = load_queries("oneroster")
DEFAULT_LIMIT = 100
MOST_PER_PAGE = 1000
HOLDS_A_SEAT = "('enrolled', 'completed')"  # the statuses a class's roster shows
ENROLLMENT_ID = re.compile(r"enrollment-([1-9][0-9]{0,18})-([1-9][0-9]{0,18})")
# The endpoint's own scope, as a condition over `r`, its values added to the Params; raises
# unknownobject when the parent named in the path names nothing.
Scope = Callable[[Connection, Request, Params], Awaitable[str]]


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int
    sort: str
    descending: bool
    filter: Filter | None
    filter_text: str
    fields: tuple[str, ...] | None


def _integer(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < low:
        raise errors.invalid_data(f"{name} must be an integer of at least {low}, got {raw!r}")
    return int(raw)


def _page_request(request: Request, entity: Entity) -> PageRequest:
    query = request.query_params
    sort = query.get("sort", "sourcedId")
    if sort not in entity.fields:
        raise errors.invalid_data(f"sort: {entity.plural} cannot be sorted by {sort!r}")
    order = query.get("orderBy", "asc")
    if order not in ("asc", "desc"):
        raise errors.invalid_data(f"orderBy must be asc or desc, got {order!r}")
    filter_text = query.get("filter", "")
    parsed = None
    if filter_text:
        try:
            parsed = parse(filter_text)
        except FilterError as error:
            raise errors.invalid_filter(f"filter: {error}") from None
    fields = None
    if listed := query.getlist("fields"):
        fields = tuple(f.strip() for item in listed for f in item.split(",") if f.strip())
        if unknown := [f for f in fields if f not in entity.selectable]:
            raise errors.invalid_selection(f"fields: {entity.plural} have no {', '.join(unknown)}")
    return PageRequest(
        # Above the most a page holds, the binding asks for the most, not an error.
        limit=min(_integer(request, "limit", DEFAULT_LIMIT, 1), MOST_PER_PAGE),
        offset=_integer(request, "offset", 0, 0),
        sort=sort,
        descending=order == "desc",
        filter=parsed,
        filter_text=filter_text,
        fields=fields,
    )


def _refs(request: Request) -> Refs:
    settings: OneRosterSettings = request.state.oneroster_settings
    return Refs(str(request.base_url).rstrip("/") + BASE_PATH, settings)


def _source(entity: Entity, refs: Refs) -> tuple[str, Params]:
    """The type's source statement and the values it takes, bound first."""
    query = SQL[entity.source]
    return _inner(entity.source), Params(query.bind(source_values(entity, refs)))


def _inner(source: str) -> str:
    """A source statement as a subquery: without its closing semicolon."""
    return SQL[source].text.rstrip(";")


def _selected(item: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    return item if fields is None else {k: v for k, v in item.items() if k in fields}


async def _fetch(conn: Connection, name: str, sql: str, values: list[Any]) -> list[asyncpg.Record]:
    with tracing.statement(name):
        return await conn.fetch(sql, *values)


async def _collection(request: Request, entity: Entity, scope: Scope) -> Response:
    page = _page_request(request, entity)
    refs = _refs(request)
    source, params = _source(entity, refs)
    paging: Paging = request.state.oneroster_paging
    field = entity.fields[page.sort]
    direction = "DESC" if page.descending else "ASC"
    shape = (request.url.path, page.filter_text, page.sort, page.descending)
    async with request.state.db.connection() as conn:
        condition = await scope(conn, request, params)
        if page.filter is not None:
            try:
                condition += " AND " + compile_filter(page.filter, entity.fields, params)
            except FilterError as error:
                raise errors.invalid_filter(f"filter: {error}") from None
        where = f"FROM ({source}) AS r WHERE {condition}"
        head = await changes.sequence(conn)
        counted = paging.counts.get(shape)
        if counted is not None and counted[0] == head:
            total = counted[1]
        else:
            rows = await _fetch(conn, "oneroster-count", f"SELECT count(*) {where}", params.values)
            total = rows[0][0]
            paging.counts.put(shape, (head, total))
        resume = paging.resume_points.get((shape, page.offset)) if page.offset else None
        if resume is None:
            skip = f"OFFSET {params.add(page.offset)}"
        else:
            # Where the page before ended: the rows after it, in the same total order.
            after = "<" if page.descending else ">"
            sort_value, sourced_id = resume
            if page.sort == "sourcedId":
                where += f' AND r."sourcedId" {after} {params.add(sourced_id)}::text'
            else:
                cast = "::timestamptz" if field.kind == "instant" else "::text"
                value = params.add(sort_value) + cast
                where += (
                    f' AND ({field.column}, r."sourcedId") {after}'
                    f" ({value}, {params.add(sourced_id)}::text)"
                )
            skip = ""
        rows = await _fetch(
            conn,
            f"oneroster-{entity.plural}",
            f"SELECT r.*, {field.column} AS sort_value {where}"
            f' ORDER BY sort_value {direction}, r."sourcedId" {direction}'
            f" LIMIT {params.add(page.limit)} {skip}",
            params.values,
        )
    if rows:
        last = rows[-1]
        paging.resume_points.put(
            (shape, page.offset + len(rows)), (last["sort_value"], last["sourcedId"])
        )
    items = [_selected(entity.show(row, refs), page.fields) for row in rows]
    return JSONResponse(
        {entity.plural: items},
        headers={
            "X-Total-Count": str(total),
            "Link": links(request.url, offset=page.offset, limit=page.limit, total=total),
        },
    )


async def _record(request: Request, entity: Entity) -> Response:
    """One record by its sourcedId, a tobedeleted one only when no active one has it."""
    sourced_id: str = request.path_params["sourcedId"]
    refs = _refs(request)
    source, params = _source(entity, refs)
    condition = f'r."sourcedId" = {params.add(sourced_id)}::text'
    if entity is ENROLLMENT:  # found by its key, not by a scan for the text made of it
        if (key := ENROLLMENT_ID.fullmatch(sourced_id)) is None:
            raise _unknown(entity, sourced_id)
        condition += f" AND r.student_id = {params.add(int(key[1]))}"
        condition += f" AND r.course_id = {params.add(int(key[2]))}"
    async with request.state.db.connection() as conn:
        rows = await _fetch(
            conn,
            f"oneroster-{entity.single}",
            f"SELECT r.* FROM ({source}) AS r WHERE {condition}"
            " ORDER BY r.status <> 'active' LIMIT 1",
            params.values,
        )
    if not rows:
        raise _unknown(entity, sourced_id)
    fields = _page_request(request, entity).fields
    return JSONResponse({entity.single: _selected(entity.show(rows[0], refs), fields)})


def _unknown(entity: Entity, sourced_id: str) -> errors.OneRosterError:
    return errors.unknown_object(f"no {entity.single} has sourcedId {sourced_id!r}")


# Scopes.


async def everything(conn: Connection, request: Request, params: Params) -> str:
    return "true"


async def nothing(conn: Connection, request: Request, params: Params) -> str:
    return "false"


async def _parent_id(conn: Connection, entity: Entity, sourced_id: str, kind: str) -> int:
    """Our id of the active record of `entity` (a course's for a class or a course, a
    student's for a user) with this sourcedId; unknownobject, naming it a `kind`, if none."""
    column = "student_id" if entity is USER else "course_id"
    rows = await _fetch(
        conn,
        "oneroster-parent",
        f"SELECT r.{column} FROM ({_inner(entity.source)}) AS r"
        " WHERE r.\"sourcedId\" = $1::text AND r.status = 'active'",
        [sourced_id],
    )
    if not rows:
        raise errors.unknown_object(f"no {kind} has sourcedId {sourced_id!r}")
    parent_id: int = rows[0][0]
    return parent_id


def _check_configured(request: Request, kind: str) -> None:
    """The school or term named in the path is the configured one; unknownobject if not."""
    settings: OneRosterSettings = request.state.oneroster_settings
    named = request.path_params[kind]
    if named != getattr(settings, kind).sourced_id:
        raise errors.unknown_object(f"no {kind} has sourcedId {named!r}")


async def class_students(conn: Connection, request: Request, params: Params) -> str:
    course_id = await _parent_id(conn, CLASS, request.path_params["class"], "class")
    return (
        "r.status = 'active' AND r.student_id IN (SELECT sc.student_id FROM student_courses"
        f" AS sc WHERE sc.course_id = {params.add(course_id)} AND sc.status IN {HOLDS_A_SEAT})"
    )


async def class_enrollments(conn: Connection, request: Request, params: Params) -> str:
    course_id = await _parent_id(conn, CLASS, request.path_params["class"], "class")
    return f"r.course_id = {params.add(course_id)}"


async def class_teachers(conn: Connection, request: Request, params: Params) -> str:
    await _parent_id(conn, CLASS, request.path_params["class"], "class")
    return "false"


async def course_classes(conn: Connection, request: Request, params: Params) -> str:
    course_id = await _parent_id(conn, COURSE, request.path_params["course"], "course")
    return f"r.course_id = {params.add(course_id)}"


async def user_classes(conn: Connection, request: Request, params: Params) -> str:
    student_id = await _parent_id(conn, USER, request.path_params["user"], "user")
    return (
        "r.status = 'active' AND r.course_id IN (SELECT sc.course_id FROM student_courses"
        f" AS sc WHERE sc.student_id = {params.add(student_id)} AND sc.status IN {HOLDS_A_SEAT})"
    )


async def teacher_classes(conn: Connection, request: Request, params: Params) -> str:
    raise errors.unknown_object(f"no teacher has sourcedId {request.path_params['teacher']!r}")


def within(kind: str, then: Scope) -> Scope:
    """`then`, under the configured school or term (`kind`) the path names."""

    async def scope(conn: Connection, request: Request, params: Params) -> str:
        _check_configured(request, kind)
        return await then(conn, request, params)

    return scope


@dataclass(frozen=True)
class Endpoint:
    """A handler, and what the discovery document says of it."""

    handler: Handler
    entity: Entity
    many: bool


def collection(name: str, entity: Entity, scope: Scope = everything) -> Endpoint:
    async def handler(request: Request) -> Response:
        return await _collection(request, entity, scope)

    handler.__name__ = f"oneroster_{name}"
    return Endpoint(handler, entity, many=True)


def record(name: str, entity: Entity, *, held: bool = True) -> Endpoint:
    """One record of `entity`; not `held`: a type we hold none of (always unknownobject)."""

    async def handler(request: Request) -> Response:
        if not held:
            sourced_id = request.path_params["sourcedId"]
            raise errors.unknown_object(f"no {name} has sourcedId {sourced_id!r}")
        return await _record(request, entity)

    handler.__name__ = f"oneroster_{name}"
    return Endpoint(handler, entity, many=False)


ENDPOINTS = {
    "/users": collection("users", USER),
    "/users/{sourcedId}": record("user", USER),
    "/students": collection("students", USER),
    "/students/{sourcedId}": record("student", USER),
    "/teachers": collection("teachers", USER, nothing),
    "/teachers/{sourcedId}": record("teacher", USER, held=False),
    "/classes": collection("classes", CLASS),
    "/classes/{sourcedId}": record("class", CLASS),
    "/courses": collection("courses", COURSE),
    "/courses/{sourcedId}": record("course", COURSE),
    "/enrollments": collection("enrollments", ENROLLMENT),
    "/enrollments/{sourcedId}": record("enrollment", ENROLLMENT),
    "/orgs": collection("orgs", ORG),
    "/orgs/{sourcedId}": record("org", ORG),
    "/schools": collection("schools", ORG),
    "/schools/{sourcedId}": record("school", ORG),
    "/academicSessions": collection("academic_sessions", ACADEMIC_SESSION),
    "/academicSessions/{sourcedId}": record("academic_session", ACADEMIC_SESSION),
    "/terms": collection("terms", ACADEMIC_SESSION),
    "/terms/{sourcedId}": record("term", ACADEMIC_SESSION),
    "/gradingPeriods": collection("grading_periods", ACADEMIC_SESSION, nothing),
    "/gradingPeriods/{sourcedId}": record("grading_period", ACADEMIC_SESSION, held=False),
    "/demographics": collection("demographics", DEMOGRAPHICS, nothing),
    "/demographics/{sourcedId}": record("demographics_record", DEMOGRAPHICS, held=False),
    "/classes/{class}/students": collection("class_students", USER, class_students),
    "/classes/{class}/teachers": collection("class_teachers", USER, class_teachers),
    "/courses/{course}/classes": collection("course_classes", CLASS, course_classes),
    "/students/{user}/classes": collection("student_classes", CLASS, user_classes),
    "/users/{user}/classes": collection("user_classes", CLASS, user_classes),
    "/teachers/{teacher}/classes": collection("teacher_classes", CLASS, teacher_classes),
    "/terms/{term}/classes": collection("term_classes", CLASS, within("term", everything)),
    "/terms/{term}/gradingPeriods": collection(
        "term_grading_periods", ACADEMIC_SESSION, within("term", nothing)
    ),
    "/schools/{school}/classes": collection("school_classes", CLASS, within("school", everything)),
    "/schools/{school}/courses": collection("school_courses", COURSE, within("school", everything)),
    "/schools/{school}/students": collection("school_students", USER, within("school", everything)),
    "/schools/{school}/teachers": collection("school_teachers", USER, within("school", nothing)),
    "/schools/{school}/terms": collection(
        "school_terms", ACADEMIC_SESSION, within("school", everything)
    ),
    "/schools/{school}/enrollments": collection(
        "school_enrollments", ENROLLMENT, within("school", everything)
    ),
    "/schools/{school}/classes/{class}/enrollments": collection(
        "school_class_enrollments", ENROLLMENT, within("school", class_enrollments)
    ),
    "/schools/{school}/classes/{class}/students": collection(
        "school_class_students", USER, within("school", class_students)
    ),
    "/schools/{school}/classes/{class}/teachers": collection(
        "school_class_teachers", USER, within("school", class_teachers)
    ),
}


async def discovery_document(request: Request) -> Response:
    described = [
        (path, e.entity.single, e.entity.plural if e.many else e.entity.single, e.many)
        for path, e in ENDPOINTS.items()
    ]
    return JSONResponse(discovery.document(_refs(request).base, described))


routes: list[Route] = [
    *(route(BASE_PATH + path, "GET", e.handler, raw_path=True) for path, e in ENDPOINTS.items()),
    route(BASE_PATH + discovery.PATH, "GET", discovery_document),
]
