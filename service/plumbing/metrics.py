"""Prometheus metrics. With several workers, `python -m service` points
PROMETHEUS_MULTIPROC_DIR at a fresh directory and every worker writes there, so a scrape
of any worker sees the sum over all (prometheus-client's multiprocess mode)."""

import os
from bisect import bisect_left
from collections import Counter as Tally

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.changes_watcher import ChangesWatcher
from service.database import Database

REQUESTS = Counter("http_requests_total", "Requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class LocalCounter:
    """A counter's increments kept as plain Python counts where requests make them, and added
    to the Prometheus counter in bulk by flush(): an inc() of the counter itself takes a lock
    and, with several workers, writes to a shared file (a refused enrollment's cost a request
    of a registration rush 3% more instructions)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        # By label values. Where a call of inc() matters, add here directly.
        self.counts: Tally[tuple[object, ...]] = Tally()

    def inc(self, *labels: object, amount: int = 1) -> None:
        self.counts[labels] += amount

    def flush(self) -> None:
        counts, self.counts = self.counts, Tally()
        for labels, count in counts.items():  # labels() makes each value a str
            (self._counter.labels(*labels) if labels else self._counter).inc(count)


class RequestTally:
    """Requests answered and their latencies, counted in plain Python where every request
    ends and added to REQUESTS and LATENCY in bulk by flush() (each scrape, each
    housekeeping round, shutdown). Done per request, the two metric updates took a lock, a
    getpid() and, with several workers, a write to a shared file each, three in all:
    nearly 5% of a simple GET's instructions. The price: another worker's latest second of
    requests shows in the next scrape rather than this one."""

    def __init__(self, requests: Counter, latency: Histogram) -> None:
        self._answered, self._latency_metric = LocalCounter(requests), latency
        self._bounds = latency._upper_bounds  # ends with +Inf, so every value finds a bucket
        # Per route: how many latencies fell in each bucket, then their sum.
        self._latencies: dict[str, list[float]] = {}

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        self._answered.counts[method, route, status] += 1  # inc() cost 700 instructions more
        counts = self._latencies.get(route)
        if counts is None:
            counts = self._latencies[route] = [0.0] * (len(self._bounds) + 1)
        counts[bisect_left(self._bounds, seconds)] += 1  # the first bucket with value <= bound
        counts[-1] += seconds

    def flush(self) -> None:
        self._answered.flush()
        latencies, self._latencies = self._latencies, {}
        for route, counts in latencies.items():
            histogram = self._latency_metric.labels(route)
            # observe() adds one value at a time; these are its own bucket and sum values.
            for bucket, seen in zip(histogram._buckets, counts[:-1], strict=True):
                if seen:
                    bucket.inc(seen)
            histogram._sum.inc(counts[-1])


requests_answered = RequestTally(REQUESTS, LATENCY)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being served", multiprocess_mode="livesum")


class LocalGauge:
    """A gauge's value kept as a plain int where it changes on every request, and copied into
    the Prometheus gauge only when gauges are refreshed (each scrape, each housekeeping
    round): an update of the gauge itself takes a lock and, with several workers, writes to a
    shared file, which cost two percent of a simple GET's instructions, twice per request."""

    def __init__(self) -> None:
        self.value = 0


requests_in_flight = LocalGauge()
POOL = Gauge(
    "db_pool_connections",
    "Database connections in the pool, by state",
    ["state"],
    multiprocess_mode="livesum",
)
enrollments_created = LocalCounter(Counter("enrollments_created_total", "Seats taken"))
enrollments_rejected = LocalCounter(
    Counter("enrollments_rejected_total", "Enrollment attempts refused", ["reason"])
)

FEED_POSITION = Gauge(
    "change_feed_last_position",
    "The last change feed position handed out: changes written to the feed, ever",
    multiprocess_mode="max",
)
FEED_WAITING = Gauge(
    "change_feed_readers_waiting",
    "Requests long-polling the change feed",
    multiprocess_mode="livesum",
)

# With read replicas (service/replicas.py): where GETs were served, and each replica's state.
db_reads = LocalCounter(
    Counter("db_reads_total", "GET requests served, by database (primary or a replica)", ["target"])
)
REPLICA_LAG = Gauge(
    "replica_lag_seconds",
    "How far behind the primary each replica is, at most, as of its last check",
    ["replica"],
    multiprocess_mode="max",
)
REPLICA_USABLE = Gauge(
    "replica_usable",
    "1 while a replica answers its checks within REPLICA_MAX_LAG, else 0",
    ["replica"],
    multiprocess_mode="min",
)


# Webhook deliveries (service/webhooks/delivery.py): attempts by outcome (delivered, failed,
# disabled), how long each took, and how many matching changes each live subscription has yet
# to acknowledge (refreshed every few seconds by each process's worker).
webhook_deliveries = LocalCounter(
    Counter("webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"])
)
WEBHOOK_SECONDS = Histogram(
    "webhook_delivery_seconds",
    "Time a webhook delivery attempt took, from resolving the host to the answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_LAG = Gauge(
    "webhook_lag",
    "Matching changes committed after a subscription's cursor",
    ["subscription"],
    multiprocess_mode="livemax",
)


def flush_counts() -> None:
    """Add the counts kept in plain Python to their metrics."""
    requests_answered.flush()
    enrollments_created.flush()
    enrollments_rejected.flush()
    db_reads.flush()
    webhook_deliveries.flush()


def refresh(db: Database, watcher: ChangesWatcher) -> None:
    """Bring this process's share of the metrics up to date: its counts, requests in flight,
    pool connections and the feed's. Each scrape and each housekeeping round."""
    flush_counts()
    FEED_POSITION.set(watcher.last_position)
    FEED_WAITING.set(watcher.waiting)
    IN_FLIGHT.set(requests_in_flight.value)
    size, idle = db.pool.get_size(), db.pool.get_idle_size()
    POOL.labels("size").set(size)
    POOL.labels("idle").set(idle)
    POOL.labels("in_use").set(size - idle)


def exposition() -> tuple[bytes, str]:
    """The metrics text, summed over every worker in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def forget_this_process() -> None:
    """On shutdown in multiprocess mode: drop this worker's live gauges from the sums."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
