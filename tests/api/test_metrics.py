"""/metrics: Prometheus text with requests, latency, in-flight, pool and enrollments."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_course, make_student


async def samples(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_metrics_count_requests_by_route_template_and_enrollments(
    client: httpx.AsyncClient,
) -> None:
    route = ("route", "/students/{student_id}")
    key = ("http_requests_total", frozenset({("method", "GET"), route, ("status", "404")}))
    before = await samples(client)
    student, course = await make_student(client), await make_course(client, capacity=1)
    await client.get("/students/999999999")
    await client.put(f"/students/{student['id']}/courses/{course['id']}")
    other = await make_student(client)
    await client.put(f"/students/{other['id']}/courses/{course['id']}")
    after = await samples(client)

    assert after[key] == before.get(key, 0) + 1
    created: tuple[str, frozenset[tuple[str, str]]] = ("enrollments_created_total", frozenset())
    assert after[created] == before.get(created, 0) + 1
    full = ("enrollments_rejected_total", frozenset({("reason", "full")}))
    assert after[full] == before.get(full, 0) + 1
    assert after[("http_request_duration_seconds_count", frozenset({route}))] >= 1
    assert after[("db_pool_connections", frozenset({("state", "size")}))] >= 1
    # The scrape itself is being served while the gauges are read.
    assert after[("http_requests_in_flight", frozenset())] >= 1
