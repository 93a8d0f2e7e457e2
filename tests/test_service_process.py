"""`python -m service` as a user runs it: no DATABASE_URL, an embedded Postgres under
DATA_DIR that survives a restart, and a clean exit on SIGTERM that stops Postgres too."""

import os
from pathlib import Path

import httpx

from tests.running_service import RunningService


def postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_embedded_postgres_keeps_data_across_restarts_and_stops_with_the_service(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = RunningService(tmp_path, DATA_DIR=str(data_dir))
    try:
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.edu"}
        created = httpx.post(f"{first.url}/students", json=body)
        assert created.status_code == 201
        assert postgres_running(data_dir)
    finally:
        assert first.stop() == 0
    assert not postgres_running(data_dir)

    second = RunningService(tmp_path, DATA_DIR=str(data_dir))
    try:
        found = httpx.get(f"{second.url}/students/{created.json()['id']}")
        assert found.status_code == 200
        assert found.json()["email"] == "ada@example.edu"
    finally:
        assert second.stop() == 0
    assert not postgres_running(data_dir)
