"""`/changes`: the change feed, in commit order, with long polling."""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from service.changes_watcher import ChangesWatcher
from service.pagination import bounded_integer, decode_cursor, encode_cursor
from service.problems import CursorExpired, ValidationFailed, parameter_error
from service.repositories import changes
from service.routes import route
from service.web import JSONResponse

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 30
CURSOR_PREFIX = "change:"  # a feed position, not an id: a collection's cursor is refused


def _item(change: dict[str, Any]) -> dict[str, Any]:
    data = change["data"]
    return {
        "cursor": encode_cursor(change["position"], CURSOR_PREFIX),
        "at": change["at"],
        "entity": change["entity"],
        "op": change["op"],
        # The JSON text the trigger wrote, served as it is.
        "key": orjson.Fragment(change["key"]),
        "data": None if data is None else orjson.Fragment(data),
    }


def _checked(page: changes.FeedPage, after: int) -> changes.FeedPage:
    """The page, or the problem its cursor is: past what retention kept (410), or past the
    last position ever handed out (422: no cursor of this service's says that)."""
    if after < page.expired_through:
        raise CursorExpired(
            "the feed no longer keeps the changes after this cursor; read the collections "
            "again, then follow the feed from oldest_cursor",
            oldest_cursor=encode_cursor(page.expired_through, CURSOR_PREFIX),
        )
    if after > page.last_position:
        raise ValidationFailed(
            [parameter_error("cursor", "is not a cursor returned by this service")]
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
            after = decode_cursor(raw_cursor, CURSOR_PREFIX, minimum=0)
        except ValueError:
            errors.append(parameter_error("cursor", "is not a cursor returned by this service"))
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
            "items": [_item(change) for change in page.changes],
            "next_cursor": encode_cursor(last, CURSOR_PREFIX),
        }
    )


routes = [route("/changes", "GET", list_changes)]
