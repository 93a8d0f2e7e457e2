"""`/students` and `/students/{student_id}`."""

from starlette.requests import Request
from starlette.responses import Response

from service import audit
from service.pagination import page_of, parse_page_request
from service.plumbing import conditional
from service.problems import NotFound
from service.repositories import students
from service.routes import route
from service.schemas.students import StudentCreate, StudentUpdate, StudentUpsert
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


def _not_found(student_id: int) -> NotFound:
    return NotFound(f"student {student_id} does not exist")


async def create_student(request: Request) -> Response:
    body = validate(StudentCreate, await read_json(request))
    student = await students.create_student(request.state.db, body.model_dump())
    return created(student, f"/students/{student['id']}")


async def list_students(request: Request) -> Response:
    page = parse_page_request(request.query_params)
    email, external_id = query_text(request, "email"), query_external_id(request)
    rows = await students.list_students(
        request.state.db, page=page, email=email, external_id=external_id
    )
    return JSONResponse(page_of(rows, page))


async def get_student(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    student = await students.get_student_with_courses(request.state.db, student_id=student_id)
    if student is None:
        raise _not_found(student_id)
    return conditional.read(request, student)


async def update_student(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    body = validate(StudentUpdate, await read_json(request))
    student = await students.update_student(
        request.state.db,
        student_id=student_id,
        changes=body.changes(),
        precondition=conditional.precondition(request),
    )
    if student is None:
        raise _not_found(student_id)
    return JSONResponse(student)


async def put_student_by_external_id(request: Request) -> Response:
    external_id = path_external_id(request)
    payload = await read_json(request)
    body = validate(StudentUpsert, payload)
    student, was_created = await students.upsert_student(
        request.state.db,
        external_id=external_id,
        changes=body.changes(),
        new_student=lambda: validate(StudentCreate, payload).model_dump(),
    )
    if was_created:
        return created(student, f"/students/{student['id']}")
    return JSONResponse(student)


async def delete_student(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    promoted = await students.delete_student(
        request.state.db, student_id=student_id, precondition=conditional.precondition(request)
    )
    if promoted is None:
        raise _not_found(student_id)
    audit.promoted(promoted)
    return no_content()


# Routes are tried in order (Starlette's Router), each a regex match: the most requested
# first.
routes = [
    route("/students/{student_id:int}", "GET", get_student),
    route("/students/{student_id:int}", "PATCH", update_student),
    route("/students/{student_id:int}", "DELETE", delete_student),
    route("/students", "POST", create_student, idempotent=True),
    route("/students", "GET", list_students),
    route(
        "/students/by-external-id/{external_id}", "PUT", put_student_by_external_id, raw_path=True
    ),
]
