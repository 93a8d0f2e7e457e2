"""W3C Trace Context (API.md v1.2 "Tracing"), always on and cheap: every request continues the
caller's trace from `traceparent` (and `tracestate`), or starts one, and its log lines carry
`trace_id` and `span_id`. Spans are exported only when the OTEL_* variables turn it on:
span_export.py, the one module that imports the OpenTelemetry SDK, then makes each request's
span (whose ids the log lines carry) and one per SQL statement (`statement`).

The header is parsed here rather than by OpenTelemetry's propagator so that a service with
export off imports nothing of OpenTelemetry, and a request pays a regex match, not a
Context built and attached."""

import contextlib
import random
import re
from contextlib import AbstractContextManager
from contextvars import Token
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import Scope

from service.plumbing import OPERATIONAL_PATHS, context

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from service.plumbing.span_export import SpanExport

# version-trace_id-parent_id-flags, lowercase hex. A future version may append fields after
# a dash, which a reader of version 00 ignores; version 00 has exactly these four.
_TRACEPARENT = re.compile(
    rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?"
)
_INVALID_TRACE_ID, _INVALID_SPAN_ID = b"0" * 32, b"0" * 16
TRACESTATE_LONGEST = 512  # the spec lets a vendor drop a longer one whole
# A tracestate list member, as W3C Trace Context defines it: key=value, the key simple or
# tenant@system. Anything else makes the whole header unparseable, and it is dropped.
_TRACESTATE_MEMBER = re.compile(
    r"(?:[a-z][_0-9a-z*/-]{0,255}|[a-z0-9][_0-9a-z*/-]{0,240}@[a-z][_0-9a-z*/-]{0,13})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
TRACESTATE_MEMBERS_MOST = 32


@dataclass(frozen=True, slots=True)
class TraceParent:
    """The caller's span, as its `traceparent` and `tracestate` headers name it."""

    trace_id: str  # 32 lowercase hex
    parent_id: str  # 16 lowercase hex
    sampled: bool
    tracestate: str


def incoming(scope: Scope) -> TraceParent | None:
    """The caller's trace context; None when it sent none or a malformed one (then the
    request starts a new trace and `tracestate` is dropped, as the spec says)."""
    traceparent, tracestate = None, []
    for header, value in scope["headers"]:
        if header == b"traceparent":
            if traceparent is not None:
                return None  # two traceparents: neither can be trusted
            traceparent = value
        elif header == b"tracestate":
            tracestate.append(value)
    if traceparent is None:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == b"ff" or (version == b"00" and rest is not None):
        return None
    if trace_id == _INVALID_TRACE_ID or parent_id == _INVALID_SPAN_ID:
        return None
    return TraceParent(
        trace_id.decode(),
        parent_id.decode(),
        sampled=bool(int(flags, 16) & 1),
        tracestate=_valid_tracestate(b",".join(tracestate).decode("latin-1")),
    )


def _valid_tracestate(state: str) -> str:
    """The tracestate when it is one the spec allows, else "" (dropped whole). Checked here
    so that OpenTelemetry, which logs each bad member word for word, only ever sees a good
    one: caller text never reaches a log line that way."""
    if not state or len(state) > TRACESTATE_LONGEST:
        return ""
    members = [member.strip(" \t") for member in state.split(",")]
    members = [member for member in members if member]  # empty members are allowed
    keys = {member.partition("=")[0] for member in members}
    if len(members) > TRACESTATE_MEMBERS_MOST or len(keys) < len(members):
        return ""
    if not all(_TRACESTATE_MEMBER.fullmatch(member) for member in members):
        return ""
    return state


_UNTRACED = contextlib.nullcontext()


@dataclass(slots=True)
class Outcome:
    """What the request came to, for its span: the status sent and the problem's type."""

    status: int = 0
    problem_type: str | None = None


class RequestTrace:
    """The request's trace context around the handling of it: its ids in `context.trace`
    for log lines and, with `export`, its server span, ended with `outcome` (which the
    caller fills in) when the block exits. A span that is recorded (sampled) is also put
    in `context.traced_span`, the parent of the statements' spans. A class, not a generator
    with contextlib: every request enters it, and this costs a third as much."""

    __slots__ = ("_span", "_trace_token", "_traced_token", "export", "outcome", "scope")

    def __init__(self, scope: Scope, outcome: Outcome, export: "SpanExport | None") -> None:
        self.scope, self.outcome = scope, outcome
        self.export = export if scope["path"] not in OPERATIONAL_PATHS else None
        self._span: Span | None = None
        self._traced_token: Token[tuple[SpanExport, Span] | None] | None = None

    def __enter__(self) -> None:
        parent = incoming(self.scope)
        if self.export is None:
            # New ids from `random`: ids need no more (W3C: random, never all zeros), and
            # this costs half of os.urandom's system call and hex().
            trace_id = parent.trace_id if parent else "%032x" % (random.getrandbits(128) or 1)
            span_id = "%016x" % (random.getrandbits(64) or 1)
            self._trace_token = context.trace.set((trace_id, span_id))
            return
        span = self._span = self.export.start_server_span(self.scope, parent)
        self._trace_token = context.trace.set(self.export.ids(span))
        if span.is_recording():
            self._traced_token = context.traced_span.set((self.export, span))

    def __exit__(self, *exc_info: object) -> None:
        context.trace.reset(self._trace_token)
        if self._traced_token is not None:
            context.traced_span.reset(self._traced_token)
        if self.export is not None and self._span is not None:
            self.export.end_server_span(self._span, self.scope, self.outcome)


def statement(name: str) -> AbstractContextManager[object]:
    """Around one SQL statement: its span, a child of the request's, when the request's
    span is exported and recorded."""
    traced = context.traced_span.get()
    if traced is None:
        return _UNTRACED
    export, parent = traced
    return export.statement_span(name, parent)
