"""OAuth 2.0 access tokens beside API keys (API.md v1.2 "Caller identity"), offline: keys made
here, the key set served over HTTP on 127.0.0.1 (or read from a file)."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives import serialization

from service.app import create_app
from service.config import OAuthSettings, Settings, parse_api_keys
from service.plumbing import tokens
from tests.api.conftest import LogLines
from tests.api.test_auth import OPEN, OPERATIONS, call
from tests.conftest import assert_problem, unique
from tests.support.issuer import AUDIENCE, ISSUER, KeyEndpoint, SigningKey, ec_key, mint, rsa_key

WRITE_KEY = "registrar-key-secret"


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@asynccontextmanager
async def service(
    database_url: str,
    *,
    jwks_url: str | None = None,
    jwks_file: Path | None = None,
    jwks_refresh: float = 300,
    api_keys: str | None = f"registrar:{WRITE_KEY}:read+write",
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with tokens on, and API keys too unless `api_keys` is None."""
    oauth = OAuthSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,
        jwks_file=jwks_file,
        jwks_refresh=jwks_refresh,
    )
    keys = parse_api_keys(api_keys) if api_keys else ()
    settings = Settings(database_url=database_url, api_keys=keys, oauth=oauth)
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def status_with(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/students?limit=1", headers=bearer(token))).status_code


def answers(client: httpx.AsyncClient, token: str, status: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await status_with(client, token) == status

    return check


def fetched_more_than(endpoint: KeyEndpoint, fetches: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return endpoint.fetches > fetches

    return check


@pytest.fixture(scope="module")
def signing_keys() -> tuple[SigningKey, SigningKey]:
    return rsa_key(), ec_key()


@pytest.fixture(scope="module")
async def client(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey]
) -> AsyncIterator[httpx.AsyncClient]:
    with KeyEndpoint(list(signing_keys)).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url) as client:
            token = mint(signing_keys[0])
            await eventually(answers(client, token, 200))
            yield client


async def test_a_valid_token_reads_and_writes_with_rs256_and_es256(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    for key in signing_keys:
        token = mint(key)
        created = await client.post(
            "/courses", json={"code": unique("TOK"), "title": "T"}, headers=bearer(token)
        )
        assert created.status_code == 201
        found = await client.get(created.headers["location"], headers=bearer(token))
        assert found.status_code == 200


def _unsigned(claims: dict[str, object], header: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}"


def _alg_none(key: SigningKey) -> str:
    claims = json.loads(base64.urlsafe_b64decode(mint(key).split(".")[1] + "=="))
    return _unsigned(claims, {"alg": "none", "kid": key.kid, "typ": "JWT"}) + "."


def _hs256_with_the_public_key(key: SigningKey) -> str:
    """Algorithm confusion: HMAC keyed with the public key's PEM, which anyone has."""
    claims = json.loads(base64.urlsafe_b64decode(mint(key).split(".")[1] + "=="))
    signing_input = _unsigned(claims, {"alg": "HS256", "kid": key.kid, "typ": "JWT"})
    secret = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _foreign_key_same_kid(key: SigningKey) -> str:
    return mint(replace(rsa_key(), kid=key.kid))


BAD_TOKENS: dict[str, Callable[[SigningKey], str]] = {
    "expired": lambda key: mint(key, exp=int(time.time()) - 120),
    "not yet valid": lambda key: mint(key, nbf=int(time.time()) + 120),
    "foreign issuer": lambda key: mint(key, iss="https://elsewhere.test/"),
    "foreign audience": lambda key: mint(key, aud="another-service"),
    "no exp": lambda key: mint(key, exp=None),
    "no client_id or sub": lambda key: mint(key, client_id=None),
    "alg none": _alg_none,
    "HS256 keyed with the public key": _hs256_with_the_public_key,
    "signed by a key not in the set": _foreign_key_same_kid,
    "unknown kid": lambda key: mint(rsa_key()),
    "malformed": lambda key: "not.a.token",
    "tampered claims": lambda key: mint(key).replace(".", ".e30", 1)[:-4] + "AAAA",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_a_bad_token_gets_401_invalid_token_and_changes_nothing(
    client: httpx.AsyncClient,
    signing_keys: tuple[SigningKey, SigningKey],
    log_lines: LogLines,
    kind: str,
) -> None:
    token = BAD_TOKENS[kind](signing_keys[0])
    code = unique("BAD")
    response = await client.post(
        "/courses", json={"code": code, "title": "T"}, headers=bearer(token)
    )
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert token not in response.text
    good = bearer(mint(signing_keys[0]))
    assert (await client.get(f"/courses?code={code}", headers=good)).json()["items"] == []
    assert all(token not in json.dumps(line) for line in log_lines())


async def test_a_bearer_over_8_kib_gets_401_before_it_is_parsed(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    # A good signature over a padded claim: only the bound can refuse it.
    padded = mint(signing_keys[0], padding="x" * (1 << 20))
    response = await client.get("/students?limit=1", headers=bearer(padded))
    assert_problem(response, 401, "unauthorized")
    assert "over 8192 bytes" in response.json()["detail"]
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    just_under = mint(signing_keys[0], padding="x" * 4000)
    assert await status_with(client, just_under) == 200


async def test_leeway_forgives_a_little_clock_skew(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    now = int(time.time())
    just_expired = mint(signing_keys[0], exp=now - 10)
    almost_valid = mint(signing_keys[0], nbf=now + 10)
    assert await status_with(client, just_expired) == 200
    assert await status_with(client, almost_valid) == 200


async def test_a_read_scope_token_gets_403_insufficient_scope_on_a_write(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    reader = mint(signing_keys[1], client_id="reports", scope="enrollment.read")
    assert await status_with(client, reader) == 200
    response = await client.post(
        "/courses", json={"code": "X", "title": "T"}, headers=bearer(reader)
    )
    assert_problem(response, 403, "forbidden")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="enrollment.write"'
    )
    writer = mint(signing_keys[1], scope="enrollment.write")
    response = await client.get("/webhooks", headers=bearer(writer))
    assert_problem(response, 403, "forbidden")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="enrollment.admin"'
    )
    nothing = mint(signing_keys[1], scope="profile")
    response = await client.get("/students", headers=bearer(nothing))
    assert_problem(response, 403, "forbidden")
    assert 'scope="enrollment.read"' in response.headers["www-authenticate"]


async def test_keys_and_tokens_work_side_by_side(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    assert (await client.get("/students", headers=bearer(WRITE_KEY))).status_code == 200
    assert (await client.get("/students", headers=bearer(mint(signing_keys[0])))).status_code == 200
    assert_problem(await client.get("/students", headers=bearer("no-such-key")), 401)
    assert_problem(await client.get("/students"), 401)
    assert (await client.get("/healthz")).status_code == 200


async def test_the_client_is_the_actor_in_history_and_logs(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey], log_lines: LogLines
) -> None:
    token = mint(signing_keys[0], client_id="sis-sync", sub="ignored-when-client_id-is-there")
    headers = bearer(token)
    student = await client.post(
        "/students",
        json={"first_name": "A", "last_name": "B", "email": f"{unique('t')}@example.edu"},
        headers=headers,
    )
    course = await client.post(
        "/courses", json={"code": unique("ACT"), "title": "T"}, headers=headers
    )
    path = f"/students/{student.json()['id']}/courses/{course.json()['id']}"
    enrolled = await client.put(path, headers=headers)
    assert enrolled.status_code == 201
    by_sub = mint(signing_keys[0], client_id=None, sub="batch-job")
    completed = await client.patch(path, json={"status": "completed"}, headers=bearer(by_sub))
    assert completed.status_code == 200
    history = await client.get(f"{path}/history", headers=headers)
    assert [entry["actor"] for entry in history.json()["items"]] == [
        "oauth:sis-sync",
        "oauth:batch-job",
    ]
    lines = log_lines()
    assert [line["actor"] for line in lines if line["event"].startswith("enrollment.")] == [
        "oauth:sis-sync",
        "oauth:batch-job",
    ]
    assert all(token not in json.dumps(line) for line in lines)


async def test_idempotency_keys_are_scoped_per_client(
    client: httpx.AsyncClient, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    idempotency_key = {"Idempotency-Key": unique("per-client")}
    body = {"code": unique("IDEM"), "title": "T"}
    first, again, other = [
        await client.post(
            "/courses",
            json=body,
            headers={**bearer(mint(signing_keys[0], client_id=who)), **idempotency_key},
        )
        for who in ("sis", "sis", "catalogue")
    ]
    assert (first.status_code, again.headers.get("idempotent-replayed")) == (201, "true")
    # Another client's same key is new to us: the request runs, and finds the code taken.
    assert_problem(other, 409)


async def test_the_key_set_rotates(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "UNKNOWN_KID_REFETCH_SECONDS", 0.2)
    old, new = rsa_key(), ec_key()
    with KeyEndpoint([old]).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url, jwks_refresh=300) as client:
            old_token, new_token = mint(old), mint(new)
            await eventually(answers(client, old_token, 200))
            endpoint.keys = [old, new]  # the issuer publishes the next key ahead of using it
            # The first token under the new kid is refused (no request waits on a fetch), and
            # asks for a refetch, after which the new key works; the old one still does.
            await eventually(answers(client, new_token, 200))
            assert await status_with(client, old_token) == 200
            fetches = endpoint.fetches
            endpoint.keys = [new]  # the old key leaves: a token it signed stops working
            await eventually(answers(client, mint(rsa_key()), 401))
            await eventually(answers(client, old_token, 401))
            assert endpoint.fetches > fetches
            assert await status_with(client, new_token) == 200


async def test_unknown_kids_refetch_no_more_often_than_the_floor(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown kids sent without pause for 2.2 s: with the floor cut to 0.5 s, that is room
    for four refetches at most (one every 0.5 s), and at least two must happen."""
    assert tokens.UNKNOWN_KID_REFETCH_SECONDS == 30  # the contract's floor
    monkeypatch.setattr(tokens, "UNKNOWN_KID_REFETCH_SECONDS", 0.5)
    with KeyEndpoint(list(signing_keys)).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url) as client:
            await eventually(answers(client, mint(signing_keys[0]), 200))
            stranger, first = mint(rsa_key()), endpoint.fetches
            ends = time.monotonic() + 2.2
            while time.monotonic() < ends:
                assert await status_with(client, stranger) == 401
                await asyncio.sleep(0.01)
            refetches = endpoint.fetches - first
    assert 2 <= refetches <= 5, refetches


async def test_a_down_key_endpoint_keeps_the_last_good_key_set(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    with KeyEndpoint(list(signing_keys)).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url, jwks_refresh=1) as client:
            await eventually(answers(client, mint(signing_keys[0]), 200))
            endpoint.up = False
            fetches = endpoint.fetches
            await eventually(fetched_more_than(endpoint, fetches))
            await eventually(fetched_more_than(endpoint, fetches + 1))
            # A token never seen before: verified against the keys kept, not a cached answer.
            assert await status_with(client, mint(signing_keys[1], client_id="new")) == 200


async def test_a_key_endpoint_down_from_the_start_gets_503_never_401(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    with KeyEndpoint(list(signing_keys), up=False).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url) as client:
            token = mint(signing_keys[0])
            started = time.monotonic()
            response = await client.get("/students", headers=bearer(token))
            assert time.monotonic() - started < 1  # no request waits on the key endpoint
            assert_problem(response, 503, "auth-unavailable")
            assert int(response.headers["retry-after"]) > 0
            assert token not in response.text
            # API keys do not depend on the issuer.
            assert (await client.get("/students", headers=bearer(WRITE_KEY))).status_code == 200
            endpoint.up = True
            await eventually(answers(client, token, 200))


async def test_the_key_set_can_come_from_a_file(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey], tmp_path: Path
) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_bytes(KeyEndpoint([signing_keys[1]]).key_set())
    async with service(database_url, jwks_file=jwks) as client:
        await eventually(answers(client, mint(signing_keys[1]), 200))
        assert await status_with(client, mint(signing_keys[0])) == 401


async def test_with_tokens_alone_every_operation_but_the_open_three_needs_a_token(
    database_url: str, signing_keys: tuple[SigningKey, SigningKey]
) -> None:
    reader = mint(signing_keys[0], scope="enrollment.read")
    writer = mint(signing_keys[0])
    admin = mint(signing_keys[0], scope="enrollment.admin")
    with KeyEndpoint(list(signing_keys)).serving() as endpoint:
        async with service(database_url, jwks_url=endpoint.url, api_keys=None) as client:
            await eventually(answers(client, writer, 200))
            for method, path in OPERATIONS:
                if path in OPEN:
                    assert await call(client, method, path, None) not in (401, 403), path
                    continue
                assert await call(client, method, path, None) == 401, (method, path)
                assert await call(client, method, path, WRITE_KEY) == 401, (method, path)
                read = await call(client, method, path, reader)
                write = await call(client, method, path, writer)
                if path.startswith("/webhooks"):  # the admin scope's alone
                    assert (read, write) == (403, 403), (method, path)
                else:
                    assert read not in (401, 403) if method == "GET" else read == 403, path
                    assert write not in (401, 403), (method, path)
                # Admin implies write and read.
                assert await call(client, method, path, admin) not in (401, 403), (method, path)


ROSTER_SCOPES = "https://purl.imsglobal.org/spec/or/v1p2/scope/"


@pytest.mark.parametrize(
    ("scope", "core", "relationship", "demographics"),
    [
        (ROSTER_SCOPES + "roster-core.readonly", 200, 403, 403),
        (ROSTER_SCOPES + "roster.readonly", 200, 200, 403),
        (ROSTER_SCOPES + "roster-demographics.readonly", 403, 403, 200),
        ("enrollment.read", 200, 200, 200),  # the service's read scope reads it all
        # A scope that merely holds the name is not the scope.
        (ROSTER_SCOPES + "roster-core.readonly.extra", 403, 403, 403),
        ("x" + ROSTER_SCOPES + "roster.readonly", 403, 403, 403),
        ("profile", 403, 403, 403),
    ],
)
async def test_oneroster_takes_its_own_scopes_each_compared_whole(
    client: httpx.AsyncClient,
    signing_keys: tuple[SigningKey, SigningKey],
    scope: str,
    core: int,
    relationship: int,
    demographics: int,
) -> None:
    token = mint(signing_keys[0], scope=scope)
    base = "/ims/oneroster/rostering/v1p2"
    school = await client.get(f"{base}/schools", headers=bearer(mint(signing_keys[0])))
    school_id = school.json()["orgs"][0]["sourcedId"]
    statuses = [
        (await client.get(base + path, headers=bearer(token))).status_code
        for path in ("/users", f"/schools/{school_id}/students", "/demographics")
    ]
    assert statuses == [core, relationship, demographics]
    refused = await client.get(base + "/users", headers=bearer(mint(signing_keys[0], scope="x")))
    info = refused.json()
    assert info["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == (
        "forbidden"
    )
    assert refused.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{ROSTER_SCOPES}roster-core.readonly"'
    )
    anonymous = await client.get(base + "/users")
    assert anonymous.status_code == 401
    assert (
        anonymous.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
        == "unauthorisedrequest"
    )
    assert anonymous.headers["www-authenticate"] == 'Bearer error="invalid_token"'
