"""`python -m service` exporting spans over OTLP/HTTP to a real receiver on 127.0.0.1: in
the batch as it serves, on SIGTERM, from every worker, and never failing a request when the
collector is down."""

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.otlp_receiver import OtlpReceiver
from tests.support.postgres import scratch_database
from tests.support.running_service import RunningService, free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}


def eventually(check: Callable[[], bool], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def otel(endpoint: str, **more: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "enrollment-test",
        **more,
    }


def test_spans_reach_the_collector_while_serving_and_on_sigterm(
    server_url: str, tmp_path: Path
) -> None:
    with (
        OtlpReceiver().serving() as receiver,
        scratch_database(server_url, "traced") as url,
    ):
        service = RunningService(
            tmp_path, DATABASE_URL=url, **otel(receiver.url, OTEL_BSP_SCHEDULE_DELAY="50")
        )
        try:
            assert httpx.get(f"{service.url}/students", headers=TRACEPARENT).status_code == 200
            eventually(lambda: any(s.trace_id == TRACE_ID for s in receiver.spans))
        finally:
            assert service.stop() == 0
        served = [s for s in receiver.spans if s.trace_id == TRACE_ID]
        assert {s.name for s in served} == {"GET /students", "select-students"}
        assert all(s.resource["service.name"] == "enrollment-test" for s in served)

        # Held in the batch for a minute, unless SIGTERM sends them first.
        held = otel(receiver.url, OTEL_BSP_SCHEDULE_DELAY="60000")
        service = RunningService(tmp_path, DATABASE_URL=url, **held)
        last = "1" * 32
        headers = {"traceparent": f"00-{last}-00f067aa0ba902b7-01"}
        try:
            assert httpx.get(f"{service.url}/students", headers=headers).status_code == 200
            time.sleep(0.5)
            assert not any(s.trace_id == last for s in receiver.spans)
        finally:
            assert service.stop() == 0
        assert any(s.trace_id == last and s.name == "GET /students" for s in receiver.spans)


def test_every_worker_exports(server_url: str, tmp_path: Path) -> None:
    with (
        OtlpReceiver().serving() as receiver,
        scratch_database(server_url, "traced") as url,
    ):
        service = RunningService(
            tmp_path,
            DATABASE_URL=url,
            WORKERS="2",
            OTEL_EXPERIMENTAL_RESOURCE_DETECTORS="process",
            **otel(receiver.url, OTEL_BSP_SCHEDULE_DELAY="50"),
        )
        try:
            with httpx.Client(base_url=service.url) as client:

                def both_workers_seen() -> bool:
                    for _ in range(20):  # new connections, spread over the workers
                        client.get("/students?limit=1", headers={"Connection": "close"})
                    pids = {s.resource.get("process.pid") for s in receiver.spans}
                    return len(pids - {None}) == 2

                eventually(both_workers_seen, within=20)
        finally:
            assert service.stop() == 0


def test_a_collector_that_is_down_never_fails_or_holds_a_request(
    server_url: str, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with scratch_database(server_url, "traced") as url:
        service = RunningService(
            tmp_path,
            DATABASE_URL=url,
            SHUTDOWN_TIMEOUT="3",
            **otel(nowhere, OTEL_BSP_SCHEDULE_DELAY="10"),
        )
        try:
            with httpx.Client(base_url=service.url) as client:
                slowest = 0.0
                for _ in range(200):
                    started = time.monotonic()
                    response = client.get("/students?limit=1", headers=TRACEPARENT)
                    slowest = max(slowest, time.monotonic() - started)
                    assert response.status_code == 200
            assert slowest < 1.0  # the exporter's retries (seconds) never reach a request
        finally:
            stopping = time.monotonic()
            assert service.stop() == 0
        assert time.monotonic() - stopping < 3 + 2  # the flush gave up within SHUTDOWN_TIMEOUT
