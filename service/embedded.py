"""An embedded Postgres (PyPI's pgserver) for running with no DATABASE_URL at all."""

import logging
import warnings
from pathlib import Path
from typing import Any

from service.config import ConfigError

logger = logging.getLogger(__name__)
MISSING = (
    "DATABASE_URL is unset and no embedded Postgres is installed: set DATABASE_URL to your"
    " Postgres, or install the embedded one with `pip install '.[embedded]'` (in a checkout;"
    " `make run` does it too)"
)


def start_embedded_postgres(data_dir: Path) -> Any:
    """Start (or find running) the server whose data lives under `data_dir/postgres`, and
    return pgserver's handle to it (`get_uri()` gives its URL).

    The data survives restarts. pgserver stops the server when this process exits normally,
    so the caller must turn SIGTERM into a normal exit.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; /tmp serves fine.
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server
    except ImportError:  # a plain `pip install .` and the container image leave it out
        raise ConfigError(MISSING) from None

    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it narrates every pg_ctl call
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    logger.info("postgres.embedded", extra={"data_dir": str(data_dir / "postgres")})
    return server
