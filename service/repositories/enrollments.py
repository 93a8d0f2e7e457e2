"""Enrollments: the seats students hold in courses.

Capacity is guarded by a row lock on each course (`SELECT ... FOR UPDATE`, in id order):
the check "is there a free seat" and the insert that takes it happen while no other
transaction can take the same seat, under the default READ COMMITTED isolation. We chose the
lock over a guarded counter update because a batch must name every full or unknown course
before enrolling any, and over SERIALIZABLE because retries would turn a registration rush
into a storm of aborts. The CHECK constraint on courses.enrolled_count is the backstop.

Locking, checking and inserting are one statement (sql/enrollments.sql `enroll`) that
commits on its own, so a course is locked only while Postgres runs it, never across round
trips. With an Idempotency-Key the statement runs inside the key's transaction instead
(Database.within, service/plumbing/idempotency.py), so the course stays locked until the
key is recorded and that transaction commits: one round trip and a commit more. It locks
only when its snapshot says a seat is there to take: a refusal (full, unknown, already
held) is read without a lock, so in a rush on a few full courses the refused requests do
not queue behind the few that take seats.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg

from service.database import Database
from service.db_errors import DatabaseConflict
from service.pagination import PageRequest
from service.plumbing import context
from service.problems import (
    AlreadyEnrolled,
    CourseFull,
    InvalidTransition,
    NotFound,
    UnknownCourses,
    field_error,
)
from service.queries import Connection, load_queries
from service.repositories import as_dicts

SQL = load_queries("enrollments")
EnrollmentView = dict[str, Any]
Promotions = list[tuple[int, int]]  # (student_id, course_id) of each pair promoted
VIEW_FIELDS = (
    "id",
    "code",
    "title",
    "capacity",
    "enrolled_count",
    "waitlist_capacity",
    "waitlisted_count",
    "external_id",
    "created_at",
    "updated_at",
    "enrolled_at",
    "status",
    "status_changed_at",
    "waitlist_position",
)
# Where each status a caller may ask for can be reached from (API.md "Enrollment lifecycle").
MOVES_FROM = {"dropped": ["enrolled", "waitlisted"], "completed": ["enrolled"]}


@dataclass(frozen=True)
class EnrollResult:
    """What the enroll statement found (under its locks when it tried for a seat), and what
    it inserted; `waitlist` whether a full course's waitlist could take the student."""

    requested: list[int]
    rows: list[asyncpg.Record]
    waitlist: bool

    @property
    def unknown(self) -> list[int]:
        found = {row["id"] for row in self.rows}
        return [i for i in self.requested if i not in found]

    @property
    def held(self) -> list[int]:
        """The courses the student was already enrolled or waitlisted in."""
        return [row["id"] for row in self.rows if row["was_held"]]

    def _refused_as_full(self, row: asyncpg.Record) -> bool:
        return bool(row["is_full"]) and (not self.waitlist or row["queue_full"])

    @property
    def filled_meanwhile(self) -> bool:
        """Whether a course the snapshot saw with room was full once locked: taken by a
        concurrent request, perhaps for this same pair, which the snapshot cannot tell."""
        return any(row["under_lock"] and self._refused_as_full(row) for row in self.rows)

    @property
    def full(self) -> list[int]:
        return [
            row["id"] for row in self.rows if self._refused_as_full(row) and not row["was_held"]
        ]

    @property
    def worth_trying(self) -> bool:
        """Whether `enroll` could take a seat or a place: every course known, none held, none
        full (or full with room on its waitlist, when that is asked for)."""
        return not (self.unknown or self.held or self.full)

    @property
    def waitlisted(self) -> bool:
        return any(row["status"] == "waitlisted" for row in self.rows)

    def views(self) -> list[EnrollmentView]:
        return [{name: row[name] for name in VIEW_FIELDS} for row in self.rows]


async def _enroll(conn: Connection, statement: str, **values: Any) -> list[asyncpg.Record]:
    """Run an enroll statement, which commits on its own, saying who asks (for the history)."""
    try:
        return await SQL[statement].fetch(conn, **values, **_change_context())
    except asyncpg.CheckViolationError as error:
        if error.constraint_name != "student_courses_transition":
            raise
        # A concurrent request enrolled a pair after our snapshot, and the statement was
        # undone. Running it again (run_statement does) sees that row: 409 for POST, 200 for
        # PUT or a batch's pair, as if this request had come second.
        raise DatabaseConflict("a concurrent request enrolled the same pair") from None


async def _attempt(
    conn: Connection, lock_timeout: str, student_id: int, course_ids: list[int], waitlist: bool
) -> EnrollResult:
    """Run the enroll statement (one round trip, committed on its own); NotFound for an
    unknown student. It inserts nothing unless every course is known, not held and has a
    seat, or, with `waitlist`, room on its waitlist."""
    rows = await _enroll(
        conn,
        "enroll",
        student_id=student_id,
        course_ids=course_ids,
        waitlist=waitlist,
        lock_timeout=lock_timeout,
    )
    if not rows:
        raise NotFound(f"student {student_id} does not exist")
    attempt = EnrollResult(course_ids, [row for row in rows if row["id"] is not None], waitlist)
    if attempt.filled_meanwhile:
        # Run again (run_statement does): a fresh snapshot answers 200 if the seat is this
        # pair's, or refuses as full without a lock.
        raise DatabaseConflict("a concurrent request took the last seat")
    return attempt


async def enroll_student(
    db: Database, *, student_id: int, course_ids: list[int], waitlist: bool
) -> tuple[list[EnrollmentView], bool]:
    """Enroll in every course or none, checking in API.md's order: unknown student (404),
    unknown courses (422), already enrolled or waitlisted (409), full (409); with
    `waitlist`, a full course with room on its waitlist waitlists the student. The views,
    and whether any course waitlisted."""

    async def enroll(conn: Connection, lock_timeout: str) -> tuple[list[EnrollmentView], bool]:
        attempt = await _attempt(conn, lock_timeout, student_id, course_ids, waitlist)
        if unknown := attempt.unknown:
            raise UnknownCourses(
                [
                    field_error(f"/course_ids/{course_ids.index(i)}", f"course {i} does not exist")
                    for i in unknown
                ]
            )
        if held := attempt.held:
            raise AlreadyEnrolled(
                f"already enrolled or waitlisted in courses {held}", course_ids=held
            )
        if full := attempt.full:
            raise CourseFull(f"no seats left in courses {full}", course_ids=full)
        return attempt.views(), attempt.waitlisted

    return await db.run_statement(enroll)


class FullCourses:
    """The courses a PUT found full lately, in this worker: a hint of where to look before
    trying for a seat, never an answer. A PUT for one of them first reads the pair and the
    course (`look-before-enrolling`, no write, no trigger fired) and runs `enroll` only
    when that look finds a seat or a place to try for; in a rush on full courses nearly
    every PUT ends at the look. Either way the answer is what a snapshot taken during the
    request showed, as `enroll`'s own refusals are. A course leaves when a look finds room,
    so a course with seats is never looked at twice before it is tried."""

    LARGEST = 10_000  # ids kept at most; past it the hint starts afresh

    def __init__(self) -> None:
        self._ids: set[int] = set()

    def __contains__(self, course_id: int) -> bool:
        return course_id in self._ids

    def found_full(self, course_id: int) -> None:
        if len(self._ids) >= self.LARGEST:
            self._ids.clear()
        self._ids.add(course_id)

    def found_room(self, course_id: int) -> None:
        self._ids.discard(course_id)


async def enroll_in_course(
    db: Database, *, student_id: int, course_id: int, full_courses: FullCourses
) -> tuple[EnrollmentView, bool]:
    """The enrollment view (enrolled, or waitlisted when the course is full and its waitlist
    has room) and whether it is new; asking twice is not an error here. A course in
    `full_courses` is looked at before a seat is tried for (FullCourses)."""

    async def enroll(conn: Connection, lock_timeout: str) -> tuple[EnrollmentView, bool]:
        attempt = await _look(conn, student_id, course_id) if course_id in full_courses else None
        if attempt is None or attempt.worth_trying:
            full_courses.found_room(course_id)
            attempt = await _attempt(conn, lock_timeout, student_id, [course_id], waitlist=True)
        if attempt.unknown:
            raise NotFound(f"course {course_id} does not exist")
        created = not attempt.held
        if created and attempt.full:
            full_courses.found_full(course_id)
            raise CourseFull(f"no seats left in course {course_id}", course_ids=[course_id])
        (view,) = attempt.views()
        return view, created

    return await db.run_statement(enroll)


async def _look(conn: Connection, student_id: int, course_id: int) -> EnrollResult:
    """What `enroll` would answer from a snapshot, read without a write; NotFound for an
    unknown student."""
    rows = await SQL["look-before-enrolling"].fetch(
        conn, student_id=student_id, course_id=course_id
    )
    if not rows:
        raise NotFound(f"student {student_id} does not exist")
    return EnrollResult([course_id], [row for row in rows if row["id"] is not None], True)


@dataclass(frozen=True)
class BatchOutcome:
    """What the batch statement did with one pair: `outcome` is unknown_student,
    unknown_course, held, enrolled, waitlisted, full, or refused (it could have been
    enrolled or waitlisted, but an atomic batch wrote nothing); `view` is the pair's enrollment as
    it stands after the statement, when the pair holds a seat or a place."""

    student_id: int
    course_id: int
    outcome: str
    view: EnrollmentView | None


def _batch_outcome(row: asyncpg.Record) -> BatchOutcome:
    outcome = row["outcome"]
    if outcome in ("enrolled", "waitlisted") and not row["written"]:
        outcome = "refused"  # atomic, and another pair failed: this one was not written
    held = outcome in ("held", "enrolled", "waitlisted")
    view = {name: row[name] for name in VIEW_FIELDS} if held else None
    return BatchOutcome(row["student_id"], row["course_id"], outcome, view)


async def enroll_batch(
    db: Database, *, pairs: list[tuple[int, int]], atomic: bool, waitlist: bool
) -> list[BatchOutcome]:
    """Try every (student_id, course_id) pair in one statement (sql/enrollments.sql
    `enroll-batch`): each on its own, or with `atomic` all of them or none. The outcomes in
    the pairs' order."""
    student_ids = [student_id for student_id, _ in pairs]
    course_ids = [course_id for _, course_id in pairs]

    async def enroll(conn: Connection, lock_timeout: str) -> list[BatchOutcome]:
        rows = await _enroll(
            conn,
            "enroll-batch",
            student_ids=student_ids,
            course_ids=course_ids,
            atomic=atomic,
            waitlist=waitlist,
            lock_timeout=lock_timeout,
        )
        return [_batch_outcome(row) for row in rows]

    return await db.run_statement(enroll)


def _change_context() -> dict[str, str]:
    """Who makes this request's change, for set_change_context() (the one way it reaches
    the history trigger: sql/schema/change_context.sql)."""
    return {"actor": context.actor.get(), "request_id": context.request_id.get() or ""}


async def promoted_in_this_transaction(conn: Connection) -> Promotions:
    """The pairs the triggers promoted from a waitlist in `conn`'s transaction, when a seat
    it freed went to the longest-waiting student."""
    rows = await SQL["select-promoted"].fetch(conn)
    return [(row["student_id"], row["course_id"]) for row in rows]


async def change_status(
    db: Database, *, student_id: int, course_id: int, status: str, reason: str | None
) -> tuple[EnrollmentView, Promotions]:
    """Move the pair to `status` (dropped or completed) and return its view and whom the
    freed seat went to: NotFound when it has never existed, InvalidTransition when its
    status does not allow the move."""
    async with db.transaction() as conn:
        await SQL["set-change-context"].fetchrow(conn, reason=reason or "", **_change_context())
        moved = await SQL["change-enrollment-status"].fetchval(
            conn,
            student_id=student_id,
            course_id=course_id,
            status=status,
            from_statuses=MOVES_FROM[status],
        )
        view = await SQL["select-enrollment"].fetchrow(
            conn, student_id=student_id, course_id=course_id
        )
        promoted = await promoted_in_this_transaction(conn)
    if view is None:
        raise NotFound(f"student {student_id} has never enrolled in course {course_id}")
    if moved is None:
        raise InvalidTransition(
            f"an enrollment that is {view['status']} cannot become {status}",
            current_status=view["status"],
        )
    return dict(view), promoted


async def drop(db: Database, *, student_id: int, course_id: int) -> Promotions | None:
    """Whom the freed seat went to, when the student held a seat (or a waitlist place) in
    the course, now dropped; None when not."""
    try:
        _, promoted = await change_status(
            db, student_id=student_id, course_id=course_id, status="dropped", reason=None
        )
    except (NotFound, InvalidTransition):
        return None
    return promoted


async def student_exists(db: Database, *, student_id: int) -> bool:
    async with db.connection() as conn:
        return bool(await SQL["select-student-exists"].fetchval(conn, student_id=student_id))


async def list_student_courses(
    db: Database, *, student_id: int, statuses: list[str], page: PageRequest
) -> list[EnrollmentView] | None:
    """Up to `page.limit + 1` of the student's courses with one of `statuses`; None when
    the student is unknown."""
    async with db.connection() as conn:
        rows = await SQL["select-student-courses"].fetch(
            conn,
            student_id=student_id,
            statuses=statuses,
            after_id=page.after_id,
            limit=page.limit + 1,
        )
    return _page_rows(rows)


async def list_course_students(
    db: Database, *, course_id: int, statuses: list[str], page: PageRequest
) -> list[dict[str, Any]] | None:
    """Up to `page.limit + 1` of the course's students with one of `statuses`, each with its
    enrollment's times and status; None when the course is unknown. The waitlist alone
    comes in queue order, each row with its `waitlist_ticket` (the page's order), after
    `page.after_id` taken as a ticket."""
    async with db.connection() as conn:
        if statuses == ["waitlisted"]:
            rows = await SQL["select-course-queue"].fetch(
                conn, course_id=course_id, after_ticket=page.after_id, limit=page.limit + 1
            )
            return _page_rows(rows)
        rows = await SQL["select-course-students"].fetch(
            conn,
            course_id=course_id,
            statuses=statuses,
            after_id=page.after_id,
            limit=page.limit + 1,
        )
    return _page_rows(rows)


async def list_history(
    db: Database, *, student_id: int, course_id: int, page: PageRequest
) -> list[dict[str, Any]] | None:
    """Up to `page.limit + 1` of the pair's events, oldest first; None when the pair has
    never existed."""
    async with db.connection() as conn:
        rows = await SQL["select-enrollment-history"].fetch(
            conn,
            student_id=student_id,
            course_id=course_id,
            after_id=page.after_id,
            limit=page.limit + 1,
        )
    return _page_rows(rows)


def _page_rows(rows: list[asyncpg.Record]) -> list[dict[str, Any]] | None:
    """A page from its owner-joined rows: no row means no owner, a NULL id an empty page."""
    if not rows:
        return None
    return as_dicts([row for row in rows if row["id"] is not None])
