"""`python -m service`: migrate, then serve with uvicorn (see README.md for the variables)."""

import logging
import os
import signal
import sys
import tempfile
from types import FrameType

import uvicorn

from service.config import ConfigError, Settings
from service.embedded import start_embedded_postgres
from service.logs import configure_logging
from service.migrations import apply_migrations

logger = logging.getLogger("service")


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    # uvicorn drains and then re-raises SIGTERM; exiting through SystemExit instead lets
    # atexit hooks run, which is how the embedded Postgres stops with the service.
    sys.exit(0)


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        sys.exit(f"configuration error: {error}")
    configure_logging(settings.log_level, settings.log_format)
    signal.signal(signal.SIGTERM, _exit_normally)
    if not settings.api_keys:
        logger.warning("auth.disabled", extra={"detail": "API_KEYS is unset: no key is needed"})
    database_url = settings.database_url
    if database_url is None:
        database_url = start_embedded_postgres(settings.data_dir).get_uri()
        # Worker processes read their settings from the environment too.
        os.environ["DATABASE_URL"] = database_url
    if settings.migrate_on_start:
        applied = apply_migrations(database_url)
        logger.info("migrations.applied", extra={"count": applied})
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Workers share their metrics through files here; a fresh directory per start.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="enrollment-metrics-")
    uvicorn.run(
        "service.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        log_level=settings.log_level,
        log_config=None,  # serve_app configures logging in each worker
    )


if __name__ == "__main__":
    main()
