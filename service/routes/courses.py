"""`/courses` and `/courses/{course_id}`."""

from starlette.requests import Request
from starlette.responses import Response

from service import audit
from service.pagination import page_of, parse_page_request
from service.plumbing import conditional
from service.problems import NotFound
from service.repositories import courses
from service.routes import route
from service.schemas.courses import CourseCreate, CourseUpdate, CourseUpsert
from service.web import (
    JSONResponse,
    created,
    no_content,
    path_external_id,
    path_id,
    query_external_id,
    query_text,
    read_json,
    validate,
)


def _not_found(course_id: int) -> NotFound:
    return NotFound(f"course {course_id} does not exist")


async def create_course(request: Request) -> Response:
    body = validate(CourseCreate, await read_json(request))
    course = await courses.create_course(request.state.db, body.model_dump())
    return created(course, f"/courses/{course['id']}")


async def list_courses(request: Request) -> Response:
    page = parse_page_request(request.query_params)
    code, external_id = query_text(request, "code"), query_external_id(request)
    rows = await courses.list_courses(
        request.state.db, page=page, code=code, external_id=external_id
    )
    return JSONResponse(page_of(rows, page))


async def get_course(request: Request) -> Response:
    course_id = path_id(request, "course_id")
    course = await courses.get_course(request.state.db, course_id=course_id)
    if course is None:
        raise _not_found(course_id)
    return conditional.read(request, course)


async def update_course(request: Request) -> Response:
    course_id = path_id(request, "course_id")
    body = validate(CourseUpdate, await read_json(request))
    course, promoted = await courses.update_course(
        request.state.db,
        course_id=course_id,
        changes=body.changes(),
        precondition=conditional.precondition(request),
    )
    if course is None:
        raise _not_found(course_id)
    audit.promoted(promoted)
    return JSONResponse(course)


async def put_course_by_external_id(request: Request) -> Response:
    external_id = path_external_id(request)
    payload = await read_json(request)
    body = validate(CourseUpsert, payload)
    course, was_created, promoted = await courses.upsert_course(
        request.state.db,
        external_id=external_id,
        changes=body.changes(),
        new_course=lambda: validate(CourseCreate, payload).model_dump(),
    )
    audit.promoted(promoted)
    if was_created:
        return created(course, f"/courses/{course['id']}")
    return JSONResponse(course)


async def delete_course(request: Request) -> Response:
    course_id = path_id(request, "course_id")
    deleted = await courses.delete_course(
        request.state.db, course_id=course_id, precondition=conditional.precondition(request)
    )
    if not deleted:
        raise _not_found(course_id)
    return no_content()


routes = [
    route("/courses", "POST", create_course, idempotent=True),
    route("/courses", "GET", list_courses),
    route("/courses/{course_id:int}", "GET", get_course),
    route("/courses/{course_id:int}", "PATCH", update_course),
    route("/courses/{course_id:int}", "DELETE", delete_course),
    route("/courses/by-external-id/{external_id}", "PUT", put_course_by_external_id, raw_path=True),
]
