"""Courses: create, read, page, change and delete."""

from typing import Any

import asyncpg

from service.database import Database
from service.pagination import PageRequest
from service.problems import Conflict
from service.queries import Connection, load_queries
from service.repositories import Precondition, as_dict, as_dicts, enrollments
from service.repositories.enrollments import Promotions

SQL = load_queries("courses")
Course = dict[str, Any]


def _code_taken(code: str) -> Conflict:
    return Conflict(f"a course with code {code!r} already exists")


async def create_course(
    db: Database, *, code: str, title: str, capacity: int | None, waitlist_capacity: int
) -> Course:
    """The new course; Conflict when the code is taken, ignoring case."""
    async with db.connection() as conn:
        try:
            row = await SQL["insert-course"].fetchrow(
                conn,
                code=code,
                title=title,
                capacity=capacity,
                waitlist_capacity=waitlist_capacity,
            )
        except asyncpg.UniqueViolationError:
            raise _code_taken(code) from None
    assert row is not None
    return as_dict(row)


async def get_course(db: Database, *, course_id: int) -> Course | None:
    async with db.connection() as conn:
        row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
    return as_dict(row) if row else None


async def list_courses(db: Database, *, page: PageRequest, code: str | None) -> list[Course]:
    """Up to `page.limit + 1` courses after the cursor, optionally only the one with `code`."""
    async with db.connection() as conn:
        if code is None:
            rows = await SQL["select-courses"].fetch(
                conn, after_id=page.after_id, limit=page.limit + 1
            )
        else:
            rows = await SQL["select-courses-by-code"].fetch(
                conn, code=code, after_id=page.after_id, limit=page.limit + 1
            )
    return as_dicts(rows)


async def _locked_and_checked(
    conn: Connection, course_id: int, precondition: Precondition | None
) -> bool:
    """Whether the course exists; with a precondition, it is locked and checked first."""
    if precondition is None:
        return True
    course = await SQL["lock-course"].fetchrow(conn, course_id=course_id)
    if course is None:
        return False
    precondition(as_dict(course))
    return True


async def update_course(
    db: Database,
    *,
    course_id: int,
    changes: dict[str, Any],
    precondition: Precondition | None = None,
) -> tuple[Course | None, Promotions]:
    """The changed course, None when unknown; Conflict on a taken code, a capacity below
    the students enrolled or a waitlist_capacity below those waiting. A raised capacity
    promotes waitlisted students in the same transaction: the pairs promoted come second.
    What `precondition` raises, with nothing changed."""
    if not changes and precondition is None:  # nothing to change: updated_at stays
        return await get_course(db, course_id=course_id), []
    values: dict[str, Any] = {"code": None, "title": None, "capacity": None}
    values |= {"waitlist_capacity": None, **changes}
    async with db.transaction() as conn:
        if not await _locked_and_checked(conn, course_id, precondition):
            return None, []
        if not changes:
            row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
            return as_dict(row) if row else None, []
        try:
            updated = await SQL["update-course"].fetchval(
                conn, course_id=course_id, set_capacity="capacity" in changes, **values
            )
        except asyncpg.UniqueViolationError:
            raise _code_taken(values["code"]) from None
        except asyncpg.CheckViolationError as error:
            raise _below_count(error, values) from None
        if updated is None:
            return None, []
        promoted = await enrollments.promoted_in_this_transaction(conn)
        row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
    return (as_dict(row) if row else None), promoted


def _below_count(error: asyncpg.CheckViolationError, values: dict[str, Any]) -> Exception:
    if error.constraint_name == "courses_enrolled_within_capacity":
        return Conflict(f"capacity {values['capacity']} is below the number of students enrolled")
    if error.constraint_name == "courses_waitlisted_within_capacity":
        return Conflict(
            f"waitlist_capacity {values['waitlist_capacity']} is below the number of "
            "students waitlisted"
        )
    return error


async def delete_course(
    db: Database, *, course_id: int, precondition: Precondition | None = None
) -> bool:
    """Whether a course was deleted, with its dropped and completed records; Conflict while
    any student is enrolled or waitlisted in it; what `precondition` raises, with nothing
    deleted."""
    async with db.transaction() as conn:
        if not await _locked_and_checked(conn, course_id, precondition):
            return False
        try:
            return await SQL["delete-course"].fetchval(conn, course_id=course_id) is not None
        except asyncpg.ForeignKeyViolationError:
            raise Conflict("students are enrolled in this course; drop them first") from None
