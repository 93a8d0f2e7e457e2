"""X-Request-ID: echoed when valid, replaced when not, present on every response."""

import httpx
import pytest

from service.repositories import courses


async def test_a_valid_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123_XYZ"})
    assert response.headers["x-request-id"] == "abc-123_XYZ"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "tab\there", ""])
async def test_an_invalid_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": sent})
    generated = response.headers["x-request-id"]
    assert generated != sent
    assert 1 <= len(generated) <= 128


async def test_errors_carry_a_generated_id_too(client: httpx.AsyncClient) -> None:
    first = await client.get("/nowhere")
    second = await client.get("/students/0")
    assert first.status_code == second.status_code == 404
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_crash_is_a_500_problem_with_the_id_and_no_insides(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM pg_authid")

    # Injects a bug in the code, not a fake database: the point is what a bug looks like.
    monkeypatch.setattr(courses, "get_course", broken)
    response = await client.get("/courses/1", headers={"X-Request-ID": "crash-1"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "crash-1"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
