"""OneRoster 1.2 (API.md v1.3): the rostering read service, a second API surface over the same
data. `entities` says what each OneRoster type is made of (its SQL source in
sql/oneroster.sql, its fields, its mapping), `filters` parses the filter language,
`paging` keeps offset paging cheap, `errors` answers as `imsx_StatusInfo`, `routes` serves it
and `discovery` describes it."""

BASE_PATH = "/ims/oneroster/rostering/v1p2"

# Its scopes, as the binding names them (each compared whole, never as a substring), by the
# name the service's access check gives each: roster-core for the collections and single
# records, roster for those and the relationship collections, roster-demographics for
# /demographics. A caller with the service's read scope reaches all of it.
SCOPE_URIS = {
    "roster-core": "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",
    "roster": "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly",
    "roster-demographics": (
        "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly"
    ),
}


def needed_scope(path: str) -> str:
    """The scope a request to this OneRoster path needs."""
    segments = path[len(BASE_PATH) :].strip("/").split("/")
    if segments[0] == "demographics":
        return "roster-demographics"
    return "roster" if len(segments) >= 3 else "roster-core"
