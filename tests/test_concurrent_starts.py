"""Replicas starting at the same moment against an empty database all come up, and each
migration is applied exactly once (yoyo's lock)."""

import subprocess
import sys
from pathlib import Path

import psycopg

from tests.support.postgres import applied_migrations, migration_ids, scratch_database
from tests.support.running_service import RunningService


def test_replicas_starting_together_migrate_once(server_url: str, tmp_path: Path) -> None:
    with scratch_database(server_url, "concurrent_start") as url:
        replicas = RunningService.start_many(tmp_path, 3, DATABASE_URL=url, LOG_LEVEL="info")
        try:
            for replica in replicas:
                replica.wait_until_ready()
        finally:
            exits = [replica.stop() for replica in replicas]
        assert exits == [0, 0, 0]
        expected = migration_ids()
        assert applied_migrations(url) == [(migration, 1) for migration in expected]
        logs = "".join(replica.log.read_text() for replica in replicas)
        assert logs.count('"event":"migration.applied"') == len(expected)


def test_migrate_command_applies_and_exits(server_url: str) -> None:
    with scratch_database(server_url, "migrate_command") as url:
        run = subprocess.run(
            [sys.executable, "-m", "service", "migrate"],
            env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert '"event":"migrations.applied"' in run.stdout
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM courses").fetchone() == (0,)
