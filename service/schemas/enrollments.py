"""Bodies of the enrollment endpoints."""

from collections import Counter
from typing import Annotated, Literal

from pydantic import Field, field_validator

from service.pagination import MAX_ID
from service.schemas import Body

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
MAX_BATCH_PAIRS = 500


class EnrollmentCreate(Body):
    course_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]
    # Whether a full course with room on its waitlist waitlists the student (else: 409).
    waitlist: bool = False

    @field_validator("course_ids")
    @classmethod
    def refuse_repeats(cls, course_ids: list[int]) -> list[int]:
        repeated = sorted({i for i in course_ids if course_ids.count(i) > 1})
        if repeated:
            raise ValueError(f"each course may be listed once; repeated: {repeated}")
        return course_ids


class EnrollmentStatusChange(Body):
    """Body of `PATCH /students/{id}/courses/{course_id}`: a drop or a completion."""

    status: Literal["dropped", "completed"]
    reason: Annotated[str, Field(max_length=500)] | None = None


class BatchPair(Body):
    student_id: Id
    course_id: Id


class EnrollmentBatch(Body):
    """Body of `POST /enrollments/batch` (API.md "Batch enrollment")."""

    items: Annotated[list[BatchPair], Field(min_length=1, max_length=MAX_BATCH_PAIRS)]
    # Every pair or none (else each pair on its own, as PUT would try it).
    atomic: bool = False
    # Whether a full course with room on its waitlist waitlists the student (else: 409).
    waitlist: bool = False

    @field_validator("items")
    @classmethod
    def refuse_repeats(cls, items: list[BatchPair]) -> list[BatchPair]:
        listed = Counter((item.student_id, item.course_id) for item in items)
        repeated = sorted(pair for pair, times in listed.items() if times > 1)
        if repeated:
            raise ValueError(f"each pair may be listed once; repeated: {repeated}")
        return items
