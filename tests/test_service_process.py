"""`python -m service` as a user runs it: no DATABASE_URL, an embedded Postgres under
DATA_DIR that survives a restart, and a clean exit on SIGTERM that stops Postgres too."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningService:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"DATA_DIR": str(data_dir), "PORT": str(self.port), "LOG_LEVEL": "warning"}
        self.process = subprocess.Popen([sys.executable, "-m", "service"], env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the service exited while starting"
            try:
                if httpx.get(f"{self.url}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError("the service did not become ready in 60 s")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


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
    first = RunningService(data_dir)
    try:
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.edu"}
        created = httpx.post(f"{first.url}/students", json=body)
        assert created.status_code == 201
        assert postgres_running(data_dir)
    finally:
        assert first.stop() == 0
    assert not postgres_running(data_dir)

    second = RunningService(data_dir)
    try:
        found = httpx.get(f"{second.url}/students/{created.json()['id']}")
        assert found.status_code == 200
        assert found.json()["email"] == "ada@example.edu"
    finally:
        assert second.stop() == 0
    assert not postgres_running(data_dir)
