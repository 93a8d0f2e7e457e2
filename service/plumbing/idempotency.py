"""`Idempotency-Key` on POST: a retry with the same key and body within 24 hours replays the
first response with `Idempotent-Replayed: true`; the same key with another body gets 422;
a retry while the first is still in flight gets 409. Keys are scoped to the API key's name.

The key is claimed (an advisory lock) and recorded in the same transaction as the write it
protects, so a crash can never keep one without the other: the endpoint runs on that
transaction (Database.within), so the rows its write locks stay locked until the key is
recorded and the transaction commits. Only 2xx answers are recorded:
a refused request wrote nothing, so running it again is what a retry should do.

`idempotent(endpoint)` wraps each POST route's endpoint, rather than a middleware wrapping
every request: the others need not pass through it (a layer cost a simple GET 1% of its
instructions).
"""

import hashlib
import re
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.database import Database
from service.plumbing import context
from service.plumbing.starlette_overrides import Endpoint, Handler
from service.problems import Conflict, ValidationFailed
from service.repositories import idempotency
from service.repositories.idempotency import RecordedResponse
from service.web import JSONResponse, receive_body

_VALID_KEY = re.compile(rb"[\x20-\x7e]{1,255}")


class KeyInFlight(Conflict):
    kind, title = "idempotency-key-in-flight", "Request with this key still in flight"


class KeyReused(ValidationFailed):
    kind, title = "idempotency-key-reused", "Idempotency key reused with another request"


class _Rollback(Exception):
    """Raised inside the transaction to undo it when the app did not answer 2xx."""


@dataclass
class _CapturedResponse:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)

    def header(self, name: bytes) -> str | None:
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == name), None)


def _key(scope: Scope) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == b"idempotency-key"), None)


def _request_hash(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256(f"{scope['method']} {scope['path']}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def idempotent(endpoint: Handler) -> ASGIApp:
    """A POST route's endpoint, answering once per Idempotency-Key."""
    return _Idempotent(Endpoint(endpoint))


class _Idempotent:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        # A problem raised here (a bad key, a key in flight or reused, a refused write) goes
        # up to FrontDoor, which answers every problem.
        if not _VALID_KEY.fullmatch(key):
            raise ValidationFailed(
                [{"parameter": "Idempotency-Key", "detail": "must be 1..255 characters"}]
            )
        body = await receive_body(receive)
        response = await self._respond_once(scope, key.decode("ascii"), body)
        await response(scope, receive, send)

    async def _respond_once(self, scope: Scope, key: str, body: bytes) -> JSONResponse:
        db: Database = scope["state"]["db"]
        owner = context.caller.get()
        request_hash = _request_hash(scope, body)
        captured = _CapturedResponse()
        try:
            async with db.transaction() as conn:
                if not await idempotency.try_claim(conn, scope=owner, key=key):
                    raise KeyInFlight("a request with this Idempotency-Key is still being served")
                recorded = await idempotency.find_response(conn, scope=owner, key=key)
                if recorded is not None:
                    if recorded.request_hash != request_hash:
                        raise KeyReused(
                            [
                                {
                                    "parameter": "Idempotency-Key",
                                    "detail": "was used for another request",
                                }
                            ]
                        )
                    return _replay(recorded)
                # The write joins this transaction, so that the key and the write commit
                # together: the endpoint's database is this transaction's (InTransaction),
                # where whatever its statements lock stays locked until the commit below.
                inside = {**scope, "state": {**scope["state"], "db": db.within(conn)}}
                await self.app(inside, _replaying(body), captured_send(captured))
                if not 200 <= captured.status < 300:
                    raise _Rollback
                await idempotency.record_response(
                    conn,
                    scope=owner,
                    key=key,
                    response=RecordedResponse(
                        request_hash=request_hash,
                        status_code=captured.status,
                        location=captured.header(b"location"),
                        body=bytes(captured.body),
                    ),
                )
        except _Rollback:
            pass
        # Sent only now, after the commit: a caller never hears of a write that was lost.
        return _as_response(captured)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def captured_send(captured: _CapturedResponse) -> Send:
    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            captured.status = message["status"]
            captured.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    return send


def _as_response(captured: _CapturedResponse) -> JSONResponse:
    response = JSONResponse(None, status_code=captured.status)
    response.body = bytes(captured.body)
    response.raw_headers = captured.headers
    return response


def _replay(recorded: RecordedResponse) -> JSONResponse:
    response = JSONResponse(None, status_code=recorded.status_code)
    response.body = recorded.body
    response.init_headers()
    response.headers["Idempotent-Replayed"] = "true"
    if recorded.location:
        response.headers["Location"] = recorded.location
    return response
