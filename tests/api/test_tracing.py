"""Tracing (API.md v1.2): the caller's trace continued, the span tree exported (to an
in-memory exporter here; tests/test_tracing_process.py has a real OTLP receiver), and log
lines carrying the trace's ids whether or not spans are exported."""

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from service.app import create_app
from service.config import Settings
from tests.api.conftest import LogLines
from tests.conftest import make_student, unique

TRACE_ID, PARENT_ID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def traceparent(sampled: bool = True, trace_id: str = TRACE_ID) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{PARENT_ID}-{'01' if sampled else '00'}"}


@asynccontextmanager
async def traced(
    database_url: str, monkeypatch: pytest.MonkeyPatch, **otel: str
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter]]:
    """The app exporting its spans to memory, batched every 10 ms, with `otel` variables."""
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
    for name, value in otel.items():
        monkeypatch.setenv(name, value)
    exporter = InMemorySpanExporter()
    app = create_app(Settings(database_url=database_url), span_exporter=exporter)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, exporter


async def exported(exporter: InMemorySpanExporter, count: int) -> Sequence[ReadableSpan]:
    """The spans exported, once there are at least `count` (or after two seconds)."""
    deadline = time.monotonic() + 2
    while len(exporter.get_finished_spans()) < count and time.monotonic() < deadline:  # noqa: ASYNC110 (the exporter's thread has no event to await)
        await asyncio.sleep(0.02)
    return exporter.get_finished_spans()


def server_spans(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == SpanKind.SERVER]


async def test_a_request_continues_the_callers_trace_with_a_span_per_statement(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with traced(database_url, monkeypatch) as (client, exporter):
        student = await make_student(client)
        await exported(exporter, 2)  # its request's and its statement's
        exporter.clear()
        found = await client.get(f"/students/{student['id']}", headers=traceparent())
        assert found.status_code == 200
        spans = await exported(exporter, 2)
    (server,) = server_spans(spans)
    assert server.name == "GET /students/{student_id}"
    assert server.context is not None
    assert server.parent is not None
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert (format(server.parent.span_id, "016x"), server.parent.is_remote) == (PARENT_ID, True)
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/students/{student_id}"
    assert server.attributes["http.response.status_code"] == 200
    statements = [span for span in spans if span.kind == SpanKind.CLIENT]
    assert [span.name for span in statements] == ["select-student-with-courses"]
    assert statements[0].parent is not None
    assert statements[0].parent.span_id == server.context.span_id
    assert statements[0].context is not None
    assert statements[0].context.trace_id == server.context.trace_id


async def test_a_request_without_a_traceparent_starts_a_trace(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with traced(database_url, monkeypatch) as (client, exporter):
        await client.get("/students?limit=1")
        await client.get("/students?limit=1", headers={"traceparent": "00-zz-broken-01"})
        spans = server_spans(await exported(exporter, 4))
    assert len(spans) == 2
    assert all(span.parent is None for span in spans)
    assert len({span.context.trace_id for span in spans if span.context}) == 2


async def test_an_error_carries_its_problem_type_and_no_values(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with traced(database_url, monkeypatch) as (client, exporter):
        email = f"{unique('secret')}@example.edu"
        await make_student(client, email=email)
        taken = await client.post(
            "/students", json={"first_name": "A", "last_name": "B", "email": email}
        )
        assert taken.status_code == 409
        spans = await exported(exporter, 4)
    refused = server_spans(spans)[-1]
    assert refused.attributes is not None
    assert refused.attributes["http.response.status_code"] == 409
    assert str(refused.attributes["problem.type"]).endswith("/problems/conflict")
    assert refused.status.status_code == StatusCode.UNSET  # a 4xx is not the server's error
    failed = [span for span in spans if span.kind == SpanKind.CLIENT][-1]
    assert failed.name == "insert-student"
    assert failed.status.status_code == StatusCode.ERROR
    for span in spans:  # neither attributes nor status hold a value sent
        assert email not in json.dumps(dict(span.attributes or {}))
        assert email not in (span.status.description or "")
        assert not span.events


async def test_health_endpoints_are_not_traced(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with traced(database_url, monkeypatch) as (client, exporter):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path, headers=traceparent())).status_code == 200
        await client.get("/students?limit=1")  # a traced request, so export has run
        spans = await exported(exporter, 2)
    assert [span.name for span in server_spans(spans)] == ["GET /students"]


async def test_the_sampler_is_honoured(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with traced(database_url, monkeypatch) as (client, exporter):
        # parentbased_always_on (the default) follows the caller's decision not to sample.
        await client.get("/students?limit=1", headers=traceparent(sampled=False))
        await client.get("/students?limit=1", headers=traceparent(trace_id="1" * 32))
        spans = server_spans(await exported(exporter, 4))
    assert [format(s.context.trace_id, "032x") for s in spans if s.context] == ["1" * 32]
    ratio = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
    async with traced(database_url, monkeypatch, **ratio) as (client, exporter):
        for _ in range(5):
            await client.get("/students?limit=1")
        await client.get("/students?limit=1", headers=traceparent())  # the parent decides
        spans = server_spans(await exported(exporter, 2))
    assert [format(s.context.trace_id, "032x") for s in spans if s.context] == [TRACE_ID]


async def test_a_forged_tracestate_never_reaches_a_log_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    forged = "level=ERROR event=admin.login"
    good = "rojo=00f067aa0ba902b7"
    async with traced(database_url, monkeypatch) as (client, exporter):
        for state in (forged, good):
            headers = traceparent() | {"tracestate": state}
            assert (await client.get("/students?limit=1", headers=headers)).status_code == 200
        spans = server_spans(await exported(exporter, 4))
    assert all("admin.login" not in json.dumps(line) for line in log_lines())
    parents = [span.parent for span in spans if span.parent is not None]
    assert [str(parent.trace_state.to_header()) for parent in parents] == ["", good]


async def test_log_lines_carry_the_callers_trace_id_with_export_off(
    client: httpx.AsyncClient, log_lines: LogLines
) -> None:
    student = await make_student(client)
    course = (await client.post("/courses", json={"code": unique("TR"), "title": "T"})).json()
    pair = f"/students/{student['id']}/courses/{course['id']}"
    assert (await client.put(pair, headers=traceparent(sampled=False))).status_code == 201
    lines = [line for line in log_lines() if line.get("trace_id") == TRACE_ID]
    assert {line["event"] for line in lines} == {"http.request", "enrollment.created"}
    assert len({line["span_id"] for line in lines}) == 1  # this request's own span
    assert lines[0]["span_id"] != PARENT_ID
    other = await client.get("/students?limit=1")
    assert other.status_code == 200
    last = [line for line in log_lines() if line["event"] == "http.request"][-1]
    assert len(last["trace_id"]) == 32
    assert last["trace_id"] != TRACE_ID


def test_with_export_off_nothing_of_opentelemetry_is_imported(database_url: str) -> None:
    """In a process of its own: serve a request, then list the modules loaded."""
    program = f"""
import asyncio, sys, httpx
from asgi_lifespan import LifespanManager
from service.app import create_app
from service.config import Settings

async def main():
    async with LifespanManager(create_app(Settings(database_url={database_url!r}))) as m:
        transport = httpx.ASGITransport(app=m.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/students?limit=1")).status_code == 200
    print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))

asyncio.run(main())
"""
    env = {"PATH": "/usr/bin:/bin", "OTEL_SDK_DISABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == "[]"
