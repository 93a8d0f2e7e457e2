"""Span export with the OpenTelemetry SDK and its OTLP/HTTP exporter: the one module that
imports them, and only when the OTEL_* variables turn export on (Settings.span_export).

The SDK reads the standard variables itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
(the resource), OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the sampler),
OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT (the exporter), OTEL_BSP_* (the
queue). Spans wait in the batch processor's queue and leave from its thread, never on the
request path; when the collector cannot keep up or cannot be reached, the queue drops the
newest. One per worker process, made by the app in that process."""

import contextlib
import threading
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode
from starlette.types import Scope

from service.plumbing.telemetry import route_template
from service.plumbing.tracing import Outcome, TraceParent

_UNTRACED = contextlib.nullcontext()


class SpanExport:
    """Makes the request and statement spans and sends them off, batched."""

    def __init__(self, exporter: SpanExporter | None = None) -> None:
        # Shut down by the app's lifespan, within SHUTDOWN_TIMEOUT; at exit the SDK's own
        # hook would wait out the exporter's retries.
        self.provider = TracerProvider(resource=Resource.create(), shutdown_on_exit=False)
        self.provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
        self.tracer = self.provider.get_tracer("enrollment-service")

    @contextlib.contextmanager
    def server_span(
        self, scope: Scope, parent: TraceParent | None, outcome: Outcome
    ) -> Iterator[tuple[str, str]]:
        """The request's span, current for the block, which gets its trace and span ids
        (also when the sampler drops it). Ended at the block's exit with `outcome`: the
        route, the status, and the problem's type on an error. No query string, header or
        body goes into it."""
        method = scope["method"]
        span = self.tracer.start_span(
            method,
            context=_remote(parent) if parent else None,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.scheme": scope["scheme"]},
            record_exception=False,
            set_status_on_exception=False,
        )
        ids = span.get_span_context()
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                yield format(ids.trace_id, "032x"), format(ids.span_id, "016x")
        finally:
            route = route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", outcome.status)
            if outcome.problem_type is not None:
                span.set_attribute("problem.type", outcome.problem_type)
            if outcome.status >= 500:  # a 4xx is the caller's error, not the server's
                span.set_status(Status(StatusCode.ERROR, outcome.problem_type))
            span.end()

    def statement_span(self, name: str) -> contextlib.AbstractContextManager[object]:
        """A child of the current span, named by the statement's `-- name:`, never holding
        its parameters; nothing when the request's span is not recorded (not sampled)."""
        if not trace.get_current_span().is_recording():
            return _UNTRACED
        return self._statement_span(name)

    @contextlib.contextmanager
    def _statement_span(self, name: str) -> Iterator[None]:
        with self.tracer.start_as_current_span(
            name,
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "postgresql", "db.query.summary": name},
            # The SDK's own would put the error's message in the span, and Postgres's
            # messages can hold values (a duplicate email's).
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except Exception as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise

    def shutdown(self, timeout: float) -> None:
        """Send what is queued and stop, waiting at most `timeout` seconds: an unreachable
        collector's retries then go on in a daemon thread, which dies with the process."""
        stopping = threading.Thread(target=self.provider.shutdown, daemon=True)
        stopping.start()
        stopping.join(timeout)


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
