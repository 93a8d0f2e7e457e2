"""`/changes`: the change feed, in commit order, with long polling."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.changes_watcher import ChangesWatcher
from service.pagination import bounded_integer
from service.problems import ValidationFailed, parameter_error
from service.repositories import changes
from service.routes import route
from service.web import JSONResponse

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 30
NOT_A_CURSOR = "is not a cursor returned by this service"


def _checked(page: changes.FeedPage, after: int) -> changes.FeedPage:
    changes.check_cursor(
        after,
        last_position=page.last_position,
        expired_through=page.expired_through,
        not_ours=ValidationFailed([parameter_error("cursor", NOT_A_CURSOR)]),
    )
    return page


async def list_changes(request: Request) -> Response:
    query = request.query_params
    errors: list[Any] = []
    limit = bounded_integer(
        query, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, errors=errors
    )
    wait = bounded_integer(query, "wait", default=0, low=0, high=MAX_WAIT_SECONDS, errors=errors)
    after = 0
    if raw_cursor := query.get("cursor"):
        try:
            after = changes.decode_position(raw_cursor)
        except ValueError:
            errors.append(parameter_error("cursor", NOT_A_CURSOR))
    if errors:
        raise ValidationFailed(errors)
    db = request.state.db
    page = _checked(await changes.read(db, after_position=after, limit=limit), after)
    if not page.changes and wait:
        # Wait with no connection held: the worker's watcher reads the head for everyone.
        watcher: ChangesWatcher = request.state.changes_watcher
        watcher.saw(page.last_position)
        await watcher.wait_past(after, wait)
        page = _checked(await changes.read(db, after_position=after, limit=limit), after)
    last = page.changes[-1]["position"] if page.changes else after
    return JSONResponse(
        {
            "items": [changes.as_item(change) for change in page.changes],
            "next_cursor": changes.encode_position(last),
        }
    )


routes = [route("/changes", "GET", list_changes)]
