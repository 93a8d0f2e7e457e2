"""Webhook delivery across processes (API.md v1.3 "Many processes"): real `python -m service`
processes on one database, a receiver verifying with the Standard Webhooks library. A
process killed mid-delivery loses its lease and another sends that delivery again; a stale
holder's commit changes nothing; two services of two workers each, through PgBouncer in
transaction mode, deliver each change once, in order."""

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from service.migrations import apply_migrations
from service.webhooks.delivery import SQL
from tests.support.postgres import scratch_database
from tests.support.running_service import RunningService
from tests.support.webhook_receiver import HOST, Answer, Receiver, receiving
from tests.test_pgbouncer import running_bouncer

WEBHOOK_ENV = {
    "WEBHOOK_ALLOWED_HOSTS": HOST,
    "WEBHOOK_TIMEOUT": "5s",
    "WEBHOOK_LEASE": "6s",
    "WEBHOOK_RETRY_SCHEDULE": "1s",
}


@pytest.fixture
def database(server_url: str) -> Iterator[str]:
    with scratch_database(server_url, "webhook_processes") as url:
        apply_migrations(url)
        yield url


def wait_for(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.05)


def subscribe(service_url: str, receiver: Receiver) -> dict[str, Any]:
    response = httpx.post(f"{service_url}/webhooks", json={"url": receiver.url})
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()
    receiver.secrets.append(webhook["secret"])
    return webhook


def make_changes(service_url: str, count: int) -> None:
    for _ in range(count):
        email = f"s{uuid.uuid4().hex[:10]}@example.edu"
        body = {"first_name": "Grace", "last_name": "Hopper", "email": email}
        assert httpx.post(f"{service_url}/students", json=body).status_code == 201


def feed_after(service_url: str, cursor: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = httpx.get(f"{service_url}/changes", params={"cursor": cursor, "limit": 1000}).json()
        if not page["items"]:
            return items
        items += page["items"]
        cursor = page["next_cursor"]


def test_a_delivery_cut_off_by_sigkill_is_sent_again_by_another_process(
    database: str, tmp_path: Path
) -> None:
    with receiving() as receiver:
        receiver.answers.append(Answer(delay=3.0))  # held until the sender is gone
        first = RunningService(tmp_path, DATABASE_URL=database, **WEBHOOK_ENV)
        try:
            webhook = subscribe(first.url, receiver)
            make_changes(first.url, 3)
            wait_for(lambda: len(receiver.received) >= 1)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=10)
        finally:
            first.stop()
        cut_off = receiver.received[0]
        second = RunningService(tmp_path, DATABASE_URL=database, **WEBHOOK_ENV)
        try:
            make_changes(second.url, 2)
            expected = feed_after(second.url, webhook["cursor"])
            wait_for(lambda: receiver.items() == expected)
        finally:
            assert second.stop() == 0
        again = receiver.received[1]
        assert (again.id, again.body) == (cut_off.id, cut_off.body)
        assert again.verified_by


def test_a_stale_lease_holders_commit_changes_nothing(database: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(database)
        try:
            await conn.execute(
                "INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'a@b.c')"
            )
            await conn.execute("SELECT sequence_changes(100)")
            webhook_id = await conn.fetchval(
                "INSERT INTO webhooks (url, entities, secret, cursor_position)"
                " VALUES ('http://127.0.0.2/', '{student}', 'whsec_x', 0) RETURNING id"
            )
            claim = {"room": 10}
            (stale,) = await SQL["claim-webhooks"].fetch(conn, **claim, lease=0.05)
            await asyncio.sleep(0.1)  # its lease runs out: another process takes it over
            (fresh,) = await SQL["claim-webhooks"].fetch(conn, **claim, lease=30)
            assert stale["lease_owner"] != fresh["lease_owner"]

            async def take(owner: uuid.UUID, acknowledged: str | None) -> list[asyncpg.Record]:
                return await SQL["take-delivery"].fetch(
                    conn,
                    webhook_id=webhook_id,
                    owner=owner,
                    acknowledged=acknowledged,
                    at=datetime.now(UTC),
                    first_position=1,
                    last_position=1,
                    status_code=200,
                    duration_ms=1,
                    take_next=True,
                    entities=["student"],
                    limit=100,
                    lease=30,
                    new_id=f"msg_{owner}",
                )

            assert await take(stale["lease_owner"], None) == []
            (taken,) = await take(fresh["lease_owner"], None)
            assert taken["delivery_id"] == f"msg_{fresh['lease_owner']}"
            # The stale holder acknowledging the fresh one's delivery changes nothing.
            assert await take(stale["lease_owner"], taken["delivery_id"]) == []
            row = await conn.fetchrow(
                "SELECT cursor_position, delivery_id FROM webhooks WHERE id = $1", webhook_id
            )
            assert row is not None
            assert (row["cursor_position"], row["delivery_id"]) == (0, taken["delivery_id"])
            assert await conn.fetchval("SELECT count(*) FROM webhook_attempts") == 0
            # The holder's acknowledgement moves the cursor and is recorded.
            (after,) = await take(fresh["lease_owner"], taken["delivery_id"])
            assert after["delivery_id"] is None
            assert await conn.fetchval("SELECT cursor_position FROM webhooks") == 1
            assert await conn.fetchval("SELECT count(*) FROM webhook_attempts") == 1
        finally:
            await conn.close()

    asyncio.run(run())


def test_two_services_of_two_workers_through_pgbouncer_deliver_each_change_once_in_order(
    database: str, tmp_path: Path
) -> None:
    with running_bouncer(database) as bounced, receiving() as receiver:
        settings = {
            "DATABASE_URL": bounced,
            "DB_STATEMENT_CACHE_SIZE": "0",
            "MIGRATE_ON_START": "false",
            "WORKERS": "2",
            **WEBHOOK_ENV,
        }
        services = [RunningService(tmp_path, **settings) for _ in range(2)]
        try:
            webhook = subscribe(services[0].url, receiver)
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda n: make_changes(services[n % 2].url, 15), range(4)))
            expected = feed_after(services[1].url, webhook["cursor"])
            assert len(expected) == 60
            wait_for(lambda: len(receiver.items()) >= len(expected))
            time.sleep(1.0)  # time for a stray duplicate to arrive
        finally:
            exits = [service.stop() for service in services]
        assert receiver.items() == expected
        assert len(receiver.received) == len(receiver.verified())  # not one sent twice
        assert exits == [0, 0]
