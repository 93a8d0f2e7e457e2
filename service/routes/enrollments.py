"""`/students/{student_id}/courses...` and `/courses/{course_id}/students`."""

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import audit
from service.pagination import page_of, parse_page_request
from service.plumbing.idempotency import idempotent
from service.plumbing.starlette_overrides import route
from service.problems import (
    AlreadyEnrolled,
    BadRequest,
    CourseFull,
    NotFound,
    Problem,
    UnknownCourses,
    ValidationFailed,
    field_error,
    parameter_error,
)
from service.repositories import enrollments
from service.repositories.enrollments import BatchOutcome
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
            request.state.db, student_id=student_id, course_id=course_id
        )
        waitlisted = view["status"] == "waitlisted"
        attempt.waitlisted = [course_id] if waitlisted else []
    if not attempt.created:
        return JSONResponse(view, status_code=200)
    return JSONResponse(view, status_code=202 if waitlisted else 201)


# A batch's pairs that took a seat or a place, or held one already, by their outcome.
_PAIR_STATUS = {"enrolled": 201, "waitlisted": 202, "held": 200}


def _pair_problem(pair: BatchOutcome) -> Problem | None:
    """What PUT would have answered for a pair a batch did not enroll, tried on its own."""
    if pair.outcome == "unknown_student":
        return NotFound(f"student {pair.student_id} does not exist")
    if pair.outcome == "unknown_course":
        return NotFound(f"course {pair.course_id} does not exist")
    if pair.outcome == "full":
        return CourseFull(f"no seats left in course {pair.course_id}", course_ids=[pair.course_id])
    return None


def _pairs(pairs: list[BatchOutcome]) -> list[dict[str, int]]:
    return [{"student_id": p.student_id, "course_id": p.course_id} for p in pairs]


def _atomic_refusal(outcomes: list[BatchOutcome]) -> Problem | None:
    """The problem of the first rule some pair fails, in POST /students/{id}/courses's
    order (API.md), with `items` naming each pair that fails it; None when none fails."""

    problem: Problem
    for rule in ("unknown_student", "unknown_course", "held", "full"):
        if failed := [pair for pair in outcomes if pair.outcome == rule]:
            break
    else:
        return None
    if rule == "unknown_student":
        students = sorted({pair.student_id for pair in failed})
        problem = NotFound(f"students {students} do not exist")
    elif rule == "unknown_course":
        problem = UnknownCourses(
            [
                field_error(f"/items/{i}/course_id", f"course {pair.course_id} does not exist")
                for i, pair in enumerate(outcomes)
                if pair.outcome == rule
            ]
        )
    elif rule == "held":
        problem = AlreadyEnrolled(f"{len(failed)} pairs already enrolled or waitlisted")
    else:
        courses = sorted({pair.course_id for pair in failed})
        problem = CourseFull(f"no seats left in courses {courses}", course_ids=courses)
    problem.extensions["items"] = _pairs(failed)
    return problem


def _batch_item(pair: BatchOutcome, instance: str) -> dict[str, object]:
    problem = _pair_problem(pair)
    status = problem.status if problem else _PAIR_STATUS[pair.outcome]
    audit.batch_pair(pair.student_id, pair.course_id, status, problem)
    return {
        "student_id": pair.student_id,
        "course_id": pair.course_id,
        "status": status,
        "enrollment": pair.view,
        "problem": problem.body(instance) if problem else None,
    }


async def enroll_batch(request: Request) -> Response:
    body = validate(EnrollmentBatch, await read_json(request))
    outcomes = await enrollments.enroll_batch(
        request.state.db,
        pairs=[(item.student_id, item.course_id) for item in body.items],
        atomic=body.atomic,
        waitlist=body.waitlist,
    )
    if body.atomic and (refusal := _atomic_refusal(outcomes)):
        for pair in outcomes:
            failed = pair.outcome != "refused"
            audit.batch_pair(
                pair.student_id, pair.course_id, refusal.status, refusal if failed else None
            )
        raise refusal
    instance = request.url.path  # built once: each item's problem names it
    items = [_batch_item(pair, instance) for pair in outcomes]
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
    Route("/students/{student_id:int}/courses", idempotent(enroll_student), methods=["POST"]),
    Route("/enrollments/batch", idempotent(enroll_batch), methods=["POST"]),
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
