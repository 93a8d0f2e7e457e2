"""An embedded Postgres (PyPI's pgserver) for running with no DATABASE_URL at all."""

import logging
import warnings
from pathlib import Path

from pgserver.postgres_server import PostgresServer, get_server

logger = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path) -> PostgresServer:
    """Start (or find running) the server whose data lives under `data_dir/postgres`.

    The data survives restarts. pgserver stops the server when this process exits normally,
    so the caller must turn SIGTERM into a normal exit.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver narrates every pg_ctl call at INFO, and platformdirs warns when
    # XDG_RUNTIME_DIR is unset (it then uses /tmp, which is fine).
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="platformdirs")
    server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    logger.info("postgres.embedded", extra={"data_dir": str(data_dir / "postgres")})
    return server
