"""The scale-out topology, natively: two service replicas on different ports, both through
PgBouncer in transaction pooling mode to the suite's Postgres. The HTTP contract tests, the
concurrency test among them, run through it with requests alternating between replicas."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.support.postgres import applied_migrations, migration_ids, scratch_database
from tests.support.running_service import RunningService, free_port

CONTRACT_TESTS = [
    "tests/api/test_student.py",
    "tests/api/test_course.py",
    "tests/api/test_concurrency.py",
    "tests/api/test_student_integration.py",
    "tests/api/test_idempotency.py",
]


def server_host(database_url: str) -> str:
    """The server's host name, or its socket directory."""
    url = urlsplit(database_url)
    return parse_qs(url.query).get("host", [url.hostname or "/var/run/postgresql"])[0]


def bouncer_config(database_url: str, port: int) -> str:
    """pgbouncer.ini that pools `database_url`'s database as `enrollment` in transaction mode."""
    url = urlsplit(database_url)
    host = server_host(database_url)
    server = f"host={host} port={url.port or 5432} dbname={url.path.lstrip('/')}"
    server += f" user={url.username or 'postgres'}"
    if url.password:
        server += f" password={url.password}"
    return (
        f"[databases]\nenrollment = {server}\n\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        "max_client_conn = 500\ndefault_pool_size = 8\n"
    )


@contextlib.contextmanager
def running_bouncer(database_url: str) -> Iterator[str]:
    """A PgBouncer (Debian's) in front of `database_url`'s database; its URL."""
    executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(executable).exists(), "PgBouncer is missing: `make test` installs it"
    port = free_port()
    # PgBouncer will not run as root; the user it runs as must read its config and, for a
    # server on a Unix socket, reach the socket: the socket directory's owner can.
    config_dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    config_dir.chmod(0o755)
    config = config_dir / "pgbouncer.ini"
    config.write_text(bouncer_config(database_url, port))
    config.chmod(0o644)
    host = server_host(database_url)
    owner = Path(host).owner() if host.startswith("/") else "nobody"
    user = ["-u", owner] if os.geteuid() == 0 else []
    log = (config_dir / "pgbouncer.log").open("wb")
    process = subprocess.Popen([executable, *user, str(config)], stderr=log)
    url = f"postgresql://enrollment@127.0.0.1:{port}/enrollment"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(url, prepare_threshold=None, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                assert process.poll() is None, (config_dir / "pgbouncer.log").read_text()
                assert time.monotonic() < deadline, (config_dir / "pgbouncer.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(config_dir)


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[str]:
    with running_bouncer(database_url) as url:
        yield url


def test_contract_and_concurrency_through_pgbouncer_across_two_replicas(
    bouncer: str, database_url: str, tmp_path: Path
) -> None:
    settings = {
        "DATABASE_URL": bouncer,
        "DB_STATEMENT_CACHE_SIZE": "0",
        "MIGRATE_ON_START": "false",
    }
    replicas = [RunningService(tmp_path, **settings) for _ in range(2)]
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CONTRACT_TESTS],
            env={
                **os.environ,
                "ENROLLMENT_SERVICE_URLS": ",".join(r.url for r in replicas),
                "ENROLLMENT_DATABASE_URL": database_url,
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        exits = [replica.stop() for replica in replicas]
    print(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, run.stdout[-6000:]
    assert exits == [0, 0]


def test_services_starting_together_through_pgbouncer_migrate_once(
    server_url: str, tmp_path: Path
) -> None:
    """yoyo's connection runs BEGIN, COMMIT and its bookkeeping many times: psycopg must not
    prepare them, or the next transaction, on another server connection, meets another
    client's prepared statement of the same name (issue 29)."""
    with (
        scratch_database(server_url, "bounced_start") as database_url,
        running_bouncer(database_url) as url,
    ):
        settings = {"DATABASE_URL": url, "DB_STATEMENT_CACHE_SIZE": "0", "LOG_LEVEL": "info"}
        for start in ("empty", "migrated"):
            (tmp_path / start).mkdir()
            services = RunningService.start_many(tmp_path / start, 2, **settings)
            try:
                for service in services:
                    service.wait_until_ready()
            finally:
                exits = [service.stop() for service in services]
            assert exits == [0, 0], start
        assert applied_migrations(database_url) == [(m, 1) for m in migration_ids()]
        logs = "".join(log.read_text() for log in (tmp_path / "migrated").iterdir())
        assert '"event":"migration.applied"' not in logs  # the restart found nothing to do
