"""Schemathesis generates requests for every operation in the OpenAPI document (its
coverage, fuzzing and stateful phases) and sends them to a real server; every response must
conform to the document and none may be a 5xx. Run alone with `pytest -m fuzz -s`."""

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.openapi import load_openapi
from tests.support.running_service import RunningService

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
EXAMPLES_PER_OPERATION = "40"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.mark.fuzz
def test_schemathesis_finds_no_failure(database_url: str, tmp_path: Path) -> None:
    service = RunningService(tmp_path, DATABASE_URL=database_url, MIGRATE_ON_START="false")
    try:
        # One change in the feed, so that GET /changes?wait=30 finds it rather than waiting.
        student = {"first_name": "Fuzz", "last_name": "Seed", "email": "fuzz-seed@example.edu"}
        httpx.post(f"{service.url}/students", json=student)
        run = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{service.url}/openapi.json",
                "--checks",
                CHECKS,
                "--max-examples",
                EXAMPLES_PER_OPERATION,
                "--generation-database",
                "none",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        assert service.stop() == 0
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    print(summary)  # the figures: operations tested, cases generated, failures
    assert run.returncode == 0, run.stdout[-8000:]
    # Every operation it selected, and it selects all of the document's but one (33 of 34).
    paths = load_openapi()["paths"].values()
    operations = sum(method in METHODS for item in paths for method in item)
    selected = int(re.search(r"Selected: (\d+)/", summary)[1])  # type: ignore[index]
    assert selected >= operations - 1
    assert f"Tested: {selected}" in summary
