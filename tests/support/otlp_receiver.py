"""A small OTLP/HTTP trace receiver on 127.0.0.1, standing in for a collector: it decodes
each export (protobuf, with opentelemetry-proto) and keeps the spans, for tests."""

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.http_server import serving


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, Any]
    resource: dict[str, Any]


def _values(attributes: Any) -> dict[str, Any]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in attributes}


@dataclass
class OtlpReceiver:
    """Keeps every span it is sent; with `decode=False` (the load harness), only counts the
    exports and their bytes, so that it costs the machine little."""

    decode: bool = True
    spans: list[ReceivedSpan] = field(default_factory=list)
    exports: int = 0
    received_bytes: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                resource = _values(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    self.spans += [
                        ReceivedSpan(
                            span.name,
                            span.trace_id.hex(),
                            span.parent_span_id.hex(),
                            span.kind,
                            _values(span.attributes),
                            resource,
                        )
                        for span in scope_spans.spans
                    ]

    @contextmanager
    def serving(self) -> Iterator["OtlpReceiver"]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.exports += 1
                    receiver.received_bytes += len(body)
                if receiver.decode:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver.received(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        with serving(Handler) as self.url:
            yield self
