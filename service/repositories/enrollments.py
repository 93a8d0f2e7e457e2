"""Enrollments: the seats students hold in courses.

Capacity is guarded by a row lock on each course (`SELECT ... FOR UPDATE`, in id order):
the check "is there a free seat" and the insert that takes it happen while no other
transaction can take the same seat, under the default READ COMMITTED isolation. We chose the
lock over a guarded counter update because a batch must name every full or unknown course
before enrolling any, and over SERIALIZABLE because retries would turn a registration rush
into a storm of aborts. The CHECK constraint on courses.enrolled_count is the backstop.

Locking, checking and inserting are one statement (sql/enrollments.sql `enroll`) that
commits on its own, so a course is locked only while Postgres runs it, never across round
trips. It locks only when its snapshot says a seat is there to take: a refusal (full,
unknown, already held) is read without a lock, so in a rush on a few full courses the
refused requests do not queue behind the few that take seats.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg

from service.database import Database
from service.db_errors import DatabaseConflict
from service.pagination import PageRequest
from service.problems import (
    AlreadyEnrolled,
    CourseFull,
    NotFound,
    UnknownCourses,
    field_error,
)
from service.queries import Connection, load_queries
from service.repositories import as_dicts

SQL = load_queries("enrollments")
EnrollmentView = dict[str, Any]
VIEW_FIELDS = (
    "id",
    "code",
    "title",
    "capacity",
    "enrolled_count",
    "created_at",
    "updated_at",
    "enrolled_at",
)


@dataclass(frozen=True)
class Attempt:
    """What the enroll statement found (under its locks when it tried for a seat), and what
    it inserted."""

    requested: list[int]
    rows: list[asyncpg.Record]

    @property
    def unknown(self) -> list[int]:
        found = {row["id"] for row in self.rows}
        return [i for i in self.requested if i not in found]

    @property
    def enrolled(self) -> list[int]:
        return [row["id"] for row in self.rows if row["was_enrolled"]]

    @property
    def full(self) -> list[int]:
        return [row["id"] for row in self.rows if row["is_full"] and not row["was_enrolled"]]

    def views(self) -> list[EnrollmentView]:
        return [{name: row[name] for name in VIEW_FIELDS} for row in self.rows]


async def _attempt(
    conn: Connection, lock_timeout: str, student_id: int, course_ids: list[int]
) -> Attempt:
    """Run the enroll statement (one round trip, committed on its own); NotFound for an
    unknown student. It inserts nothing unless every course is known, not held and not full."""
    try:
        rows = await SQL["enroll"].fetch(
            conn, student_id=student_id, course_ids=course_ids, lock_timeout=lock_timeout
        )
    except asyncpg.UniqueViolationError:
        # A concurrent request enrolled the same pair after our snapshot, and the statement
        # was undone. Running it again (run_statement does) sees that row: 409 for POST, 200
        # for PUT, as if this request had come second.
        raise DatabaseConflict("a concurrent request enrolled the same student") from None
    if not rows:
        raise NotFound(f"student {student_id} does not exist")
    return Attempt(course_ids, [row for row in rows if row["id"] is not None])


async def enroll_student(
    db: Database, *, student_id: int, course_ids: list[int]
) -> list[EnrollmentView]:
    """Enroll in every course or none, checking in API.md's order: unknown student (404),
    unknown courses (422), already enrolled (409), full (409)."""

    async def enroll(conn: Connection, lock_timeout: str) -> list[EnrollmentView]:
        attempt = await _attempt(conn, lock_timeout, student_id, course_ids)
        if unknown := attempt.unknown:
            raise UnknownCourses(
                [
                    field_error(f"/course_ids/{course_ids.index(i)}", f"course {i} does not exist")
                    for i in unknown
                ]
            )
        if enrolled := attempt.enrolled:
            raise AlreadyEnrolled(f"already enrolled in courses {enrolled}", course_ids=enrolled)
        if full := attempt.full:
            raise CourseFull(f"no seats left in courses {full}", course_ids=full)
        return attempt.views()

    return await db.run_statement(enroll)


async def enroll_in_course(
    db: Database, *, student_id: int, course_id: int
) -> tuple[EnrollmentView, bool]:
    """The enrollment view and whether it is new; enrolling twice is not an error here."""

    async def enroll(conn: Connection, lock_timeout: str) -> tuple[EnrollmentView, bool]:
        attempt = await _attempt(conn, lock_timeout, student_id, [course_id])
        if attempt.unknown:
            raise NotFound(f"course {course_id} does not exist")
        created = not attempt.enrolled
        if created and attempt.full:
            raise CourseFull(f"no seats left in course {course_id}", course_ids=[course_id])
        (view,) = attempt.views()
        return view, created

    return await db.run_statement(enroll)


async def unenroll(db: Database, *, student_id: int, course_id: int) -> bool:
    """Whether the student held a seat in the course, now freed."""
    async with db.connection() as conn:
        deleted = await SQL["delete-enrollment"].fetchval(
            conn, student_id=student_id, course_id=course_id
        )
    return deleted is not None


async def student_exists(db: Database, *, student_id: int) -> bool:
    async with db.connection() as conn:
        return bool(await SQL["select-student-exists"].fetchval(conn, student_id=student_id))


async def list_student_courses(
    db: Database, *, student_id: int, page: PageRequest
) -> list[EnrollmentView] | None:
    """Up to `page.limit + 1` of the student's courses; None when the student is unknown."""
    async with db.connection() as conn:
        rows = await SQL["select-student-courses"].fetch(
            conn, student_id=student_id, after_id=page.after_id, limit=page.limit + 1
        )
    return _page_rows(rows)


async def list_course_students(
    db: Database, *, course_id: int, page: PageRequest
) -> list[dict[str, Any]] | None:
    """Up to `page.limit + 1` of the course's students with `enrolled_at`; None when the
    course is unknown."""
    async with db.connection() as conn:
        rows = await SQL["select-course-students"].fetch(
            conn, course_id=course_id, after_id=page.after_id, limit=page.limit + 1
        )
    return _page_rows(rows)


def _page_rows(rows: list[asyncpg.Record]) -> list[dict[str, Any]] | None:
    """A page from its owner-joined rows: no row means no owner, a NULL id an empty page."""
    if not rows:
        return None
    return as_dicts([row for row in rows if row["id"] is not None])
