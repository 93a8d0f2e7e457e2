"""Keyset pagination: `?limit=` and an opaque `?cursor=` naming the last id already seen."""

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from service.problems import ValidationFailed, parameter_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1
_CURSOR_PREFIX = "after:"


@dataclass(frozen=True)
class PageRequest:
    """What a caller asked for: at most `limit` items with ids above `after_id`."""

    limit: int = DEFAULT_LIMIT
    after_id: int = 0


def encode_cursor(last_id: int) -> str:
    """An opaque, URL-safe cursor that resumes after `last_id`."""
    raw = f"{_CURSOR_PREFIX}{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor resumes after; ValueError when it is not one this service made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("not a cursor") from None
    digits = raw.removeprefix(_CURSOR_PREFIX)
    if digits == raw or not digits.isdigit() or digits.startswith("0") or len(digits) > 19:
        raise ValueError("not a cursor")
    last_id = int(digits)
    if last_id > MAX_ID or encode_cursor(last_id) != cursor:
        raise ValueError("not a cursor")
    return last_id


def parse_page_request(query: QueryParams) -> PageRequest:
    """Read `limit` and `cursor`, or raise 422 naming each bad parameter."""
    errors = []
    limit = DEFAULT_LIMIT
    raw_limit = query.get("limit")
    if raw_limit is not None:
        if raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors.append(parameter_error("limit", f"must be an integer from 1 to {MAX_LIMIT}"))
    after_id = 0
    raw_cursor = query.get("cursor")
    if raw_cursor is not None:
        try:
            after_id = decode_cursor(raw_cursor)
        except ValueError:
            errors.append(parameter_error("cursor", "is not a cursor returned by this service"))
    if errors:
        raise ValidationFailed(errors)
    return PageRequest(limit=limit, after_id=after_id)


def page_of(items: list[Any], page: PageRequest) -> dict[str, Any]:
    """The collection body from up to `limit + 1` rows: the extra row only says more exist."""
    has_more = len(items) > page.limit
    shown = items[: page.limit]
    next_cursor = encode_cursor(shown[-1]["id"]) if has_more else None
    return {"items": shown, "next_cursor": next_cursor}
