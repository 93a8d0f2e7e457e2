"""Bodies of the course endpoints."""

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from service.schemas import Body, ExternalId, Patch

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,32}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Capacity = Annotated[int, Field(ge=0, le=100_000)]


class CourseCreate(Body):
    code: Code
    title: Title
    capacity: Capacity | None = None
    waitlist_capacity: Capacity = 0
    external_id: ExternalId | None = None


class CourseUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"capacity", "external_id"})

    code: Code | None = None
    title: Title | None = None
    capacity: Capacity | None = None
    waitlist_capacity: Capacity | None = None
    external_id: ExternalId | None = None


class CourseUpsert(Patch):
    """PUT /courses/by-external-id/{external_id}: the writable fields but the external id,
    which the path names; code and title at least when it creates."""

    nullable: ClassVar[frozenset[str]] = frozenset({"capacity"})

    code: Code | None = None
    title: Title | None = None
    capacity: Capacity | None = None
    waitlist_capacity: Capacity | None = None
