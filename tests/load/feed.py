"""A change-feed consumer beside a load: a reader long-polls `GET /changes` from the head,
while a prober changes one student every PROBE_SECONDS and notes when each change's 200
arrived (it has committed by then). The latency of a probe is from that 200 to the reader
receiving the change: commit to a long-polling reader seeing it, give or take the response's
own trip. Probes, rather than the rush's own enrollments, because the rush's courses fill
in its first moments and its seats are taken after waits for a lock that a timestamp in the
feed would count too."""

import contextlib
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

PROBE_SECONDS = 0.02
WAIT_SECONDS = 1  # each long poll's, so that the reader stops soon after it is told
CATCH_UP_SECONDS = 2.0


@dataclass
class FeedFollower:
    url: str
    headers: dict[str, str]
    probe_student_id: int
    runs: list[list[float]] = field(default_factory=list)  # per run, each probe's ms
    missed: int = 0  # probes the reader had not seen CATCH_UP_SECONDS after the last

    @contextlib.contextmanager
    def following(self) -> Iterator[None]:
        """Read and probe for as long as the block runs; the run's latencies go to `runs`."""
        written: dict[str, float] = {}
        seen: dict[str, float] = {}
        with self.seeing(seen):
            with self.probing(written):
                yield
            deadline = time.monotonic() + CATCH_UP_SECONDS
            while time.monotonic() < deadline and not written.keys() <= seen.keys():
                time.sleep(0.05)
        self.runs.append([(seen[n] - written[n]) * 1000 for n in written if n in seen])
        self.missed += len(written.keys() - seen.keys())

    @contextlib.contextmanager
    def probing(self, written: dict[str, float] | None = None) -> Iterator[None]:
        """Change the probe student every PROBE_SECONDS while the block runs, noting in
        `written` when each change had committed; alone, the same writes with no one
        following them (the side of a comparison without a consumer)."""
        stop = threading.Event()
        prober = threading.Thread(
            target=self._probe, args=({} if written is None else written, stop)
        )
        prober.start()
        try:
            yield
        finally:
            stop.set()
            prober.join()

    @contextlib.contextmanager
    def seeing(self, seen: dict[str, float]) -> Iterator[None]:
        """While the block runs, note in `seen` when each probe arrives: here, a reader
        long-polling the feed from its head."""
        stop_reading = threading.Event()
        reader = threading.Thread(target=self._read, args=(self.head(), seen, stop_reading))
        reader.start()
        try:
            yield
        finally:
            stop_reading.set()
            reader.join()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=WAIT_SECONDS + 30)

    def head(self) -> str:
        with self._client() as client:
            cursor = ""
            while True:
                page = client.get("/changes", params={"cursor": cursor, "limit": 1000}).json()
                if not page["items"]:
                    return str(page["next_cursor"])
                cursor = page["next_cursor"]

    def _read(self, cursor: str, seen: dict[str, float], stop: threading.Event) -> None:
        with self._client() as client:
            while not stop.is_set():
                params: dict[str, str | int] = {
                    "cursor": cursor,
                    "limit": 1000,
                    "wait": WAIT_SECONDS,
                }
                page = client.get("/changes", params=params).raise_for_status().json()
                arrived = time.time()
                note_probes(page["items"], seen, arrived)
                cursor = page["next_cursor"]

    def _probe(self, written: dict[str, float], stop: threading.Event) -> None:
        path = f"/students/{self.probe_student_id}"
        with self._client() as client:
            for number in range(1_000_000):
                if stop.wait(PROBE_SECONDS):
                    return
                name = f"Probe{number}"
                client.patch(path, json={"first_name": name}).raise_for_status()
                written[name] = time.time()


def note_probes(items: list[dict[str, Any]], seen: dict[str, float], arrived: float) -> None:
    """Note when each probe among the feed's `items` first arrived."""
    for change in items:
        if change["entity"] == "student" and change["data"]:
            seen.setdefault(change["data"]["first_name"], arrived)


def percentile(values: list[float], share: float) -> float:
    """The value `share` of the way up the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(follower: FeedFollower) -> tuple[list[float], list[float]]:
    """Each run's p50 and p99, in ms."""
    runs = [run for run in follower.runs if run]
    return [statistics.median(run) for run in runs], [percentile(run, 0.99) for run in runs]
