"""A webhook subscriber beside a load (`--webhooks`): a receiver on 127.0.0.1 answering 200,
and the feed follower's prober (tests/load/feed.py) changing one student every few ms. The
delivery lag of a probe is from its PATCH's 200 (it has committed) to the receiver getting
the delivery that holds it: commit to the receiver's 200, give or take the answer's trip.
The subscription is active only while a run is followed, from the feed's head then; paused
between runs, it holds no worker."""

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson

from tests.load.feed import FeedFollower, note_probes

RECEIVER_HOST = "127.0.0.1"


@dataclass
class WebhookFollower(FeedFollower):
    webhook_id: int = 0
    delivered: int = 0  # deliveries received, over every run
    _seen: dict[str, float] | None = None

    def receive(self, body: bytes) -> None:
        arrived = time.time()
        seen = self._seen
        if seen is not None:
            note_probes(orjson.loads(body)["data"]["items"], seen, arrived)
        self.delivered += 1

    @contextlib.contextmanager
    def seeing(self, seen: dict[str, float]) -> Iterator[None]:
        self._seen = seen
        self._set({"status": "active", "cursor": self.head()})
        try:
            yield
        finally:
            self._set({"status": "paused"})

    def _set(self, fields: dict[str, Any]) -> None:
        with self._client() as client:
            client.patch(f"/webhooks/{self.webhook_id}", json=fields).raise_for_status()


@contextlib.contextmanager
def subscribed(
    url: str, headers: dict[str, str], probe_student_id: int
) -> Iterator[WebhookFollower]:
    """A receiver answering 200 and a paused subscription of every entity delivering to it."""
    follower = WebhookFollower(url, headers, probe_student_id)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            follower.receive(self.rfile.read(int(self.headers["content-length"])))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = f"http://{RECEIVER_HOST}:{server.server_address[1]}/hook"
        created = httpx.post(f"{url}/webhooks", json={"url": hook}, headers=headers)
        follower.webhook_id = created.raise_for_status().json()["id"]
        follower._set({"status": "paused"})
        yield follower
    finally:
        server.shutdown()
        server.server_close()
