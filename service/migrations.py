"""`python -m service migrate`: the SQL files in migrations/ (tables, columns, constraints,
indexes, backfills) applied with yoyo, then the current functions and triggers in
sql/schema/, all under yoyo's lock, so that replicas starting together apply each exactly
once.

sql/schema/ is applied in one transaction, right after the pending migrations, when its
checksum differs from the one the database holds (`schema_state`) or when a migration was
applied (a landed migration may redefine a function the folder defines). Its triggers are
re-created with CREATE OR REPLACE, which locks each table against writes (not reads) until
that transaction commits: milliseconds, logged as `schema.applied`.
"""

import hashlib
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from yoyo import get_backend, read_migrations

from service.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
SCHEMA_DIR = PROJECT_ROOT / "sql" / "schema"
# In this order: the functions (each file's before those that call them), then the triggers.
SCHEMA_FILES = (
    "change_context.sql",
    "feed.sql",
    "enrollments.sql",
    "triggers.sql",
    "webhooks.sql",
)
LOCK_TIMEOUT_SECONDS = 60
logger = logging.getLogger(__name__)


def yoyo_url(database_url: str) -> str:
    """The same database, named for yoyo's psycopg 3 backend."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def schema_script() -> tuple[str, str]:
    """sql/schema/'s files as one script, and its checksum."""
    script = "\n".join((SCHEMA_DIR / name).read_text() for name in SCHEMA_FILES)
    return script, hashlib.sha256(script.encode()).hexdigest()


def apply_migrations(database_url: str, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply every pending migration, then sql/schema/ if it is due; returns how many
    migrations were applied."""
    backend = get_backend(yoyo_url(database_url))
    # psycopg 3 prepares a statement on the server once it has run prepare_threshold times
    # (yoyo's BEGIN soon has). Behind PgBouncer in transaction mode the next transaction may
    # run on a server connection where another client's statement holds the same name: so
    # prepare nothing, whatever the number of migrations.
    backend.connection.prepare_threshold = None
    try:
        migrations = read_migrations(str(directory))
        with backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
            # Read what is pending only once the lock is held: another replica may
            # have applied it while this one waited.
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
            schema_ms = apply_schema(backend.connection, due_anyway=bool(pending))
    finally:
        backend.connection.close()
    for migration in pending:
        logger.info("migration.applied", extra={"migration": migration.id})
    if schema_ms is not None:
        logger.info("schema.applied", extra={"duration_ms": schema_ms})
    return len(pending)


def apply_schema(conn: psycopg.Connection, *, due_anyway: bool) -> float | None:
    """Apply sql/schema/ in one transaction, if its checksum is not the database's or
    `due_anyway`; how long that transaction took (ms), or None if it was not due. The caller
    holds the migrations' lock."""
    script, checksum = schema_script()
    started = time.monotonic()
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        held = conn.execute("SELECT checksum FROM schema_state").fetchone()
        if held == (checksum,) and not due_anyway:
            return None
        conn.execute(script)
        conn.execute(
            "INSERT INTO schema_state (checksum) VALUES (%s) ON CONFLICT (only_row)"
            " DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
            (checksum,),
        )
    return round((time.monotonic() - started) * 1000, 1)
