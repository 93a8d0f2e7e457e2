"""The ASGI application: routes, middleware, lifespan and housekeeping."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, TypedDict

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware

from service.changes_watcher import ChangesWatcher
from service.config import OneRosterSettings, Settings, WebhookSettings
from service.database import Database, open_database
from service.oneroster import routes as oneroster_routes
from service.oneroster.paging import Paging
from service.plumbing import metrics
from service.plumbing.access_log import access_log
from service.plumbing.front_door import FrontDoor
from service.plumbing.logs import configure_logging
from service.plumbing.starlette_overrides import ServiceApp
from service.plumbing.stop_signal import on_stop_signal
from service.plumbing.tokens import TokenCheck, keep_keys_fresh
from service.replicas import ReadRouting, ReplicaSet, open_replicas
from service.repositories import changes, idempotency
from service.repositories.enrollments import FullCourses
from service.routes import changes as changes_routes
from service.routes import courses, docs, enrollments, health, students, webhooks
from service.routes import metrics as metrics_routes
from service.webhooks.delivery import DeliveryWorker

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger("service")
HOUSEKEEPING_SECONDS = 1
LOG_WRITE_SECONDS = 1  # the longest a held log line waits (README "Logs")
KEY_EXPIRY_EVERY_ROUNDS = 600  # every ten minutes
CHANGE_EXPIRY_EVERY_ROUNDS = 60
DELIVERY_CONNECTIONS = 2  # per process, for webhook deliveries (service/webhooks/delivery.py)


class State(TypedDict):
    db: Database
    changes_watcher: ChangesWatcher
    replicas: ReplicaSet | None
    full_courses: FullCourses
    webhook_settings: WebhookSettings
    webhook_deliveries: DeliveryWorker
    oneroster_settings: OneRosterSettings
    oneroster_paging: Paging


def create_app(
    settings: Settings | None = None, span_exporter: "SpanExporter | None" = None
) -> Starlette:
    """The application; it opens its database pool on startup and closes it on shutdown.
    Spans go to `span_exporter` when given (tests), else to OTLP when the settings say."""
    settings = settings or Settings.from_env()
    tokens = TokenCheck(settings.oauth) if settings.oauth else None
    spans = None
    if settings.span_export or span_exporter is not None:
        from service.plumbing.span_export import SpanExport  # the SDK, imported only now

        spans = SpanExport(span_exporter)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        db = await open_database(settings)
        watcher = ChangesWatcher(
            lambda: asyncpg.connect(
                settings.database_url, statement_cache_size=settings.db_statement_cache_size
            )
        )
        chores = asyncio.create_task(housekeeping(db, watcher, settings))
        log_writer = asyncio.create_task(write_held_log_lines())
        replicas = await open_replicas(db, settings) if settings.replica_urls else None
        watch = asyncio.create_task(replicas.watch()) if replicas else None
        key_fetch = asyncio.create_task(keep_keys_fresh(tokens)) if tokens else None
        # Deliveries take their connections from a small pool of their own, opened empty: in
        # a rush a delivery queued behind the requests for a pooled connection at each step
        # (--webhooks: the lag grew to seconds).
        deliveries_db = await open_database(
            replace(settings, db_pool_max=DELIVERY_CONNECTIONS), pool_min=0
        )
        deliveries = DeliveryWorker(deliveries_db, watcher, settings.webhooks)
        deliveries.start()
        try:
            with on_stop_signal(watcher.stop_waiting):
                yield {
                    "db": db,
                    "changes_watcher": watcher,
                    "replicas": replicas,
                    "full_courses": FullCourses(),
                    "webhook_settings": settings.webhooks,
                    "webhook_deliveries": deliveries,
                    "oneroster_settings": settings.oneroster,
                    "oneroster_paging": Paging(),
                }
        finally:
            await deliveries.stop(settings.shutdown_timeout)
            await deliveries_db.pool.close()
            chores.cancel()
            log_writer.cancel()
            for task in (watch, key_fetch):
                if task:
                    task.cancel()
            await watcher.close()
            for replica in replicas.replicas if replicas else ():
                await replica.db.pool.close()
            await db.pool.close()
            if spans:
                spans.shutdown(settings.shutdown_timeout)
            metrics.flush_counts()
            metrics.forget_this_process()
            access_log.flush()

    return ServiceApp(
        # Tried in this order: the per-student ones, which take most of the traffic (reads and
        # enrollments), first.
        routes=[
            *students.routes,
            *enrollments.routes,
            *courses.routes,
            *changes_routes.routes,
            *webhooks.routes,
            *oneroster_routes.routes,
            *health.routes,
            *metrics_routes.routes,
            *docs.routes,
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(FrontDoor, keys=settings.api_keys, tokens=tokens, spans=spans),
            # Only with replicas: without, a request passes one layer less.
            *([Middleware(ReadRouting)] if settings.replica_urls else []),
        ],
    )


def serve_app() -> Starlette:
    """The factory uvicorn calls in each worker process: logging first, then the app."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


async def write_held_log_lines() -> None:
    """Every second, write the log lines held (README "Logs" promises it): a task of its own,
    so that housekeeping waiting on a slow database never holds them back."""
    while True:
        await asyncio.sleep(LOG_WRITE_SECONDS)
        access_log.flush()


async def housekeeping(db: Database, watcher: ChangesWatcher, settings: Settings) -> None:
    """Every second, flush the counts kept in Python, refresh the gauges (pool, requests in
    flight, the feed), give feed positions to what has committed; now and then expire
    idempotency keys and old changes. Off the request path; a failure is logged and tried
    again next round."""
    rounds = 0
    while True:
        metrics.refresh(db, watcher)
        await _chore("changes.sequence_failed", _sequence_changes(db, watcher))
        if rounds % KEY_EXPIRY_EVERY_ROUNDS == 0:
            await _chore("idempotency.expiry_failed", _expire_keys(db))
        if rounds % CHANGE_EXPIRY_EVERY_ROUNDS == 0:
            await _chore("changes.expiry_failed", _expire_changes(db, settings))
        rounds += 1
        await asyncio.sleep(HOUSEKEEPING_SECONDS)


async def _chore(failure_event: str, work: Awaitable[None]) -> None:
    try:
        await work
    except Exception:
        logger.exception(failure_event)


async def _sequence_changes(db: Database, watcher: ChangesWatcher) -> None:
    async with db.connection() as conn:
        watcher.saw(await changes.sequence(conn))


async def _expire_keys(db: Database) -> None:
    if expired := await idempotency.delete_expired(db):
        logger.info("idempotency.expired", extra={"deleted": expired})


async def _expire_changes(db: Database, settings: Settings) -> None:
    if expired := await changes.expire(db, retention=settings.changes_retention):
        logger.info("changes.expired", extra={"deleted": expired})
