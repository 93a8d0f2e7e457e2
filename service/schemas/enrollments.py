"""Bodies of the enrollment endpoints."""

from typing import Annotated, Literal

from pydantic import Field, field_validator

from service.pagination import MAX_ID
from service.schemas import Body

CourseId = Annotated[int, Field(ge=1, le=MAX_ID)]


class EnrollmentCreate(Body):
    course_ids: Annotated[list[CourseId], Field(min_length=1, max_length=50)]
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
