"""The time budget of one database access (DB_TIMEOUT), shared by every wait and statement
in it: a contextvar holding when the access must be over."""

import asyncio
from contextvars import ContextVar, Token

from service.db_errors import DatabaseTimeout

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


def start(seconds: float) -> Token[float | None]:
    return _deadline.set(asyncio.get_running_loop().time() + seconds)


def end(token: Token[float | None]) -> None:
    _deadline.reset(token)


def seconds_left() -> float | None:
    """What is left, possibly nothing (≤ 0); None outside an access (tools, tests)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - asyncio.get_running_loop().time()


def time_left() -> float | None:
    """What is left for the next wait or statement; DatabaseTimeout once it is spent."""
    left = seconds_left()
    if left is not None and left <= 0:
        raise DatabaseTimeout("the database did not answer in time; retry shortly")
    return left
