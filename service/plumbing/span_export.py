"""Span export with the OpenTelemetry SDK and its OTLP/HTTP exporter: the one module that
imports them, and only when the OTEL_* variables turn export on (Settings.span_export).

The SDK reads the standard variables itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
(the resource), OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the sampler),
OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT (the exporter), OTEL_BSP_* (the
queue). Spans wait in the batch processor's queue and leave from its thread, never on the
request path; when the collector cannot keep up or cannot be reached, the queue drops the
newest. One per worker process, made by the app in that process."""

import threading

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
    Tracer,
    TraceState,
)
from opentelemetry.trace.status import Status, StatusCode
from starlette.types import Scope

from service.plumbing.telemetry import route_template
from service.plumbing.tracing import Outcome, TraceParent


class SpanExport:
    """Makes the request and statement spans and sends them off, batched. The request's
    span is never made current in OpenTelemetry's own context: nothing else here reads it,
    and attaching and detaching it cost every request more than the span itself. The
    statements' spans name their parent instead (tracing.statement)."""

    def __init__(self, exporter: SpanExporter | None = None) -> None:
        # Shut down by the app's lifespan, within SHUTDOWN_TIMEOUT; at exit the SDK's own
        # hook would wait out the exporter's retries.
        self.provider = TracerProvider(resource=Resource.create(), shutdown_on_exit=False)
        self.provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("enrollment-service")

    def start_server_span(self, scope: Scope, parent: TraceParent | None) -> Span:
        """The request's span, continuing the caller's trace; the sampler decides whether
        it is recorded (a span that is not still has the ids the log lines carry)."""
        method = scope["method"]
        return self.tracer.start_span(
            method,  # the route is known once the router has run: end_server_span names it
            context=_remote(parent) if parent else None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.scheme": scope["scheme"]},
            record_exception=False,
            set_status_on_exception=False,
        )

    @staticmethod
    def ids(span: Span) -> tuple[str, str]:
        ids = span.get_span_context()
        return format(ids.trace_id, "032x"), format(ids.span_id, "016x")

    @staticmethod
    def end_server_span(span: Span, scope: Scope, outcome: Outcome) -> None:
        """Name the span by its route, note the status and the problem's type on an error
        (no query string, header or body), and end it."""
        if span.is_recording():
            route = route_template(scope)
            span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", outcome.status)
            if outcome.problem_type is not None:
                span.set_attribute("problem.type", outcome.problem_type)
            if outcome.status >= 500:  # a 4xx is the caller's error, not the server's
                span.set_status(Status(StatusCode.ERROR, outcome.problem_type))
        span.end()

    def statement_span(self, name: str, parent: Span) -> "StatementSpan":
        return StatementSpan(self.tracer, name, parent)

    def shutdown(self, timeout: float) -> None:
        """Send what is queued and stop, waiting at most `timeout` seconds: an unreachable
        collector's retries then go on in a daemon thread, which dies with the process."""
        stopping = threading.Thread(target=self.provider.shutdown, daemon=True)
        stopping.start()
        stopping.join(timeout)


class StatementSpan:
    """Around one SQL statement: a child span of the request's, named by the statement's
    `-- name:`, never holding its parameters, and marked an error by the exception's type
    alone (the SDK's own would put its message in, and Postgres's messages can hold
    values: a duplicate email's)."""

    __slots__ = ("name", "parent", "span", "tracer")

    def __init__(self, tracer: Tracer, name: str, parent: Span) -> None:
        self.tracer, self.name, self.parent = tracer, name, parent

    def __enter__(self) -> None:
        self.span = self.tracer.start_span(
            self.name,
            context=trace.set_span_in_context(self.parent),
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "postgresql", "db.query.summary": self.name},
            record_exception=False,
            set_status_on_exception=False,
        )

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        if error_type is not None:
            self.span.set_status(Status(StatusCode.ERROR, error_type.__name__))
        self.span.end()


def _remote(parent: TraceParent) -> Context:
    """A context whose current span is the caller's, so the request's span continues its
    trace (and a parent-based sampler follows its sampled flag)."""
    flags = TraceFlags(TraceFlags.SAMPLED if parent.sampled else TraceFlags.DEFAULT)
    state = TraceState.from_header([parent.tracestate]) if parent.tracestate else None
    caller = SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.parent_id, 16),
        is_remote=True,
        trace_flags=flags,
        trace_state=state,
    )
    return trace.set_span_in_context(NonRecordingSpan(caller))
