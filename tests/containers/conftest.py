"""The container tests' bed (tests/containers/testbed.py) and docker compose, run as a user
runs it, each topology torn down afterwards with its volumes, whatever the test did."""

import contextlib
import functools
import json
import os
import random
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import PROJECT_ROOT
from tests.containers.testbed import engine_with_standins
from tests.support.postgres import migration_ids
from tests.support.running_service import free_port

UP_SECONDS = 300  # a build from the lock on a fresh machine included
HEALTHY_SECONDS = 120


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.containers)


@pytest.fixture(scope="session")
def standins() -> Iterator[dict[str, str]]:
    with engine_with_standins() as images:
        yield images


def free_port_range(count: int) -> str:
    """`first-last`: `count` consecutive ports on 127.0.0.1 that nothing listens on now."""
    while True:
        first = random.randrange(20000, 30000)
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return f"{first}-{first + count - 1}"


@functools.cache
def compose_command() -> list[str]:
    """`docker compose` where the plugin is installed, else Debian's docker-compose."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    return ["docker", "compose"] if plugin.returncode == 0 else ["docker-compose"]


class Compose:
    """One compose project of the project's docker-compose.yml, with its own name, password
    and host ports, on the stand-in base images."""

    def __init__(self, standins: dict[str, str], *profiles: str, tag: str = "current") -> None:
        self.project = f"enrollment-test-{uuid.uuid4().hex[:8]}"
        self.profiles = [arg for profile in profiles for arg in ("--profile", profile)]
        self.env = {
            **os.environ,
            **standins,
            "POSTGRES_PASSWORD": secrets.token_hex(12),
            "TAG": tag,
            "API_PORT": str(free_port()),
            "API_REPLICATED_PORT": str(free_port()),
            "API_POOLED_PORTS": free_port_range(10),
        }

    def __call__(self, *args: str, timeout: float = UP_SECONDS) -> str:
        run = subprocess.run(
            [*compose_command(), "--project-name", self.project, *self.profiles, *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if run.returncode != 0:
            logs = subprocess.run(
                [*compose_command(), "--project-name", self.project, *self.profiles, "logs",
                 "--no-color", "--tail", "40"],
                cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True,
            ).stdout  # fmt: skip
            raise AssertionError(f"compose {' '.join(args)}:\n{run.stderr}\n{logs}")
        return run.stdout

    def container(self, service: str, index: int = 1) -> str:
        ids = self("ps", "-q", service).split()
        assert len(ids) >= index, f"{service} has no container {index}"
        return sorted(ids)[index - 1]

    def inspect(self, service: str, index: int = 1) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(
            subprocess.run(
                ["docker", "inspect", self.container(service, index)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        return found[0]

    def wait_healthy(self, service: str, index: int = 1) -> None:
        deadline = time.monotonic() + HEALTHY_SECONDS
        while (state := self.inspect(service, index)["State"])["Health"]["Status"] != "healthy":
            assert state["Status"] == "running", f"{service} stopped: {self.logs(service)}"
            assert time.monotonic() < deadline, f"{service} not healthy: {self.logs(service)}"
            time.sleep(1)

    def url(self, service: str, index: int = 1) -> str:
        address = self("port", "--index", str(index), service, "8000").strip()
        return f"http://{address}"

    def logs(self, service: str) -> str:
        return self("logs", "--no-color", "--tail", "50", service)

    def down(self) -> None:
        self("down", "--volumes", "--remove-orphans", "--timeout", "5")


@pytest.fixture
def compose(standins: dict[str, str]) -> Iterator[Callable[..., Compose]]:
    """Start projects with `compose(standins, *profiles)`; each is torn down afterwards."""
    started: list[Compose] = []

    def start(*profiles: str, tag: str = "current") -> Compose:
        project = Compose(standins, *profiles, tag=tag)
        started.append(project)
        return project

    yield start
    for project in started:
        project.down()


def previous_release(destination: Path) -> tuple[Path, str]:
    """The project as it was just before its newest migration landed (git's history), and
    that migration's id: the release an upgrade starts from."""
    newest = migration_ids()[-1]
    added = subprocess.run(
        ["git", "log", "--format=%H", "--diff-filter=A", "--", f"migrations/{newest}.sql"],
        cwd=PROJECT_ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert added, f"{newest} is not committed yet"
    with subprocess.Popen(
        ["git", "archive", f"{added[-1]}^"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE
    ) as archive:
        subprocess.run(["tar", "-x", "-C", str(destination)], stdin=archive.stdout, check=True)
    assert archive.returncode == 0
    return destination, newest
