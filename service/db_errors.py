"""Database failures a request can meet, each a named 503 problem that is safe to retry.
None carries the driver's text: the caller learns the kind, the log learns the rest."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import asyncpg

from service.problems import ServiceUnavailable


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached: refused, unknown host, too many connections."""

    kind, title = "database-unreachable", "Database unreachable"


class DatabaseRestarting(ServiceUnavailable):
    kind, title = "database-restarting", "Database restarting"


class ConnectionLost(ServiceUnavailable):
    kind, title = "database-connection-lost", "Database connection lost"


class DatabaseTimeout(ServiceUnavailable):
    kind, title = "database-timeout", "Database did not answer in time"


class DatabaseBusy(ServiceUnavailable):
    """Every connection is in use, or a row stayed locked past lock_timeout."""

    kind, title = "database-busy", "Database busy"


class DatabaseConflict(ServiceUnavailable):
    """A deadlock or serialization failure that retries did not get past."""

    kind, title = "database-conflict", "Concurrent update conflict"


# Most specific first: several asyncpg classes share parents.
_KINDS: list[
    tuple[type[BaseException] | tuple[type[BaseException], ...], type[ServiceUnavailable], str]
] = [
    (asyncpg.LockNotAvailableError, DatabaseBusy, "a row stayed locked by another request"),
    (asyncpg.TooManyConnectionsError, DatabaseBusy, "the database has no connection to spare"),
    (
        (asyncpg.DeadlockDetectedError, asyncpg.SerializationError),
        DatabaseConflict,
        "a concurrent request changed the same rows",
    ),
    (asyncpg.QueryCanceledError, DatabaseTimeout, "the statement ran past its time"),
    (TimeoutError, DatabaseTimeout, "the database did not answer in time"),
    (
        (asyncpg.AdminShutdownError, asyncpg.CannotConnectNowError),
        DatabaseRestarting,
        "the database is shutting down or starting up",
    ),
    (
        (
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.ConnectionFailureError,
            ConnectionResetError,
            # asyncpg's protocol left mid-operation by a connection dying under it
            asyncpg.InternalClientError,
        ),
        ConnectionLost,
        "the connection to the database was lost",
    ),
    (
        (OSError, asyncpg.PostgresConnectionError, asyncpg.InvalidAuthorizationSpecificationError),
        DatabaseUnavailable,
        "the database cannot be reached",
    ),
]

# Kinds after which the connection may be broken, and is closed, not reused.
BROKEN_CONNECTION = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InternalClientError,
)


def as_problem(error: BaseException) -> ServiceUnavailable | None:
    """The 503 problem for a database failure, or None when `error` is not one."""
    for kinds, problem, detail in _KINDS:
        if isinstance(error, kinds):
            return problem(f"{detail}; retry shortly")
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except Exception as error:
        raise_translated(error)


def raise_translated(error: Exception) -> NoReturn:
    """`error` again, or the 503 problem it is when it is a database failure."""
    if (problem := as_problem(error)) is None:
        raise error
    raise problem from None
