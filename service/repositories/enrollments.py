"""Enrollments: the seats students hold in courses.

Capacity is guarded by a row lock on each course (`SELECT ... FOR UPDATE`, in id order):
the check "is there a free seat" and the insert that takes it happen while no other
transaction can take the same seat, under the default READ COMMITTED isolation. We chose the
lock over a guarded counter update because a batch must name every full or unknown course
before enrolling any, and over SERIALIZABLE because retries would turn a registration rush
into a storm of aborts. The CHECK constraint on courses.enrolled_count is the backstop.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg

from service.database import Database
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


@dataclass(frozen=True)
class LockedCourses:
    """What the locked courses say about enrolling one student in them."""

    unknown: list[int]
    enrolled: list[int]
    full: list[int]


async def _lock(conn: Connection, student_id: int, course_ids: list[int]) -> LockedCourses:
    """Lock the student and the courses (in id order); NotFound for an unknown student."""
    if await SQL["lock-student"].fetchval(conn, student_id=student_id) is None:
        raise NotFound(f"student {student_id} does not exist")
    rows = await SQL["lock-courses"].fetch(conn, student_id=student_id, course_ids=course_ids)
    found = {row["id"] for row in rows}
    return LockedCourses(
        unknown=[i for i in course_ids if i not in found],
        enrolled=[row["id"] for row in rows if row["is_enrolled"]],
        full=[row["id"] for row in rows if row["is_full"] and not row["is_enrolled"]],
    )


async def _insert(conn: Connection, student_id: int, course_ids: list[int]) -> None:
    """Take the seats; a pair enrolled by a concurrent request in the meantime is a conflict."""
    added = await SQL["insert-enrollments"].fetch(
        conn, student_id=student_id, course_ids=course_ids
    )
    if len(added) < len(course_ids):
        raced = sorted(set(course_ids) - {row["course_id"] for row in added})
        raise AlreadyEnrolled(f"already enrolled in courses {raced}", course_ids=raced)


async def _views(conn: Connection, student_id: int, course_ids: list[int]) -> list[EnrollmentView]:
    rows = await SQL["select-enrollments"].fetch(conn, student_id=student_id, course_ids=course_ids)
    return as_dicts(rows)


async def enroll_student(
    db: Database, *, student_id: int, course_ids: list[int]
) -> list[EnrollmentView]:
    """Enroll in every course or none, checking in API.md's order: unknown student (404),
    unknown courses (422), already enrolled (409), full (409)."""

    async def enroll(conn: Connection) -> list[EnrollmentView]:
        locked = await _lock(conn, student_id, course_ids)
        if locked.unknown:
            raise UnknownCourses(
                [
                    field_error(f"/course_ids/{course_ids.index(i)}", f"course {i} does not exist")
                    for i in locked.unknown
                ]
            )
        if locked.enrolled:
            raise AlreadyEnrolled(
                f"already enrolled in courses {locked.enrolled}", course_ids=locked.enrolled
            )
        if locked.full:
            raise CourseFull(f"no seats left in courses {locked.full}", course_ids=locked.full)
        await _insert(conn, student_id, course_ids)
        return await _views(conn, student_id, course_ids)

    return await db.run_in_transaction(enroll)


async def enroll_in_course(
    db: Database, *, student_id: int, course_id: int
) -> tuple[EnrollmentView, bool]:
    """The enrollment view and whether it is new; enrolling twice is not an error here."""

    async def enroll(conn: Connection) -> tuple[EnrollmentView, bool]:
        locked = await _lock(conn, student_id, [course_id])
        if locked.unknown:
            raise NotFound(f"course {course_id} does not exist")
        created = not locked.enrolled
        if created:
            if locked.full:
                raise CourseFull(f"no seats left in course {course_id}", course_ids=[course_id])
            await _insert(conn, student_id, [course_id])
        (view,) = await _views(conn, student_id, [course_id])
        return view, created

    return await db.run_in_transaction(enroll)


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
