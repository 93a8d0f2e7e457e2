"""Webhooks (API.md v1.3): subscriptions over HTTP, deliveries to a real receiver on
127.0.0.2 that verifies each with the Standard Webhooks reference library.

A database of their own, so the session's other app (and its delivery worker) never sees
these subscriptions; short retry steps, so a retry comes within a second."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.config import Settings, WebhookSettings
from service.migrations import apply_migrations
from service.webhooks.delivery import CHORE_SECONDS
from service.webhooks.destinations import AllowedHosts
from tests.api.conftest import LogLines, events
from tests.conftest import assert_problem, make_course, make_student, pointers
from tests.support.openapi_check import assert_conforms
from tests.support.postgres import scratch_database
from tests.support.webhook_receiver import Answer, Receiver, eventually, receiving

SETTINGS = WebhookSettings(
    allowed_hosts=AllowedHosts.parse("127.0.0.2,localhost"),
    timeout=1.0,
    retry_schedule=(0.2, 0.4, 0.6),
    batch_max=100,
    lease=3.0,
)


@pytest.fixture(scope="module")
def hooks_database(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "webhooks_test") as url:
        apply_migrations(url)
        yield url


@pytest.fixture(scope="module")
async def hooks(hooks_database: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=hooks_database, webhooks=SETTINGS))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            event_hooks={"response": [assert_conforms]},
        ) as client:
            yield client


@pytest.fixture(autouse=True)
async def no_subscription_left(hooks: httpx.AsyncClient) -> AsyncIterator[None]:
    """Each test's subscriptions go with it: none keeps failing at a receiver long gone."""
    yield
    page = (await hooks.get("/webhooks", params={"limit": 200})).json()
    for webhook in page["items"]:
        await hooks.delete(f"/webhooks/{webhook['id']}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


async def subscribe(client: httpx.AsyncClient, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    response = await client.post("/webhooks", json={"url": receiver.url, **fields})
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    receiver.secrets.append(webhook["secret"])
    return webhook


async def shown_once(
    client: httpx.AsyncClient,
    webhook: dict[str, Any],
    check: Callable[[dict[str, Any]], bool],
    seconds: float = 10.0,
) -> dict[str, Any]:
    """The subscription as GET shows it, once `check` holds for it; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        shown: dict[str, Any] = (await client.get(f"/webhooks/{webhook['id']}")).json()
        if check(shown):
            return shown
        assert time.monotonic() < deadline, f"never came true: {shown}"
        await asyncio.sleep(0.05)


def acknowledged(shown: dict[str, Any]) -> bool:
    return shown["lag"] == 0 and (shown["last_attempt"] or {}).get("status_code") == 200


async def feed_after(client: httpx.AsyncClient, cursor: str) -> list[dict[str, Any]]:
    """Every change after `cursor`, as GET /changes shows it."""
    items: list[dict[str, Any]] = []
    while True:
        page = (await client.get("/changes", params={"cursor": cursor, "limit": 1000})).json()
        if not page["items"]:
            return items
        items += page["items"]
        cursor = page["next_cursor"]


async def some_changes(client: httpx.AsyncClient) -> None:
    """A student, a course and an enrollment: changes of all three entities."""
    student = await make_student(client)
    course = await make_course(client, capacity=5)
    response = await client.put(f"/students/{student['id']}/courses/{course['id']}")
    assert response.status_code == 201, response.text


async def test_every_change_is_delivered_once_in_feed_order_as_changes_shows_it(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(hooks, receiver)
    assert webhook["status"] == "active"
    assert webhook["lag"] == 0
    assert webhook["entities"] == ["student", "course", "enrollment"]
    for _ in range(3):
        await some_changes(hooks)
    expected = await feed_after(hooks, webhook["cursor"])
    await eventually(lambda: len(receiver.items()) >= len(expected))
    await asyncio.sleep(0.3)  # time for a stray duplicate to arrive
    assert receiver.items() == expected
    deliveries = receiver.verified()
    assert len({d.id for d in deliveries}) == len(deliveries) == len(receiver.received)
    for delivery in deliveries:
        payload = delivery.payload
        assert payload["type"] == "changes"
        assert payload["timestamp"] == delivery.items[-1]["at"]
        assert payload["data"]["next_cursor"] == delivery.items[-1]["cursor"]
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.headers["user-agent"].startswith("enrollment-service")
    shown = (await hooks.get(f"/webhooks/{webhook['id']}")).json()
    assert shown["lag"] == 0
    assert shown["last_attempt"]["status_code"] == 200
    assert shown["last_attempt"]["last_cursor"] == expected[-1]["cursor"]


async def test_a_receiver_down_then_up_loses_nothing_and_gets_the_same_delivery_again(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers.extend(
        [Answer(503, {"Retry-After": "0"}), Answer(500), Answer(delay=1.5), Answer(429)]
    )
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    shown = await shown_once(hooks, webhook, acknowledged)
    assert receiver.items() == await feed_after(hooks, webhook["cursor"])
    tries = receiver.received
    assert [t.answered for t in tries[:5]] == [503, 500, 200, 429, 200]
    first = tries[0]
    # The timed-out try's 200 came too late: it too is retried, with the same id and body.
    assert all(t.id == first.id and t.body == first.body for t in tries[:5])
    assert all(t.verified_by for t in tries)
    attempts = (await hooks.get(f"/webhooks/{webhook['id']}/attempts")).json()["items"]
    assert [(a["status_code"], a["error"]) for a in attempts[::-1][:5]] == [
        (503, None),
        (500, None),
        (None, "timeout"),
        (429, None),
        (200, None),
    ]
    assert shown["status"] == "active"
    assert shown["failing_since"] is None
    assert shown["next_attempt_at"] is None


async def test_a_refused_connection_is_retried_until_the_receiver_listens(
    hooks: httpx.AsyncClient,
) -> None:
    with receiving() as placeholder:
        port = int(placeholder.url.split(":")[2].split("/")[0])
        url = placeholder.url
    response = await hooks.post("/webhooks", json={"url": url})
    webhook = response.json()
    await some_changes(hooks)

    async def refused_once() -> bool:
        attempts = (await hooks.get(f"/webhooks/{webhook['id']}/attempts")).json()["items"]
        return any(a["error"] == "refused" for a in attempts)

    for _ in range(100):
        if await refused_once():
            break
        await asyncio.sleep(0.05)
    assert await refused_once()
    with receiving(port) as receiver:
        receiver.secrets.append(webhook["secret"])
        expected = await feed_after(hooks, webhook["cursor"])
        await eventually(lambda: len(receiver.items()) >= len(expected))
        assert receiver.items() == expected


async def test_a_retry_after_longer_than_the_step_is_honoured(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers.append(Answer(503, {"Retry-After": "1"}))
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    await eventually(lambda: len(receiver.received) >= 1)
    shown = (await hooks.get(f"/webhooks/{webhook['id']}")).json()
    waited = _seconds_between(shown["last_attempt"]["at"], shown["next_attempt_at"])
    # The first step is 0.2 s (up to 20 % more); Retry-After asks for 1 s, capped at the
    # next step, 0.4 s.
    assert 0.35 <= waited <= 0.6, waited
    await eventually(lambda: len(receiver.verified()) >= 1)


def _seconds_between(earlier: str, later: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


async def test_an_exhausted_schedule_leaves_the_subscription_failing_until_patched_active(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers.extend([Answer(500)] * 4)
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    shown = await shown_once(hooks, webhook, lambda shown: shown["status"] == "failing")
    assert shown["failing_since"] is not None
    assert shown["failing_since"] <= shown["last_attempt"]["at"]
    # Tried once every last step (0.6 s): PATCH active tries at once.
    response = await hooks.patch(f"/webhooks/{webhook['id']}", json={"status": "active"})
    assert response.json()["status"] == "active"
    shown = await shown_once(hooks, webhook, acknowledged, seconds=0.4)
    assert shown["failing_since"] is None
    assert receiver.items() == await feed_after(hooks, webhook["cursor"])


async def test_410_disables_the_subscription(hooks: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.answers.append(Answer(410))
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    await shown_once(hooks, webhook, lambda shown: shown["status"] == "disabled")
    await some_changes(hooks)
    await asyncio.sleep(1.5)  # a round and a retry step, at least
    assert len(receiver.received) == 1


async def test_a_redirect_is_not_followed(hooks: httpx.AsyncClient, receiver: Receiver) -> None:
    with receiving() as elsewhere:
        receiver.answers.append(Answer(307, {"Location": elsewhere.url}))
        webhook = await subscribe(hooks, receiver)
        await some_changes(hooks)
        await eventually(lambda: len(receiver.verified()) >= 1)
        assert elsewhere.received == []
    attempts = (await hooks.get(f"/webhooks/{webhook['id']}/attempts")).json()["items"]
    assert (attempts[-1]["status_code"], attempts[-1]["error"]) == (307, "redirect")


async def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(hooks, receiver)
    old_secret = webhook["secret"]
    response = await hooks.post(f"/webhooks/{webhook['id']}/rotate-secret")
    assert response.status_code == 200, response.text
    new_secret = response.json()["secret"]
    assert new_secret != old_secret
    assert new_secret.startswith("whsec_")
    receiver.secrets.append(new_secret)
    await some_changes(hooks)
    await eventually(lambda: len(receiver.verified()) >= 1)
    delivery = receiver.verified()[0]
    assert set(delivery.verified_by) == {old_secret, new_secret}  # an old receiver verifies
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2


async def test_patching_the_cursor_back_replays_under_new_delivery_ids(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    expected = await feed_after(hooks, webhook["cursor"])
    await eventually(lambda: len(receiver.items()) >= len(expected))
    first_ids = {d.id for d in receiver.verified()}
    response = await hooks.patch(f"/webhooks/{webhook['id']}", json={"cursor": webhook["cursor"]})
    assert response.status_code == 200, response.text
    assert response.json()["lag"] == len(expected)
    await eventually(lambda: len(receiver.items()) >= 2 * len(expected))
    assert receiver.items() == expected + expected
    assert first_ids.isdisjoint(d.id for d in receiver.verified()[len(first_ids) :])


async def test_entities_filter_what_is_delivered(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(hooks, receiver, entities=["course"])
    await some_changes(hooks)
    expected = [c for c in await feed_after(hooks, webhook["cursor"]) if c["entity"] == "course"]
    assert expected
    await eventually(lambda: len(receiver.items()) >= len(expected))
    assert receiver.items() == expected


async def test_a_subscription_whose_cursor_leaves_retention_expires_until_given_a_fresh_one(
    hooks: httpx.AsyncClient, hooks_database: str
) -> None:
    with receiving() as receiver:
        receiver.answers.extend([Answer(500)] * 3)
        webhook = await subscribe(hooks, receiver)
        await some_changes(hooks)
        await eventually(lambda: len(receiver.received) >= 1)
        conn = await asyncpg.connect(hooks_database)
        try:  # retention deleting what follows the cursor, as its run would
            await conn.execute("UPDATE change_feed_state SET expired_through = last_position")
        finally:
            await conn.close()
        await shown_once(hooks, webhook, lambda shown: shown["status"] == "expired")
        stale = await hooks.patch(f"/webhooks/{webhook['id']}", json={"status": "active"})
        problem = assert_problem(stale, 410, "cursor-expired")
        fresh = await hooks.patch(
            f"/webhooks/{webhook['id']}", json={"cursor": problem["oldest_cursor"]}
        )
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["status"] == "active"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://10.0.0.7/hook", "WEBHOOK_ALLOWED_HOSTS"),
        ("https://hooks.example.com/hook", "WEBHOOK_ALLOWED_HOSTS"),
        ("http://127.0.0.1/hook", "WEBHOOK_ALLOWED_HOSTS"),
        ("http://user:pass@127.0.0.2/hook", "credentials"),
        ("ftp://127.0.0.2/hook", "http or https"),
        ("http://127.0.0.2/hook#part", "fragment"),
        ("http://127.0.0.2/" + "a" * 2000, "2000"),
        ("not a url", "http or https"),
    ],
)
async def test_a_url_deliveries_may_not_go_to_is_refused(
    hooks: httpx.AsyncClient, url: str, why: str
) -> None:
    response = await hooks.post("/webhooks", json={"url": url})
    problem = assert_problem(response, 422, "validation-error")
    assert pointers(problem) == ["/url"]
    assert why in problem["detail"]


async def test_a_name_resolving_outside_the_list_is_not_followed(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    # "localhost" is listed by name, but resolves to 127.0.0.1 (or ::1), which no entry holds.
    webhook = await subscribe(hooks, receiver)
    local = receiver.url.replace("127.0.0.2", "localhost")
    response = await hooks.patch(f"/webhooks/{webhook['id']}", json={"url": local})
    assert response.status_code == 200
    await some_changes(hooks)
    for _ in range(60):
        attempts = (await hooks.get(f"/webhooks/{webhook['id']}/attempts")).json()["items"]
        if attempts:
            break
        await asyncio.sleep(0.05)
    assert attempts[0]["error"] == "not-allowed"
    assert receiver.received == []


async def test_without_allowed_hosts_a_subscription_is_refused_naming_the_setting(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/webhooks", json={"url": "http://127.0.0.1/hook"})
    problem = assert_problem(response, 422, "validation-error")
    assert "WEBHOOK_ALLOWED_HOSTS" in problem["detail"]


async def test_the_secret_is_in_no_answer_but_creation_and_rotation_and_in_no_log_line(
    hooks: httpx.AsyncClient, receiver: Receiver, log_lines: LogLines
) -> None:
    receiver.answers.append(Answer(500))
    webhook = await subscribe(hooks, receiver, description="billing")
    rotated = (await hooks.post(f"/webhooks/{webhook['id']}/rotate-secret")).json()
    await some_changes(hooks)
    await eventually(lambda: len(receiver.verified()) >= 1)
    answers = [
        await hooks.get(f"/webhooks/{webhook['id']}"),
        await hooks.get("/webhooks", params={"limit": 200}),
        await hooks.patch(f"/webhooks/{webhook['id']}", json={"description": "billing 2"}),
        await hooks.get(f"/webhooks/{webhook['id']}/attempts"),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert "secret" not in answer.text
        assert webhook["secret"] not in answer.text
        assert rotated["secret"] not in answer.text
    lines = log_lines()
    assert events(lines, "webhook.attempt_failed")  # the failed attempt was logged
    for line in lines:
        assert webhook["secret"] not in str(line)
        assert rotated["secret"] not in str(line)


async def test_a_deleted_subscription_gets_nothing_more(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    webhook = await subscribe(hooks, receiver)
    assert (await hooks.delete(f"/webhooks/{webhook['id']}")).status_code == 204
    await some_changes(hooks)
    await asyncio.sleep(1.5)
    assert receiver.received == []
    assert_problem(await hooks.get(f"/webhooks/{webhook['id']}"), 404, "not-found")
    assert_problem(await hooks.get(f"/webhooks/{webhook['id']}/attempts"), 404, "not-found")


async def test_a_subscription_made_with_a_cursor_back_fills_from_it(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    # The feed's head now: where a subscription made without a cursor starts.
    first = (await hooks.post("/webhooks", json={"url": receiver.url})).json()
    cursor = first["cursor"]
    await hooks.delete(f"/webhooks/{first['id']}")
    await some_changes(hooks)
    webhook = await subscribe(hooks, receiver, cursor=cursor)
    assert webhook["cursor"] == cursor
    assert webhook["lag"] > 0
    expected = await feed_after(hooks, cursor)
    await eventually(lambda: len(receiver.items()) >= len(expected))
    assert receiver.items() == expected
    bad = await hooks.post("/webhooks", json={"url": receiver.url, "cursor": "nonsense"})
    assert pointers(assert_problem(bad, 422, "validation-error")) == ["/cursor"]


async def test_bodies_are_checked(hooks: httpx.AsyncClient) -> None:
    cases = [
        ({"url": "http://127.0.0.2/h", "entities": []}, "/entities"),
        ({"url": "http://127.0.0.2/h", "entities": ["teacher"]}, "/entities/0"),
        ({"url": "http://127.0.0.2/h", "entities": ["course", "course"]}, "/entities"),
        ({"url": "http://127.0.0.2/h", "description": "d" * 201}, "/description"),
        ({"url": "http://127.0.0.2/h", "secret": "whsec_mine"}, "/secret"),
    ]
    for body, pointer in cases:
        response = await hooks.post("/webhooks", json=body)
        assert pointers(assert_problem(response, 422, "validation-error")) == [pointer]
    webhook = (await hooks.post("/webhooks", json={"url": "http://127.0.0.2/h"})).json()
    response = await hooks.patch(f"/webhooks/{webhook['id']}", json={"status": "failing"})
    assert pointers(assert_problem(response, 422, "validation-error")) == ["/status"]
    await hooks.delete(f"/webhooks/{webhook['id']}")


async def test_metrics_count_deliveries_their_time_and_each_subscriptions_lag(
    hooks: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.answers.append(Answer(500))
    webhook = await subscribe(hooks, receiver)
    await some_changes(hooks)
    await shown_once(hooks, webhook, acknowledged)
    await asyncio.sleep(CHORE_SECONDS + 0.5)  # the lag gauge's next refresh
    text = (await hooks.get("/metrics")).text
    assert 'webhook_deliveries_total{outcome="delivered"}' in text
    assert 'webhook_deliveries_total{outcome="failed"}' in text
    assert "webhook_delivery_seconds_count" in text
    assert f'webhook_lag{{subscription="{webhook["id"]}"}} 0.0' in text
