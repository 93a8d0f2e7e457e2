"""A webhook receiver on 127.0.0.1 for tests: it verifies every delivery with the Standard
Webhooks reference library, as a real receiver would, records it, and answers as told."""

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

HOST = "127.0.0.2"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: tuple[str, ...]  # the secrets whose signature verified
    answered: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.payload["data"]["items"]
        return items


class Receiver:
    """Answers each request with the next of `answers` (then 200), after verifying it."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.answers: deque[Answer] = deque()
        self.received: list[Received] = []
        self.url = ""
        self._lock = threading.Lock()

    def verified(self) -> list[Received]:
        """Deliveries that verified with a known secret and were answered 2xx, in order of
        arrival, each id once (as a receiver deduplicates at-least-once deliveries)."""
        with self._lock:
            received = list(self.received)
        seen: set[str] = set()
        verified = []
        for r in received:
            if r.verified_by and 200 <= r.answered < 300 and r.id not in seen:
                seen.add(r.id)
                verified.append(r)
        return verified

    def items(self) -> list[dict[str, Any]]:
        """The changes delivered, in order, each delivery counted once."""
        return [item for delivery in self.verified() for item in delivery.items]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in handler.headers.items()}
        verified_by = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified_by.append(secret)
        with self._lock:  # recorded as it arrives, answered after the delay
            answer = self.answers.popleft() if self.answers else Answer()
            self.received.append(
                Received(handler.path, headers, body, tuple(verified_by), answer.status)
            )
        time.sleep(answer.delay)
        handler.send_response(answer.status)
        for name, value in answer.headers.items():
            handler.send_header(name, value)
        handler.send_header("content-length", "0")
        handler.end_headers()


@contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    """A receiver on 127.0.0.2 (loopback too, but not 127.0.0.1: the tests list it alone, so
    that `localhost` resolves outside the list)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            receiver._handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://{HOST}:{server.server_address[1]}/hook"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


async def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait until `check()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)
