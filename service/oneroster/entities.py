"""The OneRoster types this service serves: for each, its SQL source (sql/oneroster.sql), the
fields a caller may filter and sort on (the allow-list: the type's top-level scalar fields),
the top-level fields a caller may select, the keys its answers use, and its mapping."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from service.oneroster import mapping
from service.oneroster.filters import Field

Show = Callable[[mapping.Row, mapping.Refs], mapping.OneRosterObject]

COMMON = {
    "sourcedId": Field('r."sourcedId"'),
    "status": Field("r.status"),
    "dateLastModified": Field('r."dateLastModified"', "instant"),
}


@dataclass(frozen=True)
class Entity:
    source: str  # its statement in sql/oneroster.sql
    single: str  # the key of a single record's answer: {"user": {...}}
    plural: str  # the key of a collection's: {"users": [...]}
    fields: dict[str, Field]
    selectable: tuple[str, ...]  # its top-level fields, for `fields`
    show: Show


def _fields(**more: Field) -> dict[str, Field]:
    return {**COMMON, **more}


def _text(column: str) -> Field:
    return Field(f'r."{column}"')


USER = Entity(
    source="users",
    single="user",
    plural="users",
    fields=_fields(
        enabledUser=_text("enabledUser"),
        givenName=_text("givenName"),
        familyName=_text("familyName"),
        email=_text("email"),
    ),
    selectable=(
        *COMMON,
        "enabledUser",
        "givenName",
        "familyName",
        "email",
        "roles",
        "primaryOrg",
    ),
    show=mapping.user,
)
CLASS = Entity(
    source="courses",
    single="class",
    plural="classes",
    fields=_fields(title=_text("title"), classCode=_text("code"), classType=Field("'scheduled'")),
    selectable=(
        *COMMON,
        "title",
        "classCode",
        "classType",
        "course",
        "school",
        "terms",
        "metadata",
    ),
    show=mapping.a_class,
)
COURSE = Entity(
    source="courses",
    single="course",
    plural="courses",
    fields=_fields(title=_text("title"), courseCode=_text("code")),
    selectable=(*COMMON, "title", "courseCode", "org"),
    show=mapping.course,
)
ENROLLMENT = Entity(
    source="enrollments",
    single="enrollment",
    plural="enrollments",
    fields=_fields(role=_text("role"), beginDate=_text("beginDate"), endDate=_text("endDate")),
    selectable=(*COMMON, "user", "class", "school", "role", "beginDate", "endDate"),
    show=mapping.enrollment,
)
ORG = Entity(
    source="orgs",
    single="org",
    plural="orgs",
    fields=_fields(name=_text("name"), type=_text("type"), identifier=_text("identifier")),
    selectable=(*COMMON, "name", "type", "identifier"),
    show=mapping.org,
)
ACADEMIC_SESSION = Entity(
    source="academic-sessions",
    single="academicSession",
    plural="academicSessions",
    fields=_fields(
        title=_text("title"),
        type=_text("type"),
        startDate=_text("startDate"),
        endDate=_text("endDate"),
        schoolYear=_text("schoolYear"),
    ),
    selectable=(*COMMON, "title", "type", "startDate", "endDate", "schoolYear"),
    show=mapping.academic_session,
)
# We hold no demographics: the collection is always empty, a record never found.
DEMOGRAPHICS = Entity(
    source="users",
    single="demographics",
    plural="demographics",
    fields=dict(COMMON),
    selectable=tuple(COMMON),
    show=lambda row, refs: {},
)


def source_values(entity: Entity, refs: mapping.Refs) -> dict[str, Any]:
    """The values a source statement takes (the configured school's or term's)."""
    settings = refs.settings
    # The configured records change only with the configuration: dated the term's start.
    modified = datetime.combine(settings.term.start_date, time(), UTC)
    if entity is ORG:
        school = settings.school
        return {
            "sourced_id": school.sourced_id,
            "modified": modified,
            "name": school.name,
            "identifier": school.identifier,
        }
    if entity is ACADEMIC_SESSION:
        term = settings.term
        return {
            "sourced_id": term.sourced_id,
            "modified": modified,
            "title": term.title,
            "start_date": term.start_date.isoformat(),
            "end_date": term.end_date.isoformat(),
            "school_year": term.school_year,
        }
    return {}
