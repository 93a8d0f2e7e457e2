"""Each database failure becomes its own 503 problem type, without the driver's text."""

import asyncpg
import pytest

from service.db_errors import as_problem


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (asyncpg.LockNotAvailableError("lock timeout SELECT"), "database-busy"),
        (asyncpg.TooManyConnectionsError("too many"), "database-busy"),
        (asyncpg.DeadlockDetectedError("deadlock"), "database-conflict"),
        (asyncpg.SerializationError("serialize"), "database-conflict"),
        (asyncpg.QueryCanceledError("statement timeout"), "database-timeout"),
        (TimeoutError(), "database-timeout"),
        (asyncpg.AdminShutdownError("terminating"), "database-restarting"),
        (asyncpg.CannotConnectNowError("the driver says 57P03"), "database-restarting"),
        (asyncpg.ConnectionDoesNotExistError("closed"), "database-connection-lost"),
        (ConnectionResetError(), "database-connection-lost"),
        (asyncpg.InternalClientError("state"), "database-connection-lost"),
        (ConnectionRefusedError(), "database-unreachable"),
        (OSError("no route"), "database-unreachable"),
    ],
)
def test_database_failures_map_to_named_503s(error: Exception, kind: str) -> None:
    problem = as_problem(error)
    assert problem is not None
    assert problem.status == 503
    assert problem.kind == kind
    assert problem.headers["Retry-After"] == "1"
    assert str(error) not in problem.detail or not str(error)


@pytest.mark.parametrize(
    "error", [ValueError("x"), asyncpg.UniqueViolationError("dup"), KeyError("k")]
)
def test_other_errors_are_not_database_faults(error: Exception) -> None:
    assert as_problem(error) is None
