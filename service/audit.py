"""One INFO line, and a metric, for every enrollment, waitlisting, promotion, drop,
completion and refused enrollment."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from service.enrollment_batch import PairAnswer
from service.plumbing import context, metrics
from service.plumbing.access_log import access_log
from service.problems import (
    AlreadyEnrolled,
    BadRequest,
    CourseFull,
    NotFound,
    PayloadTooLarge,
    Problem,
    UnknownCourses,
    UnsupportedMediaType,
    ValidationFailed,
)
from service.repositories.enrollments import BatchOutcome

logger = logging.getLogger("service.enrollments")

# Most specific first: UnknownCourses is a ValidationFailed, AlreadyEnrolled a Conflict.
_REASONS: list[tuple[type[Problem], str]] = [
    (CourseFull, "full"),
    (AlreadyEnrolled, "already_enrolled"),
    (UnknownCourses, "unknown_course"),
    (NotFound, "not_found"),
    (ValidationFailed, "invalid_body"),
    (BadRequest, "invalid_body"),
    (PayloadTooLarge, "invalid_body"),
    (UnsupportedMediaType, "invalid_body"),
]


def rejection_reason(problem: Problem) -> str:
    return next((reason for kind, reason in _REASONS if isinstance(problem, kind)), problem.kind)


@dataclass
class Attempt:
    """An enrollment being tried; the handler fills in what it learns."""

    student_id: int
    course_ids: list[int] = field(default_factory=list)
    created: bool = True
    waitlisted: list[int] = field(default_factory=list)  # of course_ids, those waitlisted


def _log(event: str, attempt: Attempt, **fields: object) -> None:
    extra = {
        "student_id": attempt.student_id,
        "course_ids": attempt.course_ids,
        "actor": context.actor.get(),
        **fields,
    }
    access_log.info(logger, event, extra)  # logger.info(event, extra=extra), at a fifth the cost


@contextmanager
def enrollment_attempt(student_id: int, course_ids: list[int] | None = None) -> Iterator[Attempt]:
    """Logs `enrollment.created` when the block ends with new seats taken (and
    `enrollment.waitlisted` for the courses that waitlisted instead), or
    `enrollment.rejected` with the reason when it raises a problem."""
    attempt = Attempt(student_id=student_id, course_ids=course_ids or [])
    try:
        yield attempt
    except Problem as problem:
        reason = rejection_reason(problem)
        metrics.enrollments_rejected.inc(reason)
        _log("enrollment.rejected", attempt, reason=reason, status=problem.status)
        raise
    if not attempt.created:
        return
    if attempt.waitlisted:
        queued = Attempt(attempt.student_id, attempt.waitlisted)
        _log("enrollment.waitlisted", queued)
        attempt.course_ids = [i for i in attempt.course_ids if i not in attempt.waitlisted]
    if attempt.course_ids:
        metrics.enrollments_created.inc(amount=len(attempt.course_ids))
        _log("enrollment.created", attempt)


def status_changed(student_id: int, course_id: int, status: str) -> None:
    """`enrollment.dropped`, `enrollment.completed` or `enrollment.waitlisted`."""
    _log(f"enrollment.{status}", Attempt(student_id=student_id, course_ids=[course_id]))


def promoted(pairs: list[tuple[int, int]]) -> None:
    """One `enrollment.promoted` for each pair a freed seat went to; `actor` is who freed it."""
    for student_id, course_id in pairs:
        _log("enrollment.promoted", Attempt(student_id=student_id, course_ids=[course_id]))


def batch_pair(student_id: int, course_id: int, status: int, problem: Problem | None) -> None:
    """One line for a pair of `POST /enrollments/batch`: `enrollment.created` or
    `enrollment.waitlisted` when it took a seat or a place, `enrollment.unchanged` when it
    held one already (200), else `enrollment.rejected` with the reason and status: the
    pair's `problem`'s, or `batch_refused` for a pair that failed no rule of an atomic batch
    that was refused."""
    attempt = Attempt(student_id=student_id, course_ids=[course_id])
    if status == 201:
        metrics.enrollments_created.inc()
        _log("enrollment.created", attempt)
    elif status == 202:
        _log("enrollment.waitlisted", attempt)
    elif status == 200:
        _log("enrollment.unchanged", attempt)
    else:
        reason = rejection_reason(problem) if problem else "batch_refused"
        metrics.enrollments_rejected.inc(reason)
        _log("enrollment.rejected", attempt, reason=reason, status=status)


def batch_answered(answers: list[PairAnswer]) -> None:
    """One line for each pair of a batch that was answered pair by pair (batch_pair)."""
    for answer in answers:
        pair = answer.pair
        batch_pair(pair.student_id, pair.course_id, answer.status, answer.problem)


def batch_refused(outcomes: list[BatchOutcome], refusal: Problem) -> None:
    """One line for each pair of an atomic batch that was refused: its pairs that failed a
    rule with the refusal's reason, the others with `batch_refused`."""
    for pair in outcomes:
        failed = pair.outcome != "refused"
        batch_pair(pair.student_id, pair.course_id, refusal.status, refusal if failed else None)
