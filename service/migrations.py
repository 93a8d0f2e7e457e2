"""Apply the SQL files in migrations/ with yoyo, under yoyo's lock so that replicas
starting together apply each migration exactly once."""

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from yoyo import get_backend, read_migrations

from service.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
LOCK_TIMEOUT_SECONDS = 60
logger = logging.getLogger(__name__)


def yoyo_url(database_url: str) -> str:
    """The same database, named for yoyo's psycopg 3 backend."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def apply_migrations(database_url: str, directory: Path = MIGRATIONS_DIR) -> int:
    """Apply every pending migration; returns how many were applied."""
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
    finally:
        backend.connection.close()
    for migration in pending:
        logger.info("migration.applied", extra={"migration": migration.id})
    return len(pending)
