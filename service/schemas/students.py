"""Bodies of the student endpoints."""

import re
from typing import Annotated, ClassVar

from pydantic import AfterValidator, StringConstraints

from service.schemas import Body, ExternalId, Patch

# Deliberately loose: one @, no spaces, a dot in the domain. Mail servers are the real judge.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as ada@example.edu")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)
]


class StudentCreate(Body):
    first_name: Name
    last_name: Name
    email: Email
    external_id: ExternalId | None = None


class StudentUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"external_id"})

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    external_id: ExternalId | None = None


class StudentUpsert(Patch):
    """PUT /students/by-external-id/{external_id}: the writable fields but the external id,
    which the path names; all of them when it creates."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
