"""`python -m tests.load.instructions [CHECKOUT ...]`: CPU instructions per GET /students/{id},
counted by valgrind, for this checkout's service (every middleware on, metrics in
multiprocess mode as with several workers), the lean reference, and each other CHECKOUT.

Wall-clock figures on this shared machine drift 30% between runs; an instruction count
repeats to 0.2%, so it can tell a 2% change apart. It counts this process's user-space
instructions only: not the kernel's work (system calls, sockets) nor Postgres's. The app is
driven in-process (no HTTP server, no sockets to the client) by 8 concurrent callers; the
count of a run of N requests minus that of a run of none, over N. Needs valgrind
(`apt-get install valgrind`); takes about a minute and a half per app.
"""

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Scope

HERE = Path(__file__).resolve().parents[2]
KEY = "instructions-key"
CALLERS = 8


def count(checkout: Path, app: str, requests: int, env: dict[str, str]) -> int:
    """Instructions valgrind counted for one run of `drive`."""
    run = subprocess.run(
        [
            *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
            # This file drives the checkout's app: the checkout may predate it.
            *(sys.executable, __file__, "--drive", app, str(requests)),
        ],
        cwd=checkout,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        text=True,
        check=True,
    )
    collected = re.search(r"Collected : (\d+)", run.stderr)
    assert collected, run.stderr[-2000:]
    return int(collected[1])


def per_request(checkout: Path, app: str, requests: int, env: dict[str, str]) -> float:
    # A run outside valgrind first, so that neither counted run compiles the checkout's code
    # (a fresh checkout has no bytecode yet: it once added 130k to each request's count).
    subprocess.run(
        [sys.executable, __file__, "--drive", app, str(CALLERS)],
        cwd=checkout,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        check=True,
    )
    return (count(checkout, app, requests, env) - count(checkout, app, 0, env)) / requests


async def get(
    app: ASGIApp, path: str, headers: list[tuple[bytes, bytes]], state: Mapping[str, Any]
) -> int:
    """The status `app` answers GET `path` with, called as an ASGI server would."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": dict(state),
    }
    statuses: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def drive(app_name: str, requests: int) -> None:
    """Serve `requests` GET /students/{id} (random ids of the seeded 10k) in this process."""
    app: Starlette
    if app_name == "reference":
        from tests.load.reference import app
    else:
        from service.app import serve_app

        app = serve_app()
    random.seed(1)
    lifespan = app.router.lifespan_context(app)
    state = await lifespan.__aenter__() or {}
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {KEY}".encode())]

    async def caller(calls: int) -> None:
        for _ in range(calls):
            status = await get(app, f"/students/{random.randint(1, 10_000)}", headers, state)
            assert status == 200, status

    await asyncio.gather(*(caller(requests // CALLERS) for _ in range(CALLERS)))
    await lifespan.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path, help="other copies of the project")
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--drive", nargs=2, metavar=("APP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        import uvloop

        uvloop.install()
        asyncio.run(drive(args.drive[0], int(args.drive[1])))
        return
    # Imported here, not at the top: the driven process should hold only what a server does.
    from service.migrations import apply_migrations
    from tests.load.seed import seed
    from tests.support.postgres import postgres_server, scratch_database

    with (
        postgres_server() as server,
        scratch_database(server, "instructions") as url,
        tempfile.TemporaryDirectory() as metrics_dir,
    ):
        apply_migrations(url)
        seed(url, students=10_000, courses=500, enrollments=50_000)
        env = {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": url,
            "API_KEYS": f"load:{KEY}:read+write",
            "LOG_LEVEL": "info",
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
        reference = per_request(HERE, "reference", args.requests, env)
        print(f"{'reference: a, lean app':40} {reference:>10,.0f} instructions per request")
        for checkout in [HERE, *args.checkouts]:
            ours = per_request(checkout.resolve(), "service", args.requests, env)
            print(f"{checkout!s:40} {ours:>10,.0f}  ({ours / reference:.2f}x the reference)")


if __name__ == "__main__":
    main()
