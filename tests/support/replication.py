"""A real Postgres primary and a streaming replica of it, run natively with pgserver's
Postgres 16 binaries: the replica is a `pg_basebackup -R` of the primary, started on a
socket directory of its own, stopped and started again by the tests."""

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pgserver._commands import POSTGRES_BIN_PATH
from pgserver.postgres_server import get_server

# pgserver runs Postgres as this system user when started as root (Postgres refuses root).
SYSTEM_USER = "pgserver" if os.geteuid() == 0 else None


def _as_postgres(*command: str) -> None:
    subprocess.run(
        [str(POSTGRES_BIN_PATH / command[0]), *command[1:]],
        check=True,
        capture_output=True,
        user=SYSTEM_USER,
        timeout=60,
    )


def _owned_directory(path: Path, mode: int) -> Path:
    path.mkdir(parents=True)
    if SYSTEM_USER:
        import pwd

        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)
    return path


@dataclass
class StreamingReplica:
    data: Path
    sockets: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.sockets}"

    def start(self) -> None:
        _as_postgres(
            "pg_ctl", "-D", str(self.data), "-w", "-l", str(self.data / "log"),
            "-o", '-h ""', "-o", f"-k {self.sockets}", "start",
        )  # fmt: skip

    def stop(self) -> None:
        _as_postgres("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def catch_up(self, primary_url: str) -> None:
        """Wait until the replica has replayed all the WAL the primary has inserted so far."""
        with (
            psycopg.connect(primary_url, autocommit=True) as primary,
            psycopg.connect(self.url(), autocommit=True) as replica,
        ):
            target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
            deadline = time.monotonic() + 10
            while replica.execute(
                "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0", target
            ).fetchone() == (True,):
                assert time.monotonic() < deadline, "the replica did not catch up in 10 s"
                time.sleep(0.05)

    def replay(self, *, paused: bool) -> None:
        """Pause or resume applying the primary's WAL (`pg_wal_replay_pause()`)."""
        call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"SELECT {call}")


@contextlib.contextmanager
def primary_and_replica(root: Path) -> Iterator[tuple[str, StreamingReplica]]:
    """The primary's maintenance URL and its replica, streaming, for as long as the block
    runs."""
    primary = get_server(_owned_directory(root / "primary", 0o700), cleanup_mode="delete")
    socket_dir = Path(primary.get_postmaster_info().socket_dir)
    replica = StreamingReplica(
        data=_owned_directory(root / "replica", 0o700),
        sockets=_owned_directory(root / "replica-sockets", 0o777),
    )
    try:
        _as_postgres(
            "pg_basebackup", "-D", str(replica.data), "-R", "-X", "stream",
            "-d", f"host={socket_dir} user=postgres",
        )  # fmt: skip
        replica.start()
        try:
            yield primary.get_uri(), replica
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                replica.stop()
    finally:
        primary.cleanup()
