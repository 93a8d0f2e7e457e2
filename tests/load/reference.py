"""The lean reference endpoint: Starlette and asyncpg serving GET /students/{id} with the
service's own SQL and nothing else (no middleware, no validation, no problem details), so
the service's rate can be read as a ratio of what this stack does bare."""

import os
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

STUDENTS = load_queries("students")


async def get_student(request: Request) -> Response:
    student_id = request.path_params["student_id"]
    async with request.state.pool.acquire() as conn:
        rows = await STUDENTS["select-student-with-courses"].fetch(conn, student_id=student_id)
    if not rows:
        return Response(status_code=404)
    body = orjson.dumps(student_with_courses(rows), option=orjson.OPT_UTC_Z)
    return Response(body, media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    # The service's no-op reset too: the ratio should measure the service's own layers, not a
    # round trip only the reference pays.
    pool = asyncpg.create_pool(os.environ["DATABASE_URL"], max_size=10, reset=keep_session)
    async with pool:
        yield {"pool": pool}


app = Starlette(routes=[Route("/students/{student_id:int}", get_student)], lifespan=lifespan)
