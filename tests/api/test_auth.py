"""API keys: every operation against no key, a bad key, a read key and a write key."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from service.app import create_app
from service.config import ConfigError, Settings, parse_api_keys
from service.openapi import load_openapi
from tests.conftest import assert_problem, unique

READ_KEY, WRITE_KEY, OTHER_WRITE_KEY = "k1-read-secret", "k2-write-secret", "k3-write-secret"
ADMIN_KEY = "k4-admin-secret"
API_KEYS = (
    f"reports:{READ_KEY}:read,registrar:{WRITE_KEY}:read+write,billing:{OTHER_WRITE_KEY}:read+write"
    f",platform:{ADMIN_KEY}:read+write+admin"
)
OPEN = {"/healthz", "/readyz", "/metrics"}
OPERATIONS = sorted(
    (method.upper(), re.sub(r"\{\w+\}", "9", path))
    for path, item in load_openapi()["paths"].items()
    for method in item
)


@pytest.fixture(scope="module")
async def keyed(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, api_keys=parse_api_keys(API_KEYS))
    app = create_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(client: httpx.AsyncClient, method: str, path: str, token: str | None) -> int:
    headers = bearer(token) if token else {}
    body: dict[str, object] | None = {} if method in ("POST", "PATCH") else None
    response = await client.request(method, path, json=body, headers=headers)
    return response.status_code


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
async def test_every_operation_needs_a_key_with_the_right_scope(
    keyed: httpx.AsyncClient, method: str, path: str
) -> None:
    if path in OPEN:
        assert await call(keyed, method, path, None) not in (401, 403)
        return
    assert await call(keyed, method, path, None) == 401
    assert await call(keyed, method, path, "not-a-key") == 401
    read = await call(keyed, method, path, READ_KEY)
    write = await call(keyed, method, path, WRITE_KEY)
    if path.startswith("/webhooks"):  # the admin scope's alone
        assert (read, write) == (403, 403)
    else:
        assert read not in (401, 403) if method == "GET" else read == 403
        assert write not in (401, 403)
    assert await call(keyed, method, path, ADMIN_KEY) not in (401, 403)  # admin implies all


async def test_401_says_bearer_and_is_a_problem(keyed: httpx.AsyncClient) -> None:
    response = await keyed.get("/students")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(await keyed.get("/students", headers={"Authorization": "Basic x"}), 401)


async def test_write_key_can_write_and_read_key_cannot(keyed: httpx.AsyncClient) -> None:
    body = {"code": unique("AUTH"), "title": "T"}
    assert_problem(await keyed.post("/courses", json=body, headers=bearer(READ_KEY)), 403)
    created = await keyed.post("/courses", json=body, headers=bearer(WRITE_KEY))
    assert created.status_code == 201
    found = await keyed.get(created.headers["location"], headers=bearer(READ_KEY))
    assert found.status_code == 200


async def test_idempotency_keys_are_scoped_to_the_api_key(keyed: httpx.AsyncClient) -> None:
    idempotency_key = {"Idempotency-Key": unique("scope")}
    body = {"code": unique("S"), "title": "T"}
    first = await keyed.post(
        "/courses", json=body, headers={**bearer(WRITE_KEY), **idempotency_key}
    )
    replay = await keyed.post(
        "/courses", json=body, headers={**bearer(WRITE_KEY), **idempotency_key}
    )
    other = await keyed.post(
        "/courses", json=body, headers={**bearer(OTHER_WRITE_KEY), **idempotency_key}
    )
    assert (first.status_code, replay.headers.get("idempotent-replayed")) == (201, "true")
    # Under another key's name the same Idempotency-Key is new: the request runs (and finds
    # the code taken) instead of replaying registrar's response.
    assert_problem(other, 409)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("reports", "entry 1 (reports) must look like name:key:scopes"),
        ("a:k:read,reports:secret-key:admin", "entry 2 (reports) has scopes 'admin'"),
        ("a:k:read,a:k2:read", "entry 2 (a) repeats a name"),
        (":secret-key:read", "entry 1 (no name)"),
    ],
)
def test_malformed_api_keys_name_the_entry_never_the_key(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_api_keys(raw)
    assert message in str(caught.value)
    assert "secret-key" not in str(caught.value)


def test_api_keys_parse_names_and_scopes() -> None:
    keys = parse_api_keys(" reports:k:1:read , registrar:k2:read+write,ops:k3:read+write+admin ")
    assert [(k.name, k.secret, sorted(k.scopes)) for k in keys] == [
        ("reports", "k:1", ["read"]),
        ("registrar", "k2", ["read", "write"]),
        ("ops", "k3", ["admin", "read", "write"]),
    ]


async def test_a_read_key_reads_oneroster_and_no_key_gets_its_401(keyed: httpx.AsyncClient) -> None:
    users = "/ims/oneroster/rostering/v1p2/users"
    assert (await keyed.get(users, headers=bearer(READ_KEY))).status_code == 200
    refused = await keyed.get(users)
    assert refused.status_code == 401
    minor = refused.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    assert minor["imsx_codeMinorFieldValue"] == "unauthorisedrequest"
    assert refused.headers["www-authenticate"] == "Bearer"
