"""`/students/{student_id}/courses...` and `/courses/{course_id}/students`."""

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from service import audit, enrollment_batch
from service.pagination import page_of, parse_page_request
from service.problems import (
    BadRequest,
    NotFound,
    ValidationFailed,
    parameter_error,
)
from service.repositories import enrollments
from service.routes import route
from service.schemas.enrollments import EnrollmentBatch, EnrollmentCreate, EnrollmentStatusChange
from service.web import JSONResponse, no_content, path_id, read_json, validate

STATUSES = ("enrolled", "waitlisted", "dropped", "completed")


def parse_statuses(query: QueryParams) -> list[str]:
    """`?status=` as a comma list of enrollment statuses (default `enrolled`), or 422."""
    statuses = query.get("status", "enrolled").split(",")
    if unknown := [s for s in statuses if s not in STATUSES]:
        raise ValidationFailed(
            [parameter_error("status", f"{unknown} not among {', '.join(STATUSES)}")]
        )
    return statuses


async def _enrollment_body(request: Request, student_id: int) -> EnrollmentCreate:
    try:
        return validate(EnrollmentCreate, await read_json(request))
    except (BadRequest, ValidationFailed):
        # API.md ranks an unknown student (404) above an invalid body.
        if not await enrollments.student_exists(request.state.db, student_id=student_id):
            raise NotFound(f"student {student_id} does not exist") from None
        raise


async def enroll_student(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    with audit.enrollment_attempt(student_id) as attempt:
        body = await _enrollment_body(request, student_id)
        attempt.course_ids = body.course_ids
        views, waitlisted = await enrollments.enroll_student(
            request.state.db,
            student_id=student_id,
            course_ids=body.course_ids,
            waitlist=body.waitlist,
        )
        attempt.waitlisted = [v["id"] for v in views if v["status"] == "waitlisted"]
    return JSONResponse({"items": views}, status_code=202 if waitlisted else 201)


async def enroll_in_course(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    course_id = path_id(request, "course_id")
    with audit.enrollment_attempt(student_id, [course_id]) as attempt:
        view, attempt.created = await enrollments.enroll_in_course(
            request.state.db,
            student_id=student_id,
            course_id=course_id,
            full_courses=request.state.full_courses,
        )
        waitlisted = view["status"] == "waitlisted"
        attempt.waitlisted = [course_id] if waitlisted else []
    if not attempt.created:
        return JSONResponse(view, status_code=200)
    return JSONResponse(view, status_code=202 if waitlisted else 201)


async def enroll_batch(request: Request) -> Response:
    body = validate(EnrollmentBatch, await read_json(request))
    outcomes = await enrollments.enroll_batch(
        request.state.db,
        pairs=[(item.student_id, item.course_id) for item in body.items],
        atomic=body.atomic,
        waitlist=body.waitlist,
    )
    if body.atomic and (refusal := enrollment_batch.atomic_refusal(outcomes)):
        audit.batch_refused(outcomes, refusal)
        raise refusal
    answers = enrollment_batch.answers(outcomes)
    audit.batch_answered(answers)
    items = [answer.body(request.url.path) for answer in answers]
    if not body.atomic:
        return JSONResponse({"items": items})
    waitlisted = any(pair.outcome == "waitlisted" for pair in outcomes)
    return JSONResponse({"items": items}, status_code=202 if waitlisted else 201)


async def list_student_courses(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    page = parse_page_request(request.query_params)
    statuses = parse_statuses(request.query_params)
    rows = await enrollments.list_student_courses(
        request.state.db, student_id=student_id, statuses=statuses, page=page
    )
    if rows is None:
        raise NotFound(f"student {student_id} does not exist")
    return JSONResponse(page_of(rows, page))


async def drop_course(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    course_id = path_id(request, "course_id")
    promoted = await enrollments.drop(request.state.db, student_id=student_id, course_id=course_id)
    if promoted is None:
        raise NotFound(f"student {student_id} is not enrolled in course {course_id}")
    audit.status_changed(student_id, course_id, "dropped")
    audit.promoted(promoted)
    return no_content()


async def change_enrollment_status(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    course_id = path_id(request, "course_id")
    body = validate(EnrollmentStatusChange, await read_json(request))
    view, promoted = await enrollments.change_status(
        request.state.db, student_id=student_id, course_id=course_id, **body.model_dump()
    )
    audit.status_changed(student_id, course_id, body.status)
    audit.promoted(promoted)
    return JSONResponse(view)


async def list_enrollment_history(request: Request) -> Response:
    student_id = path_id(request, "student_id")
    course_id = path_id(request, "course_id")
    page = parse_page_request(request.query_params)
    rows = await enrollments.list_history(
        request.state.db, student_id=student_id, course_id=course_id, page=page
    )
    if rows is None:
        raise NotFound(f"student {student_id} has never enrolled in course {course_id}")
    return JSONResponse(page_of(rows, page))


QUEUE_CURSOR = "ticket:"  # a waitlist's page resumes after a ticket, not an id


async def list_course_students(request: Request) -> Response:
    course_id = path_id(request, "course_id")
    statuses = parse_statuses(request.query_params)
    queue = statuses == ["waitlisted"]  # listed in queue order (API.md "Waitlist")
    query = request.query_params
    page = parse_page_request(query, QUEUE_CURSOR) if queue else parse_page_request(query)
    rows = await enrollments.list_course_students(
        request.state.db, course_id=course_id, statuses=statuses, page=page
    )
    if rows is None:
        raise NotFound(f"course {course_id} does not exist")
    if queue:
        return JSONResponse(page_of(rows, page, key="waitlist_ticket", prefix=QUEUE_CURSOR))
    return JSONResponse(page_of(rows, page))


routes = [
    route("/students/{student_id:int}/courses", "POST", enroll_student, idempotent=True),
    route("/enrollments/batch", "POST", enroll_batch, idempotent=True),
    route("/students/{student_id:int}/courses", "GET", list_student_courses),
    route("/students/{student_id:int}/courses/{course_id:int}", "PUT", enroll_in_course),
    route("/students/{student_id:int}/courses/{course_id:int}", "DELETE", drop_course),
    route("/students/{student_id:int}/courses/{course_id:int}", "PATCH", change_enrollment_status),
    route(
        "/students/{student_id:int}/courses/{course_id:int}/history",
        "GET",
        list_enrollment_history,
    ),
    route("/courses/{course_id:int}/students", "GET", list_course_students),
]
