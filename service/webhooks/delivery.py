"""The delivery worker: one per process, started and stopped by the lifespan (service/app.py).

Each round it claims the subscriptions that have changes to deliver and no backoff, lease or
pause holding them (`claim-webhooks`: a lease per subscription, a fresh owner token each,
FOR UPDATE SKIP LOCKED, so processes never deliver one subscription at once), and gives each
a task of its own: a slow or dead receiver holds up only its own subscription. A task sends
its deliveries one at a time, in feed order, each only after the one before succeeded; it
writes only under its lease (the statements check the owner token, so a holder whose lease
was taken over commits nothing), never holds a transaction across an HTTP call, and gives
the lease back when caught up or when an attempt fails (a subscription in backoff holds no
worker). Everything lives in Postgres rows: safe behind PgBouncer in transaction mode.

Rounds follow the change feed's watcher (what `GET /changes?wait=` uses) while a subscription
waits for a process, and run at least every IDLE_SECONDS for retries coming due and leases
running out; a task's end wakes them at once.
"""

import asyncio
import logging
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson

from service.changes_watcher import ChangesWatcher
from service.config import WebhookSettings
from service.database import Database
from service.plumbing import metrics
from service.queries import load_queries
from service.repositories import changes
from service.webhooks import signing
from service.webhooks.destinations import NotAllowed, Resolve, address_to_connect, getaddrinfo
from service.webhooks.schedule import next_retry

SQL = load_queries("webhooks")
logger = logging.getLogger(__name__)
IDLE_SECONDS = 1.0
MOST_AT_ONCE = 50  # subscriptions one process delivers to at a time
# After a delivery short of full, the wait before the next: a trickle of changes (a probe
# every 20 ms in --webhooks) then goes out ten to a delivery instead of one, for 100 ms more
# lag at most.
LINGER_SECONDS = 0.1
CHORE_SECONDS = 5.0  # the lag gauges; attempts past 7 days go every 60th
LONGEST_ANSWER_BYTES = 64 * 1024  # read of a receiver's answer, then the rest is dropped
USER_AGENT = "enrollment-service-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """One attempt: the receiver's status, or what stopped it (`error`)."""

    status_code: int | None
    error: str | None
    seconds: float
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Delivery:
    """A claimed subscription, as the worker tracks it under its lease; the rest of its
    state (cursor, the delivery in hand) is in its row, written only under the lease."""

    webhook_id: int
    owner: UUID
    entities: list[str]
    failures: int  # failed attempts in a row of the delivery in hand


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        watcher: ChangesWatcher,
        settings: WebhookSettings,
        resolve: Resolve = getaddrinfo,
    ) -> None:
        self._db = db
        self._watcher = watcher
        self._settings = settings
        self._resolve = resolve
        # Redirects are not followed (a 3xx is a failure); the timeout is the attempt's own,
        # around resolution, connection, request and answer together; no proxy from the
        # environment may carry a delivery elsewhere.
        self._client = httpx.AsyncClient(follow_redirects=False, timeout=None, trust_env=False)  # noqa: S113
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._owners: dict[int, UUID] = {}
        self._run: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._lagging: set[str] = set()  # subscriptions the lag gauge shows

    def start(self) -> None:
        self._run = asyncio.create_task(self._rounds())

    @property
    def _stopping(self) -> bool:
        return self._watcher.stopping

    async def _rounds(self) -> None:
        chores_due = 0.0
        chore_rounds = 0
        while not self._stopping:
            waiting = 0
            try:
                waiting = await self._claim()
                if time.monotonic() >= chores_due:
                    await self._chores(expire_attempts=chore_rounds % 60 == 0)
                    chores_due, chore_rounds = time.monotonic() + CHORE_SECONDS, chore_rounds + 1
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                logger.warning("webhook.claim_failed", exc_info=True)
            await self._until_next_round(following_the_feed=waiting > 0)

    async def _until_next_round(self, *, following_the_feed: bool) -> None:
        """Wait for the feed to move (when a subscription is live), a wake(), or IDLE_SECONDS."""
        waits = {
            asyncio.ensure_future(self._woken.wait()),
            asyncio.ensure_future(
                self._watcher.wait_past(self._watcher.last_position, IDLE_SECONDS)
                if following_the_feed
                else asyncio.sleep(IDLE_SECONDS)
            ),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
        self._woken.clear()

    def wake(self) -> None:
        """Claim now: a subscription was made, changed or told to retry in this process."""
        self._woken.set()

    async def _claim(self) -> int:
        """Claim what is due, give each its task; returns how many subscriptions were waiting
        for a process (none: every live one is held or in backoff, and the next round can
        wait for a wake, a task's end or IDLE_SECONDS instead of following the feed)."""
        room = MOST_AT_ONCE - len(self._tasks)
        async with self._db.connection() as conn:
            rows = await SQL["claim-webhooks"].fetch(conn, room=room, lease=self._settings.lease)
        for webhook_id in rows[0]["expired"] or ():
            logger.warning("webhook.expired", extra={"webhook_id": webhook_id})
        for row in rows:
            if row["id"] is None:
                continue
            delivery = Delivery(row["id"], row["lease_owner"], row["entities"], row["failures"])
            self._owners[delivery.webhook_id] = delivery.owner
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks[delivery.webhook_id] = task
            task.add_done_callback(partial(self._forget, delivery.webhook_id))
        waiting: int = rows[0]["waiting"]
        return waiting

    def _forget(self, webhook_id: int, _: object) -> None:
        self._tasks.pop(webhook_id, None)
        self._owners.pop(webhook_id, None)
        self.wake()  # its lease is back: claim again at once, should more have come

    async def _chores(self, *, expire_attempts: bool) -> None:
        async with self._db.connection() as conn:
            lags = await SQL["select-webhook-lags"].fetch(conn)
            if expire_attempts:
                await SQL["expire-webhook-attempts"].execute(conn)
        live = {str(row["id"]): row["lag"] for row in lags}
        # prometheus-client cannot remove a label in multiprocess mode: a subscription no
        # longer live shows 0.
        for gone in self._lagging - live.keys():
            metrics.WEBHOOK_LAG.labels(gone).set(0)
        for subscription, lag in live.items():
            metrics.WEBHOOK_LAG.labels(subscription).set(lag)
        self._lagging = set(live)

    async def _deliver(self, delivery: Delivery) -> None:
        """Send the subscription's deliveries, one at a time, until it is caught up, an
        attempt fails, the lease is lost or the service stops; then give the lease back."""
        acknowledged: dict[str, Any] | None = None  # the attempt that just succeeded
        try:
            while True:
                # Stopping, the success just had is still acknowledged; nothing more is taken.
                taken = await self._take(delivery, acknowledged, take_next=not self._stopping)
                acknowledged = None
                if taken is None:
                    return
                target, found = taken
                at = datetime.now(UTC)
                outcome = await self._attempt(target, target["delivery_id"], _body(found))
                metrics.WEBHOOK_SECONDS.observe(outcome.seconds)
                attempt = {
                    "delivery_id": target["delivery_id"],
                    "at": at,
                    "first_position": found[0]["position"],
                    "last_position": found[-1]["position"],
                    "status_code": outcome.status_code,
                    "duration_ms": round(outcome.seconds * 1000),
                }
                if not outcome.succeeded:
                    await self._failed(delivery, attempt, outcome)
                    return
                metrics.webhook_deliveries.inc("delivered")
                delivery.failures = 0
                acknowledged = attempt
                if len(found) < self._settings.batch_max:
                    # Caught up with a trickle: let a few more changes come before the next
                    # delivery rather than sending each alone (a backlog goes on at once).
                    await asyncio.sleep(LINGER_SECONDS)
        except Exception:
            logger.exception("webhook.delivery_failed", extra={"webhook_id": delivery.webhook_id})
        finally:
            with suppress(Exception):
                async with self._db.connection() as conn:
                    await SQL["release-leases"].execute(conn, owners=[delivery.owner])

    async def _take(
        self, delivery: Delivery, acknowledged: dict[str, Any] | None, *, take_next: bool
    ) -> tuple[asyncpg.Record, list[dict[str, Any]]] | None:
        """Acknowledge the delivery that just succeeded, if any, and take the next (one round
        trip: `take-delivery`): its target and changes, or None when there is none to send
        or the lease is lost."""
        done = acknowledged or dict.fromkeys(
            ("delivery_id", "at", "first_position", "last_position", "status_code", "duration_ms")
        )
        async with self._db.connection() as conn:
            rows = await SQL["take-delivery"].fetch(
                conn,
                webhook_id=delivery.webhook_id,
                owner=delivery.owner,
                acknowledged=done["delivery_id"],
                at=done["at"],
                first_position=done["first_position"],
                last_position=done["last_position"],
                status_code=done["status_code"],
                duration_ms=done["duration_ms"],
                take_next=take_next,
                entities=delivery.entities,
                limit=self._settings.batch_max,
                lease=self._settings.lease,
                new_id=signing.new_delivery_id(),
            )
        if not rows or rows[0]["delivery_id"] is None:
            return None
        return rows[0], [dict(row.items()) for row in rows]

    async def _failed(self, delivery: Delivery, attempt: dict[str, Any], outcome: Outcome) -> None:
        gone = outcome.status_code == 410
        delivery.failures += 1
        retry = next_retry(self._settings.retry_schedule, delivery.failures, outcome.retry_after)
        async with self._db.connection() as conn:
            await SQL["record-failure"].execute(
                conn,
                **attempt,
                webhook_id=delivery.webhook_id,
                owner=delivery.owner,
                error=outcome.error,
                delay=retry.delay,
                exhausted=retry.exhausted,
                gone=gone,
            )
        metrics.webhook_deliveries.inc("disabled" if gone else "failed")
        logger.warning(
            "webhook.attempt_failed",
            extra={
                "webhook_id": delivery.webhook_id,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "failures": delivery.failures,
                "next_attempt_at": None
                if gone
                else datetime.now(UTC) + timedelta(seconds=retry.delay),
                "disabled": gone,
            },
        )

    async def _attempt(self, target: asyncpg.Record, delivery_id: str, body: bytes) -> Outcome:
        keys = [target["secret"], *filter(None, [target["previous_secret"]])]
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(delivery_id, timestamp, body, keys),
        }
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._settings.timeout):
                status, retry_after = await self._post(httpx.URL(target["url"]), headers, body)
        except TimeoutError:
            return Outcome(None, "timeout", time.monotonic() - started)
        except NotAllowed:
            return Outcome(None, "not-allowed", time.monotonic() - started)
        except socket.gaierror:
            return Outcome(None, "dns", time.monotonic() - started)
        except httpx.HTTPError as error:
            return Outcome(None, _error_kind(error), time.monotonic() - started)
        seconds = time.monotonic() - started
        redirect = "redirect" if 300 <= status < 400 else None
        return Outcome(status, redirect, seconds, retry_after if status in (429, 503) else None)

    async def _post(
        self, url: httpx.URL, headers: dict[str, str], body: bytes
    ) -> tuple[int, float | None]:
        """POST to `url` at the address its host resolves to, once every address it resolves
        to is allowed (WEBHOOK_ALLOWED_HOSTS may have changed since the subscription); the
        answer's status and Retry-After."""
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await address_to_connect(
            self._settings.allowed_hosts, url.host, port, self._resolve
        )
        headers = {**headers, "host": url.netloc.decode("ascii")}
        request = self._client.build_request(
            "POST",
            url.copy_with(host=str(address)),
            headers=headers,
            content=body,
            # The certificate is checked against the name, not the address connected to.
            extensions={"sni_hostname": url.host},
        )
        response = await self._client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > LONGEST_ANSWER_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status_code, _retry_after(response.headers.get("retry-after"))

    async def stop(self, grace_seconds: float) -> None:
        """Stop claiming; let attempts in flight finish within `grace_seconds`, abandon the rest,
        and give every lease back, so another process may deliver at once."""
        if self._run is not None:
            self._run.cancel()
            with suppress(asyncio.CancelledError):
                await self._run
        tasks = list(self._tasks.values())
        owners = list(self._owners.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if owners:
            with suppress(Exception):
                async with self._db.connection() as conn:
                    await SQL["release-leases"].execute(conn, owners=owners)
        await self._client.aclose()


def _body(found: list[dict[str, Any]]) -> bytes:
    """The delivery's body: the same bytes for the same changes, so a retry re-sends it."""
    last = found[-1]
    return orjson.dumps(
        {
            "type": "changes",
            "timestamp": last["at"],
            "data": {
                "items": [changes.as_item(change) for change in found],
                "next_cursor": changes.encode_position(last["position"]),
            },
        },
        option=orjson.OPT_UTC_Z,
    )


def _error_kind(error: httpx.HTTPError) -> str:
    """What an attempt that got no answer met: httpx wraps what the socket raised (through
    httpcore and anyio, whose message hides it), so the chain of causes is searched."""
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if not isinstance(error, httpx.ConnectError):
        return "protocol"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    return "connect"


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number of them, or an HTTP date."""
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None
