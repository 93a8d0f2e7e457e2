"""Courses: create, read, page, change and delete."""

from collections.abc import Callable
from typing import Any

import asyncpg

from service.database import Database
from service.pagination import PageRequest
from service.problems import Conflict
from service.queries import Connection, load_queries
from service.repositories import (
    Precondition,
    already_exists,
    as_dict,
    as_dicts,
    differing,
    enrollments,
    find_by_external_id,
    lock_external_id,
)
from service.repositories.enrollments import Promotions
from service.repositories.locks import LockClass

SQL = load_queries("courses")
Course = dict[str, Any]
WRITABLE = {
    "code": None,
    "title": None,
    "capacity": None,
    "waitlist_capacity": None,
    "external_id": None,
}


async def create_course(db: Database, course: dict[str, Any]) -> Course:
    """The new course from its fields (WRITABLE's, as CourseCreate gives them); Conflict
    when the code (ignoring case) or the external id is taken."""
    external_id = course["external_id"]
    # Setting an external id takes its lock, which only a transaction holds.
    async with db.transaction() if external_id is not None else db.connection() as conn:
        await _lock_external_id(conn, external_id)
        return await _insert(conn, course)


async def _lock_external_id(conn: Connection, external_id: str | None) -> None:
    await lock_external_id(
        conn, SQL["lock-course-external-id"], LockClass.COURSE_EXTERNAL_ID, external_id
    )


async def _insert(conn: Connection, values: dict[str, Any]) -> Course:
    try:
        row = await SQL["insert-course"].fetchrow(conn, **values)
    except asyncpg.UniqueViolationError as error:
        raise already_exists("course", error, values) from None
    assert row is not None
    return as_dict(row)


async def get_course(db: Database, *, course_id: int) -> Course | None:
    async with db.connection() as conn:
        row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
    return as_dict(row) if row else None


async def list_courses(
    db: Database, *, page: PageRequest, code: str | None, external_id: str | None
) -> list[Course]:
    """Up to `page.limit + 1` courses after the cursor, optionally only the one with `code`
    and `external_id`."""
    async with db.connection() as conn:
        if external_id is not None:
            rows = await SQL["select-courses-by-external-id"].fetch(
                conn,
                external_id=external_id,
                code=code,
                after_id=page.after_id,
                limit=page.limit + 1,
            )
        elif code is None:
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
    """The changed course, None when unknown; Conflict on a taken code or external id, a
    capacity below the students enrolled or a waitlist_capacity below those waiting. A
    raised capacity promotes waitlisted students in the same transaction: the pairs promoted
    come second. What `precondition` raises, with nothing changed."""
    if not changes and precondition is None:  # nothing to change: updated_at stays
        return await get_course(db, course_id=course_id), []
    async with db.transaction() as conn:
        await _lock_external_id(conn, changes.get("external_id"))
        if not await _locked_and_checked(conn, course_id, precondition):
            return None, []
        if not changes:
            row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
            return as_dict(row) if row else None, []
        return await _change(conn, course_id, changes)


async def _change(
    conn: Connection, course_id: int, changes: dict[str, Any]
) -> tuple[Course | None, Promotions]:
    values = WRITABLE | changes
    try:
        updated = await SQL["update-course"].fetchval(
            conn,
            course_id=course_id,
            set_capacity="capacity" in changes,
            set_external_id="external_id" in changes,
            **values,
        )
    except asyncpg.UniqueViolationError as error:
        raise already_exists("course", error, values) from None
    except asyncpg.CheckViolationError as error:
        raise _below_count(error, values) from None
    if updated is None:
        return None, []
    promoted = await enrollments.promoted_in_this_transaction(conn)
    row = await SQL["select-course-by-id"].fetchrow(conn, course_id=course_id)
    return (as_dict(row) if row else None), promoted


async def upsert_course(
    db: Database,
    *,
    external_id: str,
    changes: dict[str, Any],
    new_course: Callable[[], dict[str, Any]],
) -> tuple[Course, bool, Promotions]:
    """The course with this external id, whether it was created, and the pairs a raised
    capacity promoted: created from `new_course()` (which raises when the fields sent
    cannot make one) when there is none, else changed where `changes` differ from it, and
    left as it is (updated_at too) when none do. Conflict as update_course says.
    One transaction, holding the external id's lock (so concurrent calls for one new id
    create it once) and the course's row lock from the read to the write."""
    async with db.transaction() as conn:
        await _lock_external_id(conn, external_id)
        current = await find_by_external_id(conn, SQL["select-course-by-external-id"], external_id)
        if current is None:
            return await _insert(conn, new_course() | {"external_id": external_id}), True, []
        if not (changes := differing(current, changes)):
            return current, False, []
        changed, promoted = await _change(conn, current["id"], changes)
    assert changed is not None  # its row was locked since it was read
    return changed, False, promoted


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
