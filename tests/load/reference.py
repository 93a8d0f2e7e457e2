"""The lean reference endpoints: Starlette and asyncpg and nothing else (no middleware, no
validation), so the service's rate can be read as a ratio of what this stack does bare.
GET /students/{id} runs the service's own SQL; PUT /students/{id}/courses/{course_id} is
the lean rush (tests/load/lean_rush.py): its own statement, writing what the service's
enrollment writes, answering in the service's shapes and logging a line per attempt."""

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.database import keep_session
from service.queries import load_queries
from service.repositories.students import student_with_courses
from tests.load import lean_rush

STUDENTS = load_queries("students")


async def get_student(request: Request) -> Response:
    student_id = request.path_params["student_id"]
    async with request.state.pool.acquire() as conn:
        rows = await STUDENTS["select-student-with-courses"].fetch(conn, student_id=student_id)
    if not rows:
        return Response(status_code=404)
    body = orjson.dumps(student_with_courses(rows), option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


def _json(content: object, status_code: int, media_type: str = "application/json") -> Response:
    body = orjson.dumps(content, option=orjson.OPT_UTC_Z)
    return Response(body, status_code=status_code, media_type=media_type)


def _log(event: str, student_id: int, course_id: int, request_id: str, **more: object) -> None:
    """The line the contract asks of every enrollment attempt (API.md "Logging")."""
    line = {"event": event, "student_id": student_id, "course_ids": [course_id]}
    line |= {"actor": "load", "request_id": request_id, **more}
    sys.stdout.write(orjson.dumps(line).decode() + "\n")


OUTCOME_STATUS = {"held": 200, "enrolled": 201, "waitlisted": 202}


async def enroll_in_course(request: Request) -> Response:
    student_id, course_id = request.path_params["student_id"], request.path_params["course_id"]
    request_id = os.urandom(8).hex()
    async with request.state.pool.acquire() as conn:
        row = await conn.fetchrow(lean_rush.ENROLL, student_id, course_id, "load", request_id)
    if row is None:
        return Response(status_code=404)
    if row["outcome"] == "full":
        _log("enrollment.rejected", student_id, course_id, request_id, reason="full")
        problem = {
            "type": "https://enrollment.example/problems/course-full",
            "title": "Course full",
            "status": 409,
            "detail": f"no seats left in course {course_id}",
            "instance": request.url.path,
            "course_ids": [course_id],
        }
        return _json(problem, 409, "application/problem+json")
    view = dict(row.items())
    outcome = view.pop("outcome")
    status = OUTCOME_STATUS["held" if outcome == "held" else view["status"]]
    if status != 200:
        _log(f"enrollment.{view['status']}", student_id, course_id, request_id)
    return _json(view, status)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    # The service's no-op reset too: the ratio should measure the service's own layers, not a
    # round trip only the reference pays.
    pool = asyncpg.create_pool(os.environ["DATABASE_URL"], max_size=10, reset=keep_session)
    async with pool:
        yield {"pool": pool}


routes = [
    Route("/students/{student_id:int}", get_student),
    Route("/students/{student_id:int}/courses/{course_id:int}", enroll_in_course, methods=["PUT"]),
]
app = Starlette(routes=routes, lifespan=lifespan)
