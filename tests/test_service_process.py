"""`python -m service` as a user runs it: no DATABASE_URL, an embedded Postgres under
DATA_DIR that survives a restart, and a clean exit on SIGTERM that stops Postgres too."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.postgres import scratch_database
from tests.support.running_service import RunningService


def postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_embedded_postgres_keeps_data_across_restarts_and_stops_with_the_service(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = RunningService(tmp_path, DATA_DIR=str(data_dir))
    try:
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.edu"}
        created = httpx.post(f"{first.url}/students", json=body)
        assert created.status_code == 201
        assert postgres_running(data_dir)
    finally:
        assert first.stop() == 0
    assert not postgres_running(data_dir)

    second = RunningService(tmp_path, DATA_DIR=str(data_dir))
    try:
        found = httpx.get(f"{second.url}/students/{created.json()['id']}")
        assert found.status_code == 200
        assert found.json()["email"] == "ada@example.edu"
    finally:
        assert second.stop() == 0
    assert not postgres_running(data_dir)


def test_without_database_url_or_embedded_postgres_it_says_how_to_get_one(
    tmp_path: Path,
) -> None:
    # As after a plain `pip install .`: pgserver cannot be imported.
    without_pgserver = (
        "import runpy, sys; sys.modules['pgserver'] = None;"
        " runpy.run_module('service', run_name='__main__')"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    run = subprocess.run(
        [sys.executable, "-c", without_pgserver],
        env={**environment, "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "pip install '.[embedded]'" in run.stderr
    assert "make run" in run.stderr
    assert "Traceback" not in run.stderr


def students_served(metrics: str) -> list[float]:
    return [
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('http_requests_total{method="GET",route="/students",status="200"}')
    ]


def test_keys_are_enforced_never_logged_and_metrics_sum_over_workers(
    tmp_path: Path, database_url: str
) -> None:
    write_key = "w-0123456789abcdef"
    service = RunningService(
        tmp_path,
        DATABASE_URL=database_url,
        API_KEYS=f"reports:r-0123456789abcdef:read,registrar:{write_key}:read+write",
        WORKERS="2",
        LOG_LEVEL="info",
    )
    try:
        auth = {"Authorization": f"Bearer {write_key}"}
        assert httpx.get(f"{service.url}/students").status_code == 401
        assert (
            httpx.get(f"{service.url}/students", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
        for _ in range(20):
            assert httpx.get(f"{service.url}/students", headers=auth).status_code == 200
        # Whichever worker answers the scrape counts the requests both workers served, the
        # other's within a second (each worker adds its tally to the shared files each second).
        deadline = time.monotonic() + 5
        while (served := students_served(httpx.get(f"{service.url}/metrics").text)) != [20.0]:
            assert time.monotonic() < deadline, served
            time.sleep(0.2)
        # Each worker writes the access lines it holds every second, running or not.
        deadline = time.monotonic() + 5
        while service.log.read_text().count('"route":"/students","status":200') != 20:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        assert service.stop() == 0
    log = service.log.read_text()
    assert '"event":"http.request"' in log
    assert "0123456789abcdef" not in log


def test_a_malformed_api_keys_stops_the_service_naming_the_entry_not_the_key(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "service"],
        env={**os.environ, "API_KEYS": "reports:s3cr3t-value:admin", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "API_KEYS entry 1 (reports)" in run.stderr
    assert "s3cr3t-value" not in run.stderr + run.stdout


def test_a_long_poll_in_flight_is_answered_as_soon_as_the_service_stops(
    tmp_path: Path, server_url: str
) -> None:
    with scratch_database(server_url, "stopping_poll") as url:  # an empty feed: the poll waits
        service = RunningService(tmp_path, DATABASE_URL=url, SHUTDOWN_TIMEOUT="10")
        with ThreadPoolExecutor(1) as pool:
            poll = pool.submit(httpx.get, f"{service.url}/changes?wait=30", timeout=40)
            deadline = time.monotonic() + 10
            waiting = "change_feed_readers_waiting 1.0"
            while waiting not in httpx.get(f"{service.url}/metrics").text.splitlines():
                assert time.monotonic() < deadline, "the poll never waited"
                time.sleep(0.02)
            assert not poll.done()
            stopped_at = time.monotonic()
            assert service.stop() == 0
            answered = poll.result()
        took = time.monotonic() - stopped_at
    # Its empty page, at once: not a plain 500 once SHUTDOWN_TIMEOUT has run out.
    assert answered.status_code == 200
    assert answered.json()["items"] == []
    assert took < 5, took
