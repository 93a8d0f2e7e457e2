"""`/courses` and `/courses/{course_id}`."""

from starlette.requests import Request
from starlette.responses import Response

from service import audit
from service.pagination import page_of, parse_page_request
from service.plumbing import conditional
from service.problems import NotFound
from service.repositories import courses
from service.routes import route
from service.schemas.courses import CourseCreate, CourseUpdate
from service.web import JSONResponse, created, no_content, path_id, query_text, read_json, validate


def _not_found(course_id: int) -> NotFound:
    return NotFound(f"course {course_id} does not exist")


async def create_course(request: Request) -> Response:
    body = validate(CourseCreate, await read_json(request))
    course = await courses.create_course(request.state.db, **body.model_dump())
    return created(course, f"/courses/{course['id']}")


async def list_courses(request: Request) -> Response:
    page = parse_page_request(request.query_params)
    code = query_text(request, "code")
    rows = await courses.list_courses(request.state.db, page=page, code=code)
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
]
