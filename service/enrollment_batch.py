"""The rules of `POST /enrollments/batch` (API.md "Batch enrollment"): what each pair's
outcome answers, and which rule refuses an atomic batch. The statement that tries the pairs
is the repository's (`enrollments.enroll_batch`); the route only joins the two."""

from dataclasses import dataclass

from service.problems import (
    AlreadyEnrolled,
    CourseFull,
    NotFound,
    Problem,
    UnknownCourses,
    field_error,
)
from service.repositories.enrollments import BatchOutcome

# A batch's pairs that took a seat or a place, or held one already, by their outcome.
PAIR_STATUS = {"enrolled": 201, "waitlisted": 202, "held": 200}
# The rules a pair can fail, in the order POST /students/{id}/courses checks them.
RULES = ("unknown_student", "unknown_course", "held", "full")


@dataclass(frozen=True)
class PairAnswer:
    """One pair's part of the answer: its status, and its problem when it has one."""

    pair: BatchOutcome
    status: int
    problem: Problem | None

    def body(self, instance: str) -> dict[str, object]:
        return {
            "student_id": self.pair.student_id,
            "course_id": self.pair.course_id,
            "status": self.status,
            "enrollment": self.pair.view,
            "problem": self.problem.body(instance) if self.problem else None,
        }


def pair_problem(pair: BatchOutcome) -> Problem | None:
    """What PUT would have answered for a pair a batch did not enroll, tried on its own."""
    if pair.outcome == "unknown_student":
        return NotFound(f"student {pair.student_id} does not exist")
    if pair.outcome == "unknown_course":
        return NotFound(f"course {pair.course_id} does not exist")
    if pair.outcome == "full":
        return CourseFull(f"no seats left in course {pair.course_id}", course_ids=[pair.course_id])
    return None


def answers(outcomes: list[BatchOutcome]) -> list[PairAnswer]:
    """Each pair's answer, in request order, as a batch that is not atomic gives them."""
    return [_answer(pair, pair_problem(pair)) for pair in outcomes]


def _answer(pair: BatchOutcome, problem: Problem | None) -> PairAnswer:
    return PairAnswer(pair, problem.status if problem else PAIR_STATUS[pair.outcome], problem)


def atomic_refusal(outcomes: list[BatchOutcome]) -> Problem | None:
    """The problem of the first rule some pair fails, with `items` naming each pair that
    fails it; None when none fails."""
    for rule in RULES:
        if failed := [pair for pair in outcomes if pair.outcome == rule]:
            break
    else:
        return None
    problem: Problem
    if rule == "unknown_student":
        problem = NotFound(f"students {sorted({pair.student_id for pair in failed})} do not exist")
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
    problem.extensions["items"] = [
        {"student_id": pair.student_id, "course_id": pair.course_id} for pair in failed
    ]
    return problem
