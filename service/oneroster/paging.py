"""Offset paging that stays cheap to the end (API.md v1.3): each process remembers, per query
shape, where the page that ended at an offset ended (its last sort value and sourcedId), so
the next page in order resumes there by keyset instead of counting past `offset` rows again;
a miss (another process, an old entry, a jump) falls back to OFFSET. And a collection's
total (per query shape) is counted once per feed position, not on every page. Both bounded."""

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from starlette.datastructures import URL

Value = TypeVar("Value")
RESUME_POINTS = 10_000
COUNTS = 1_000


class Recent(Generic[Value]):
    """The `capacity` most recently used entries."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()

    def get(self, key: Hashable) -> Value | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Value) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


class Paging:
    """A process's resume points and counts."""

    def __init__(self) -> None:
        # (shape, offset) -> (the sort value, the sourcedId) of the row before that offset
        self.resume_points: Recent[tuple[Any, str]] = Recent(RESUME_POINTS)
        # shape -> (the feed position it was counted at, the count)
        self.counts: Recent[tuple[int, int]] = Recent(COUNTS)


def links(url: URL, *, offset: int, limit: int, total: int) -> str:
    """The Link header (RFC 8288): first and last, and prev and next where they exist."""
    last = max(0, (total - 1) // limit * limit)
    pages = {"first": 0, "last": last}
    if offset > 0:
        pages["prev"] = max(0, offset - limit)
    if offset + limit < total:
        pages["next"] = offset + limit
    return ", ".join(
        f'<{url.include_query_params(offset=at, limit=limit)}>; rel="{rel}"'
        for rel, at in pages.items()
    )
