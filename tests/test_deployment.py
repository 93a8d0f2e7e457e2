"""The deployment files, checked without a Docker engine: docker-compose.yml against the
Compose Specification's JSON schema (tests/data/compose-spec.json, the schema docker-compose
1.29.2 ships) and the invariants an operator relies on; the Dockerfile's shape; the image's
healthcheck command against a real server."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from service.config import PROJECT_ROOT
from tests.support.postgres import POSTGRES_IMAGE
from tests.support.running_service import RunningService, free_port

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
API_SERVICES = ["api", "api-pooled", "api-replicated"]


def seconds(duration: str) -> float:
    value, unit = re.fullmatch(r"(\d+)(ms|s|m)", duration).groups()  # type: ignore[union-attr]
    return int(value) * {"ms": 0.001, "s": 1, "m": 60}[unit]


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((PROJECT_ROOT / "tests/data/compose-spec.json").read_text())
    errors = [e.message for e in Draft201909Validator(schema).iter_errors(COMPOSE)]
    assert errors == []


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image, name
        assert not image.endswith((":latest", ":${TAG}")), name


def test_postgres_keeps_its_data_and_says_when_it_is_ready() -> None:
    postgres = SERVICES["postgres"]
    assert postgres["volumes"][0].split(":")[0] in COMPOSE["volumes"]
    assert postgres["healthcheck"]["test"][1] == "pg_isready"


def test_migrations_run_once_before_any_api_starts() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"][-1] == "migrate"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in API_SERVICES:
        api = SERVICES[name]
        assert api["environment"]["MIGRATE_ON_START"] == "false"
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", API_SERVICES)
def test_api_is_supervised_and_drains_before_it_is_killed(name: str) -> None:
    api = SERVICES[name]
    assert api["healthcheck"]["test"] == ["CMD", "python", "-m", "service.healthcheck"]
    assert api["restart"] == "unless-stopped"
    assert seconds(api["stop_grace_period"]) > float(api["environment"]["SHUTDOWN_TIMEOUT"])
    assert api["read_only"] is True


def test_pooled_replicas_go_through_pgbouncer_in_transaction_mode() -> None:
    assert SERVICES["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    pooled = SERVICES["api-pooled"]
    assert "@pgbouncer:" in pooled["environment"]["DATABASE_URL"]
    assert pooled["environment"]["DB_STATEMENT_CACHE_SIZE"] == "0"
    assert pooled["profiles"] == ["scale"]


def test_the_replica_profile_streams_from_postgres_and_the_api_reads_from_it() -> None:
    replica = SERVICES["postgres-replica"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == SERVICES["postgres"]["image"]
    script = replica["command"][-1]
    assert "pg_basebackup -h postgres" in script
    assert " -R " in script
    assert replica["volumes"][0].split(":")[0] in COMPOSE["volumes"]
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "host replication" in SERVICES["postgres"]["command"][-1]  # the primary lets it
    api = SERVICES["api-replicated"]
    assert api["profiles"] == ["replica"]
    assert "@postgres:" in api["environment"]["DATABASE_URL"]
    assert "@postgres-replica:" in api["environment"]["DATABASE_REPLICA_URLS"]
    assert api["depends_on"]["postgres-replica"]["condition"] == "service_healthy"


def test_loadtest_profile_loads_the_api_over_its_own_loopback() -> None:
    loadtest = SERVICES["loadtest"]
    assert loadtest["profiles"] == ["loadtest"]
    assert loadtest["network_mode"] == "service:api"
    assert "http://127.0.0.1:8000" in loadtest["command"]
    assert loadtest["depends_on"]["api"]["condition"] == "service_healthy"


def test_no_secret_is_baked_in() -> None:
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"^\s*(\w*PASSWORD|API_KEYS):\s*(\S+)", text, re.MULTILINE):
        assert match[2].startswith("${"), match[0]
    assert "postgresql://enrollment:${POSTGRES_PASSWORD:?" in text


def default(reference: str) -> str:
    """What `${NAME:-default}` gives when NAME is unset."""
    found = re.fullmatch(r"\$\{\w+:-(.+)\}", reference)
    assert found, reference
    return found[1]


def test_base_images_are_the_official_ones_unless_a_variable_names_another() -> None:
    assert default(SERVICES["postgres"]["image"]) == "postgres:16.4-alpine"
    assert SERVICES["postgres-replica"]["image"] == SERVICES["postgres"]["image"]
    assert default(SERVICES["pgbouncer"]["image"]) == "edoburu/pgbouncer:v1.25.1-p0"
    python = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert python
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", python[1])
    assert default(SERVICES["api"]["build"]["args"]["PYTHON_IMAGE"]) == python[1]
    # testcontainers starts the same Postgres as compose.
    assert default(SERVICES["postgres"]["image"]) == POSTGRES_IMAGE


def test_dockerfile_builds_in_two_stages_and_runs_as_a_named_numeric_user() -> None:
    stages = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert stages == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "useradd --system --uid 10001" in DOCKERFILE  # yoyo asks for the user's name
    assert re.search(r"^USER [1-9]\d*:[1-9]\d*$", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^CMD \[", DOCKERFILE, re.MULTILINE)  # exec form: SIGTERM reaches it
    assert "HEALTHCHECK" in DOCKERFILE
    for directory in ("service", "sql", "migrations"):
        assert f"COPY {directory} ./{directory}" in DOCKERFILE


def test_image_healthcheck_command_tells_up_from_down(tmp_path: Path, database_url: str) -> None:
    service = RunningService(tmp_path, DATABASE_URL=database_url, MIGRATE_ON_START="false")
    try:
        up = subprocess.run(
            [sys.executable, "-m", "service.healthcheck"], env={"PORT": str(service.port)}
        )
    finally:
        service.stop()
    down = subprocess.run(
        [sys.executable, "-m", "service.healthcheck"], env={"PORT": str(free_port())}
    )
    assert (up.returncode, down.returncode) == (0, 1)
