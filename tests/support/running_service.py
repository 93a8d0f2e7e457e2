"""`python -m service` in a child process, for tests that need a real server."""

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
    """Starts the service with the given environment and waits until /readyz says 200."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self._launch(log_dir, env)
        self.wait_until_ready()

    @classmethod
    def of_checkout(cls, checkout: Path, log_dir: Path, **env: str) -> "RunningService":
        """The same, running another copy of the project (say, the previous commit)."""
        service = cls.__new__(cls)
        service._launch(log_dir, env, checkout)
        service.wait_until_ready()
        return service

    @classmethod
    def start_many(cls, log_dir: Path, count: int, **env: str) -> list["RunningService"]:
        """Start `count` at once, without waiting for any to be ready."""
        services = [cls.__new__(cls) for _ in range(count)]
        for service in services:
            service._launch(log_dir, env)
        return services

    def _launch(self, log_dir: Path, env: dict[str, str], checkout: Path | None = None) -> None:
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        environment |= {"PORT": str(self.port), "LOG_LEVEL": "warning", **env}
        self.log = log_dir / f"service-{self.port}.log"
        self._log_file = self.log.open("wb")
        # `python -m` imports from the working directory first: the checkout's own code.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service"], env=environment, stdout=self._log_file, cwd=checkout
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_until_ready(self) -> None:
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
        """SIGTERM (unless it already exited), and the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log_file.close()
