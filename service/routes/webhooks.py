"""`/webhooks`: subscriptions to the change feed (API.md v1.3 "Webhooks"); the admin scope
(plumbing/auth.py). The secret is in the answers of creation and rotation only."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.config import WebhookSettings
from service.pagination import page_of, parse_page_request
from service.problems import NotFound, ValidationFailed, field_error
from service.repositories import changes, webhooks
from service.routes import route
from service.routes.changes import NOT_A_CURSOR
from service.schemas.webhooks import WebhookCreate, WebhookUpdate
from service.web import JSONResponse, created, no_content, path_id, read_json, validate
from service.webhooks import signing
from service.webhooks.delivery import DeliveryWorker
from service.webhooks.destinations import SETTING, NotAllowed


def _not_found(webhook_id: int) -> NotFound:
    return NotFound(f"webhook {webhook_id} does not exist")


def _not_ours() -> ValidationFailed:
    return ValidationFailed([field_error("/cursor", NOT_A_CURSOR)])


def _checked_url(request: Request, url: str) -> str:
    """The URL, once WEBHOOK_ALLOWED_HOSTS lets deliveries go there; else 422 saying why."""
    settings: WebhookSettings = request.state.webhook_settings
    allowed = settings.allowed_hosts
    if not allowed:
        raise ValidationFailed(
            [field_error("/url", f"no host is allowed: set {SETTING} to let deliveries out")]
        )
    try:
        allowed.check_url(url)
    except NotAllowed as error:
        raise ValidationFailed([field_error("/url", str(error))]) from None
    return url


def _position(cursor: str) -> int:
    try:
        return changes.decode_position(cursor)
    except ValueError:
        raise _not_ours() from None


async def create_webhook(request: Request) -> Response:
    body = validate(WebhookCreate, await read_json(request))
    secret = signing.new_secret()
    webhook = await webhooks.create_webhook(
        request.state.db,
        url=_checked_url(request, body.url),
        entities=list(body.entities),
        description=body.description,
        after_position=None if body.cursor is None else _position(body.cursor),
        secret=secret,
        not_ours=_not_ours(),
    )
    deliveries: DeliveryWorker = request.state.webhook_deliveries
    deliveries.wake()  # a back-fill starts at once
    return created({**webhook, "secret": secret}, f"/webhooks/{webhook['id']}")


async def list_webhooks(request: Request) -> Response:
    page = parse_page_request(request.query_params)
    rows = await webhooks.list_webhooks(request.state.db, page=page)
    return JSONResponse(page_of(rows, page))


async def get_webhook(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    webhook = await webhooks.get_webhook(request.state.db, webhook_id=webhook_id)
    if webhook is None:
        raise _not_found(webhook_id)
    return JSONResponse(webhook)


async def update_webhook(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    body = validate(WebhookUpdate, await read_json(request))
    fields: dict[str, Any] = body.changes()
    if "url" in fields:
        _checked_url(request, fields["url"])
    if "cursor" in fields:
        fields["cursor_position"] = _position(fields.pop("cursor"))
    webhook = await webhooks.update_webhook(
        request.state.db, webhook_id=webhook_id, fields=fields, not_ours=_not_ours()
    )
    if webhook is None:
        raise _not_found(webhook_id)
    deliveries: DeliveryWorker = request.state.webhook_deliveries
    deliveries.wake()  # a retry asked for, or a cursor moved: at once, in this process at least
    return JSONResponse(webhook)


async def rotate_secret(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    settings: WebhookSettings = request.state.webhook_settings
    secret = signing.new_secret()
    webhook = await webhooks.rotate_secret(
        request.state.db,
        webhook_id=webhook_id,
        secret=secret,
        overlap=settings.secret_overlap,
    )
    if webhook is None:
        raise _not_found(webhook_id)
    return JSONResponse({**webhook, "secret": secret})


async def delete_webhook(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    if not await webhooks.delete_webhook(request.state.db, webhook_id=webhook_id):
        raise _not_found(webhook_id)
    return no_content()


async def list_attempts(request: Request) -> Response:
    webhook_id = path_id(request, "webhook_id")
    page = parse_page_request(request.query_params)
    rows = await webhooks.list_attempts(request.state.db, webhook_id=webhook_id, page=page)
    if rows is None:
        raise _not_found(webhook_id)
    return JSONResponse(page_of(rows, page))


routes = [
    route("/webhooks", "POST", create_webhook, idempotent=True),
    route("/webhooks", "GET", list_webhooks),
    route("/webhooks/{webhook_id:int}", "GET", get_webhook),
    route("/webhooks/{webhook_id:int}", "PATCH", update_webhook),
    route("/webhooks/{webhook_id:int}", "DELETE", delete_webhook),
    route("/webhooks/{webhook_id:int}/rotate-secret", "POST", rotate_secret, idempotent=True),
    route("/webhooks/{webhook_id:int}/attempts", "GET", list_attempts),
]
