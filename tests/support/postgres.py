"""Where the tests find Postgres: TEST_DATABASE_URL, else testcontainers when a Docker
engine answers, else an embedded pgserver. Each test session gets a database of its own.
And the migrations: which there are, which a database has, and migrating to a given one."""

import contextlib
import os
import re
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from yoyo import get_backend, read_migrations

from service.migrations import MIGRATIONS_DIR, yoyo_url

# The image testcontainers starts: compose's own pin (a test holds them equal), unless
# TEST_POSTGRES_IMAGE names another (the test bed's stand-in, where no registry is reachable).
POSTGRES_IMAGE = "postgres:16.4-alpine"


def docker_engine_answers() -> bool:
    """Whether a Docker engine answers its ping (the docker library leaks a socket when not)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = host.removeprefix("unix://")
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            parts = urlsplit(host)
            address = (parts.hostname, parts.port or 2375)
        with sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            status_line = sock.recv(1024).split(b"\r\n", 1)[0]
        return status_line.split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a server's maintenance database, for as long as the block runs."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
    elif docker_engine_answers():
        from testcontainers.community.postgres import PostgresContainer

        image = os.environ.get("TEST_POSTGRES_IMAGE", POSTGRES_IMAGE)
        with PostgresContainer(image, driver=None) as container:
            yield container.get_connection_url()
    else:
        from pgserver.postgres_server import get_server

        with tempfile.TemporaryDirectory() as data:
            server = get_server(Path(data) / "pg", cleanup_mode="delete")
            try:
                yield server.get_uri()
            finally:
                server.cleanup()


def with_database(url: str, name: str) -> str:
    """The same server's URL, naming another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def migration_ids() -> list[str]:
    """Every migration in migrations/, in order."""
    return sorted(m.id for m in read_migrations(str(MIGRATIONS_DIR)))


def applied_migrations(url: str) -> list[tuple[str, int]]:
    """Each migration yoyo applied to the database, with how many times it did."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT migration_id, count(*) FROM _yoyo_log"
            " WHERE operation = 'apply' GROUP BY migration_id ORDER BY 1"
        ).fetchall()


def migrate(url: str, *, up_to: str | None = None, roll_back_after: str | None = None) -> None:
    """Apply migrations through `up_to`, or roll back every one after `roll_back_after`: as
    an older release left the database, so without sql/schema/ (its logic was its
    migrations')."""
    backend = get_backend(yoyo_url(url))
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            if up_to is not None:
                ids = [m.id for m in migrations]
                wanted = migrations.filter(lambda m: ids.index(m.id) <= ids.index(up_to))
                backend.apply_migrations(backend.to_apply(wanted))
            if roll_back_after is not None:
                ids = [m.id for m in migrations]
                later = migrations.filter(lambda m: ids.index(m.id) > ids.index(roll_back_after))
                backend.rollback_migrations(backend.to_rollback(later))
    finally:
        backend.connection.close()


def seed_first_schema(url: str) -> None:
    """50 students and 50 courses (every fifth without a limit), as migration 0001 holds them."""
    with psycopg.connect(url) as conn:
        for i in range(1, 51):
            conn.execute(
                "INSERT INTO students (first_name, last_name, email) VALUES (%s, %s, %s)",
                (f"First{i}", f"Last{i}", f"s{i}@example.edu"),
            )
            conn.execute(
                "INSERT INTO courses (code, title, capacity) VALUES (%s, %s, %s)",
                (f"C{i}", f"Course {i}", None if i % 5 == 0 else i),
            )


def functions_defined_in(paths: list[Path]) -> set[str]:
    """The names of the functions these SQL files create."""
    found: set[str] = set()
    for path in paths:
        found |= set(re.findall(r"^CREATE OR REPLACE FUNCTION (\w+)\(", path.read_text(), re.M))
    return found
