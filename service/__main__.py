"""`python -m service [serve]`: migrate, then serve with uvicorn.
`python -m service migrate`: apply pending migrations and exit (a one-shot deploy step).
See README.md for the environment variables."""

import logging
import os
import signal
import sys
import tempfile
from types import FrameType

import uvicorn

from service.config import ConfigError, Settings
from service.embedded import start_embedded_postgres
from service.migrations import apply_migrations
from service.plumbing.logs import configure_logging

logger = logging.getLogger("service")
USAGE = "usage: python -m service [serve|migrate]"


def _exit_normally(signum: int, frame: FrameType | None) -> None:
    # uvicorn drains and then re-raises SIGTERM; exiting through SystemExit instead lets
    # atexit hooks run, which is how the embedded Postgres stops with the service.
    sys.exit(0)


def _database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url
    database_url: str = start_embedded_postgres(settings.data_dir).get_uri()
    # Worker processes read their settings from the environment too.
    os.environ["DATABASE_URL"] = database_url
    return database_url


def _migrate(database_url: str) -> None:
    applied = apply_migrations(database_url)
    logger.info("migrations.applied", extra={"count": applied})


def _serve(settings: Settings) -> None:
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
        access_log=False,  # FrontDoor writes the access line, with request id and route
        # Nothing here reads the client's address or scheme, which is all X-Forwarded-*
        # would rewrite; without it uvicorn wraps every request in one layer less.
        proxy_headers=False,
    )


def main(arguments: list[str]) -> None:
    command = arguments[0] if arguments else "serve"
    if command not in ("serve", "migrate") or len(arguments) > 1:
        sys.exit(USAGE)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level, settings.log_format)
        signal.signal(signal.SIGTERM, _exit_normally)
        database_url = _database_url(settings)
    except ConfigError as error:
        sys.exit(f"configuration error: {error}")
    if command == "migrate":
        _migrate(database_url)
        return
    if not settings.api_keys and not settings.oauth:
        detail = "API_KEYS and OAUTH_ISSUER are unset: no key or token is needed"
        logger.warning("auth.disabled", extra={"detail": detail})
    if settings.migrate_on_start:
        _migrate(database_url)
    _serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
