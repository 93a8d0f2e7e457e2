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


def encode_cursor(last_id: int, prefix: str = _CURSOR_PREFIX) -> str:
    """An opaque, URL-safe cursor that resumes after `last_id`; `prefix` names what kind of
    number it holds, so that one kind of cursor is not taken for another."""
    raw = f"{prefix}{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str = _CURSOR_PREFIX, minimum: int = 1) -> int:
    """The number a cursor resumes after; ValueError when it is not one this service made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("not a cursor") from None
    digits = raw.removeprefix(prefix)
    if digits == raw or not digits.isdigit() or len(digits) > 19:
        raise ValueError("not a cursor")
    last_id = int(digits)
    # Encoding it again must give the same text: no leading zeros, no stray padding.
    if not minimum <= last_id <= MAX_ID or encode_cursor(last_id, prefix) != cursor:
        raise ValueError("not a cursor")
    return last_id


def bounded_integer(
    query: QueryParams, name: str, *, default: int, low: int, high: int, errors: list[Any]
) -> int:
    """`?name=` as an integer from `low` to `high`, `default` when absent; when it is not
    one, a problem naming it is added to `errors` and `default` returned."""
    raw = query.get(name)
    if raw is None:
        return default
    if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
        return int(raw)
    errors.append(parameter_error(name, f"must be an integer from {low} to {high}"))
    return default


def parse_page_request(query: QueryParams, prefix: str = _CURSOR_PREFIX) -> PageRequest:
    """Read `limit` and `cursor` (one of `prefix`'s kind), or raise 422 naming each bad
    parameter."""
    errors: list[Any] = []
    limit = bounded_integer(
        query, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT, errors=errors
    )
    after_id = 0
    raw_cursor = query.get("cursor")
    if raw_cursor is not None:
        try:
            after_id = decode_cursor(raw_cursor, prefix)
        except ValueError:
            errors.append(parameter_error("cursor", "is not a cursor returned by this service"))
    if errors:
        raise ValidationFailed(errors)
    return PageRequest(limit=limit, after_id=after_id)


def page_of(
    items: list[Any], page: PageRequest, key: str = "id", prefix: str = _CURSOR_PREFIX
) -> dict[str, Any]:
    """The collection body from up to `limit + 1` rows: the extra row only says more exist.
    The cursor resumes after the last item's `key`; a key other than `id` is the order's
    own (a queue's ticket), taken out of the items."""
    has_more = len(items) > page.limit
    shown = items[: page.limit]
    next_cursor = encode_cursor(shown[-1][key], prefix) if has_more else None
    if key != "id":
        for item in shown:
            del item[key]
    return {"items": shown, "next_cursor": next_cursor}
