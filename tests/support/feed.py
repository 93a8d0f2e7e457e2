"""Following the change feed from tests: to its end, and replayed into plain dicts."""

from typing import Any

import httpx

Change = dict[str, Any]


async def follow(
    client: httpx.AsyncClient, cursor: str = "", *, limit: int = 1000
) -> tuple[list[Change], str]:
    """Every change after `cursor` until a page comes back empty, and the cursor then."""
    changes: list[Change] = []
    while True:
        response = await client.get("/changes", params={"cursor": cursor, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["next_cursor"]
        changes += page["items"]
        if not page["items"]:
            assert page["next_cursor"] == cursor or not cursor
            return changes, page["next_cursor"]
        assert page["next_cursor"] == page["items"][-1]["cursor"]
        cursor = page["next_cursor"]


async def head_cursor(client: httpx.AsyncClient) -> str:
    """The cursor after the last change committed so far."""
    _, cursor = await follow(client)
    return cursor


def replay(changes: list[Change]) -> dict[str, dict[Any, Any]]:
    """The state the changes leave, applied in order to empty collections: by entity, each
    object by its key."""
    state: dict[str, dict[Any, Any]] = {"student": {}, "course": {}, "enrollment": {}}
    for change in changes:
        key = tuple(change["key"].values())
        if change["op"] == "delete":
            state[change["entity"]].pop(key, None)
        else:
            state[change["entity"]][key] = change["data"]
    return state
