"""Students: create, read, page, change and delete."""

from typing import Any

import asyncpg

from service.database import Database
from service.pagination import PageRequest
from service.problems import Conflict
from service.queries import Connection, load_queries
from service.repositories import Precondition, as_dict, as_dicts, enrollments
from service.repositories.enrollments import Promotions

SQL = load_queries("students")
Student = dict[str, Any]
STUDENT_COLUMNS = ("id", "first_name", "last_name", "email", "created_at", "updated_at")


def _email_taken(email: str) -> Conflict:
    return Conflict(f"a student with email {email!r} already exists")


async def create_student(db: Database, *, first_name: str, last_name: str, email: str) -> Student:
    """The new student; Conflict when the email is taken, ignoring case."""
    async with db.connection() as conn:
        try:
            row = await SQL["insert-student"].fetchrow(
                conn, first_name=first_name, last_name=last_name, email=email
            )
        except asyncpg.UniqueViolationError:
            raise _email_taken(email) from None
    assert row is not None
    return as_dict(row)


async def get_student(db: Database, *, student_id: int) -> Student | None:
    async with db.connection() as conn:
        row = await SQL["select-student-by-id"].fetchrow(conn, student_id=student_id)
    return as_dict(row) if row else None


async def get_student_with_courses(db: Database, *, student_id: int) -> Student | None:
    """The student plus `courses`, every enrollment view; None when the student is unknown.
    One statement, where two would cost a second round trip (1.2x fewer tps in pgbench)."""
    async with db.connection() as conn:
        rows = await SQL["select-student-with-courses"].fetch(conn, student_id=student_id)
    return student_with_courses(rows) if rows else None


def student_with_courses(rows: list[asyncpg.Record]) -> Student:
    """Fold the joined rows: student columns from the first, one enrollment view per row."""
    first = rows[0]
    student = {key: first[key] for key in STUDENT_COLUMNS}
    student["courses"] = [
        {
            "id": row["course_id"],
            "code": row["code"],
            "title": row["title"],
            "capacity": row["capacity"],
            "enrolled_count": row["enrolled_count"],
            "waitlist_capacity": row["waitlist_capacity"],
            "waitlisted_count": row["waitlisted_count"],
            "created_at": row["course_created_at"],
            "updated_at": row["course_updated_at"],
            "enrolled_at": row["enrolled_at"],
            "status": row["status"],
            "status_changed_at": row["status_changed_at"],
            "waitlist_position": row["waitlist_position"],
        }
        for row in rows
        if row["course_id"] is not None
    ]
    return student


async def list_students(db: Database, *, page: PageRequest, email: str | None) -> list[Student]:
    """Up to `page.limit + 1` students after the cursor, optionally only those with `email`."""
    async with db.connection() as conn:
        if email is None:
            rows = await SQL["select-students"].fetch(
                conn, after_id=page.after_id, limit=page.limit + 1
            )
        else:
            rows = await SQL["select-students-by-email"].fetch(
                conn, email=email, after_id=page.after_id, limit=page.limit + 1
            )
    return as_dicts(rows)


async def _locked_and_checked(
    conn: Connection, student_id: int, precondition: Precondition | None
) -> bool:
    """Whether the student exists; with a precondition, it is locked first and checked as
    GET /students/{id} would show it."""
    if precondition is None:
        return True
    if await SQL["lock-student"].fetchval(conn, student_id=student_id) is None:
        return False
    rows = await SQL["select-student-with-courses"].fetch(conn, student_id=student_id)
    precondition(student_with_courses(rows))
    return True


async def update_student(
    db: Database,
    *,
    student_id: int,
    changes: dict[str, Any],
    precondition: Precondition | None = None,
) -> Student | None:
    """The changed student, None when unknown; Conflict when the new email is taken; what
    `precondition` raises, with nothing changed."""
    if not changes and precondition is None:  # nothing to change: updated_at stays
        return await get_student(db, student_id=student_id)
    values = {"first_name": None, "last_name": None, "email": None, **changes}
    async with db.transaction() as conn:
        if not await _locked_and_checked(conn, student_id, precondition):
            return None
        if not changes:
            row = await SQL["select-student-by-id"].fetchrow(conn, student_id=student_id)
            return as_dict(row) if row else None
        try:
            row = await SQL["update-student"].fetchrow(conn, student_id=student_id, **values)
        except asyncpg.UniqueViolationError:
            raise _email_taken(values["email"]) from None
    return as_dict(row) if row else None


async def delete_student(
    db: Database, *, student_id: int, precondition: Precondition | None = None
) -> Promotions | None:
    """Whom the seats it freed went to when the student was deleted (its enrollments go
    with it); None when it was unknown; what `precondition` raises, with nothing deleted."""
    async with db.transaction() as conn:
        if not await _locked_and_checked(conn, student_id, precondition):
            return None
        if await SQL["delete-student"].fetchval(conn, student_id=student_id) is None:
            return None
        return await enrollments.promoted_in_this_transaction(conn)
