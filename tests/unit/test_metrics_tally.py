"""RequestTally and LocalCounter add to the metrics, in bulk, exactly what one update per
request would."""

import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from service.plumbing.metrics import LocalCounter, RequestTally

BUCKETS = (0.001, 0.01, 0.1, 1)


def metrics(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    counter = Counter("answered", "", ["method", "route", "status"], registry=registry)
    histogram = Histogram("latency", "", ["route"], buckets=BUCKETS, registry=registry)
    return counter, histogram


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): round(sample.value, 9)
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_flush_equals_one_observation_per_request() -> None:
    tallied, observed = CollectorRegistry(), CollectorRegistry()
    tally = RequestTally(*metrics(tallied))
    counter, histogram = metrics(observed)
    rng = random.Random(7)
    # Bucket bounds themselves (a value equal to a bound belongs to that bucket), values
    # between them, and one past the last.
    values = [*BUCKETS, 0.0005, 0.05, 0.5, 3.0] + [rng.uniform(0, 2) for _ in range(200)]
    for number, seconds in enumerate(values):
        method, route, status = rng.choice(["GET", "PUT"]), f"/r{number % 3}", 200 + number % 2
        tally.add(method, route, status, seconds)
        if number == 100:
            tally.flush()  # two flushes add up like one
        counter.labels(method, route, str(status)).inc()
        histogram.labels(route).observe(seconds)
    tally.flush()
    tally.flush()  # nothing new: adds nothing
    assert samples(tallied) == samples(observed)
    assert samples(observed)[("latency_count", (("route", "/r0"),))] > 0


def test_a_local_counter_adds_its_counts_to_the_counter_on_flush() -> None:
    registry = CollectorRegistry()
    rejected = LocalCounter(Counter("rejected", "", ["reason"], registry=registry))
    created = LocalCounter(Counter("created", "", registry=registry))
    rejected.inc("full")
    rejected.inc("full")
    rejected.inc("unknown_course")
    created.inc(amount=3)
    assert samples(registry) == {("created_total", ()): 0}  # nothing until flushed
    for _ in range(2):  # the second flush has nothing new to add
        rejected.flush()
        created.flush()
    assert samples(registry) == {
        ("created_total", ()): 3,
        ("rejected_total", (("reason", "full"),)): 2,
        ("rejected_total", (("reason", "unknown_course"),)): 1,
    }
