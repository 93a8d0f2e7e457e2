"""Our records as OneRoster 1.2 objects (API.md v1.3 "Mapping"), in the binding's field
names and types: `"true"`/`"false"` strings where it says so, dates as `YYYY-MM-DD`,
date-times in UTC, references with absolute `href`s, and what the binding has no field for
in `metadata`. A source row (sql/oneroster.sql) comes in; a dict, ready for orjson, goes out."""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote

import asyncpg

from service.config import OneRosterSettings

Row = Mapping[str, Any] | asyncpg.Record
OneRosterObject = dict[str, Any]


@dataclass(frozen=True)
class Refs:
    """Where references point: this service's OneRoster base URL, and the configured school
    and term."""

    base: str  # absolute, without a trailing slash
    settings: OneRosterSettings

    def to(self, kind: str, collection: str, sourced_id: str) -> dict[str, str]:
        href = f"{self.base}/{collection}/{quote(sourced_id, safe='')}"
        return {"href": href, "sourcedId": sourced_id, "type": kind}

    # The same for every record of a request: made once (a page of users made them 200
    # times, a fifth of its mapping's time).
    @cached_property
    def school(self) -> dict[str, str]:
        return self.to("org", "schools", self.settings.school.sourced_id)

    @cached_property
    def term(self) -> dict[str, str]:
        return self.to("academicSession", "terms", self.settings.term.sourced_id)

    @cached_property
    def student_roles(self) -> list[dict[str, Any]]:
        return [{"roleType": "primary", "role": "student", "org": self.school}]


def _common(row: Row) -> OneRosterObject:
    return {
        "sourcedId": row["sourcedId"],
        "status": row["status"],
        "dateLastModified": row["dateLastModified"],
    }


def _present(fields: OneRosterObject) -> OneRosterObject:
    """Without the optional fields we have no value for ('' in a source row)."""
    return {name: value for name, value in fields.items() if value != ""}


def user(row: Row, refs: Refs) -> OneRosterObject:
    return _present(
        {
            **_common(row),
            "enabledUser": row["enabledUser"],
            "givenName": row["givenName"],
            "familyName": row["familyName"],
            "email": row["email"],
            "roles": refs.student_roles,
            "primaryOrg": refs.school,
        }
    )


def a_class(row: Row, refs: Refs) -> OneRosterObject:
    return {
        **_common(row),
        "title": row["title"],
        "classCode": row["code"],
        "classType": "scheduled",
        "course": refs.to("course", "courses", row["sourcedId"]),
        "school": refs.school,
        "terms": [refs.term],
        "metadata": {
            "capacity": row["capacity"],
            "enrolledCount": row["enrolled_count"],
            "waitlistCapacity": row["waitlist_capacity"],
            "waitlistedCount": row["waitlisted_count"],
        },
    }


def course(row: Row, refs: Refs) -> OneRosterObject:
    return {
        **_common(row),
        "title": row["title"],
        "courseCode": row["code"],
        "org": refs.school,
    }


def enrollment(row: Row, refs: Refs) -> OneRosterObject:
    return _present(
        {
            **_common(row),
            "user": refs.to("user", "users", row["user_sourced_id"]),
            "class": refs.to("class", "classes", row["class_sourced_id"]),
            "school": refs.school,
            "role": row["role"],
            "beginDate": row["beginDate"],
            "endDate": row["endDate"],
        }
    )


def org(row: Row, refs: Refs) -> OneRosterObject:
    return {
        **_common(row),
        "name": row["name"],
        "type": row["type"],
        "identifier": row["identifier"],
    }


def academic_session(row: Row, refs: Refs) -> OneRosterObject:
    return {
        **_common(row),
        "title": row["title"],
        "type": row["type"],
        "startDate": row["startDate"],
        "endDate": row["endDate"],
        "schoolYear": row["schoolYear"],
    }
