"""The fault suite's own Postgres (one the tests may restart, stop and freeze) and a way
to start the service on it as a real process."""

import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.running_service import RunningService


class Postgres:
    """An embedded Postgres 16 that tests may restart, stop, start, freeze and thaw."""

    def __init__(self, data: Path) -> None:
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
        from pgserver.postgres_server import get_server

        self._pg_ctl = pg_ctl
        self.server = get_server(data, cleanup_mode="delete")
        self.url: str = self.server.get_uri()

    def ctl(self, *args: str) -> None:
        self._pg_ctl(["-w", *args], pgdata=self.server.pgdata, user=self.server.system_user)

    def restart(self, mode: str) -> None:
        self.ctl("-m", mode, "restart")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop")

    def start(self) -> None:
        # pgserver knows the options the server runs with (socket directory, no TCP).
        self.server.ensure_postgres_running()

    def processes(self) -> list[psutil.Process]:
        # Read the pid afresh: a restart gives the postmaster a new one.
        pid = int((Path(self.server.pgdata) / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        for process in self.processes():
            process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for process in self.processes():
            process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with tempfile.TemporaryDirectory() as data:
        server = Postgres(Path(data) / "pg")
        try:
            yield server
        finally:
            server.thaw()
            server.server.cleanup()


@pytest.fixture
def start_service(postgres: Postgres, tmp_path: Path) -> Iterator[Any]:
    """Start the service on the fault Postgres with extra settings; stopped after the test."""
    started: list[RunningService] = []

    def start(**env: str) -> RunningService:
        settings = {"DB_TIMEOUT": "1", "DB_LOCK_TIMEOUT": "0.5", "DB_POOL_MAX": "4", **env}
        service = RunningService(tmp_path, DATABASE_URL=postgres.url, **settings)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
