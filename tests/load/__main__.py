"""`python -m tests.load`: seed a dataset, start the service (and, for comparison, a lean
reference app and pgbench on the same SQL), drive each scenario with wrk, print a table.
Targets 127.0.0.1 only and stops by itself. `--smoke` runs it in seconds (CI does)."""

import argparse
import base64
import contextlib
import dataclasses
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg

from service.migrations import apply_migrations
from service.queries import SQL_DIR
from tests.load import feed, lean_rush, webhooks, wrk
from tests.load.feed import FeedFollower
from tests.load.scheduler import autogroup_warning
from tests.load.seed import Dataset, overbooked, seed
from tests.support.issuer import AUDIENCE, ISSUER, KeyEndpoint, mint, rsa_key
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.postgres import postgres_server, scratch_database
from tests.support.replication import primary_and_replica
from tests.support.running_service import RunningService, free_port

PROJECT = Path(__file__).resolve().parents[2]
KEY = os.environ.get("LOAD_API_KEY", "load-test-key")
AUTH = '{["Authorization"] = "Bearer ' + KEY + '"}'
HEADERS = {"Authorization": f"Bearer {KEY}"}
SEED_RANDOM = "function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end\n"
PAGE = 50


def cursor(after_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{after_id}".encode()).decode().rstrip("=")


def call(method: str, path: str, bearer: str = KEY) -> str:
    """A Lua function `request()` making one request; `path` is a Lua string expression."""
    auth = '{["Authorization"] = "Bearer ' + bearer + '"}'
    return f'function request() return wrk.format("{method}", {path}, {auth}) end'


A, B, RUSH = "a student with courses", "b student's courses", "d registration rush"
WAITLIST_RUSH = "d rush with waitlists"
PLENTY_RUSH = "d rush, many seats"  # mostly 201s, where the registration rush is mostly 409s
MIXED = "e 90% reads, 10% writes"
REFERENCE = "reference: a, lean app"
# What a full run loads in rounds, in the table's order: the scenarios the targets are about.
ROUND_SCENARIOS = (A, REFERENCE, B, RUSH, WAITLIST_RUSH)


def scenarios(data: Dataset, bearer: str = KEY) -> dict[str, str]:
    """Lua defining `request()`, by scenario name, each request with `bearer` (the API key
    unless a token is given)."""
    student = f"local low, high = {data.min_student_id}, {data.max_student_id}\n" + SEED_RANDOM
    some = '"/students/" .. math.random(low, high)'
    pages = range(1, max(2, data.students // PAGE), max(1, data.students // PAGE // 500))
    cursors = ", ".join(f'"{cursor(data.min_student_id - 1 + page * PAGE)}"' for page in pages)
    last_page = min(1000, data.students // PAGE)
    deep_page = (
        '"/students?cursor=' + cursor(data.min_student_id - 1 + (last_page - 1) * PAGE) + '"'
    )
    rush = "local rush = {" + ", ".join(map(str, data.rush_course_ids)) + "}\n"
    queued = "local rush = {" + ", ".join(map(str, data.waitlist_course_ids)) + "}\n"
    plenty = "local rush = {" + ", ".join(map(str, data.plenty_course_ids)) + "}\n"
    put_rush = call("PUT", some + ' .. "/courses/" .. rush[math.random(#rush)]', bearer)
    courses = f"local c_low, c_high = {data.min_course_id}, {data.max_course_id}\n"
    enroll = some + ' .. "/courses/" .. math.random(c_low, c_high)'
    mixed = (
        "local read_request, write_request\n"
        + call("GET", some, bearer).replace("function request()", "read_request = function()")
        + "\n"
        + call("PUT", enroll, bearer).replace("function request()", "write_request = function()")
        + "\n"
        + "function request()\n"
        + "  if math.random(10) == 1 then return write_request() end\n"
        + "  return read_request()\n"
        + "end"
    )
    return {
        A: student + call("GET", some, bearer),
        B: student + call("GET", some + ' .. "/courses"', bearer),
        "c deep pages": student
        + "local cursors = {"
        + cursors
        + "}\n"
        + call("GET", '"/students?cursor=" .. cursors[math.random(#cursors)]', bearer),
        "c first page": call("GET", '"/students"', bearer),
        f"c page {last_page}": call("GET", deep_page, bearer),
        RUSH: student + rush + put_rush,
        WAITLIST_RUSH: student + queued + put_rush,
        PLENTY_RUSH: student + plenty + put_rush,
        MIXED: student + courses + mixed,
    }


def pgbench_rate(url: str, data: Dataset, seconds: float, clients: int) -> float:
    """Postgres's own rate for scenario (a)'s statement, as the service runs it."""
    statement = _statement((SQL_DIR / "students.sql").read_text(), "select-student-with-courses")
    script = f"\\set student_id random({data.min_student_id}, {data.max_student_id})\n"
    script += " ".join(statement.split()) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    output = subprocess.run(
        [
            shutil.which("pgbench") or "/usr/bin/pgbench",
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(max(1, int(seconds))),
            "-f",
            file.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(file.name).unlink()
    tps = [line for line in output.splitlines() if line.startswith("tps =")][-1]
    return float(tps.split()[2])


def _statement(source: str, name: str) -> str:
    body = source.split(f"-- name: {name}\n", 1)[1].split("-- name:", 1)[0]
    return "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip()


def start_reference(url: str, workers: int, log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.load.reference:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--no-proxy-headers",  # as the service runs
        ],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        cwd=PROJECT,  # where `python -m uvicorn` finds tests.load.reference, wherever this runs
        stdout=(log_dir / "reference.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    # As long as the service is given (tests/support/running_service.py): a loaded machine once took
    # over the 10 s this waited before.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{base}/students/1")
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()  # not left running when the harness gives up on it
    process.wait(timeout=30)
    log = (log_dir / "reference.log").read_text(errors="replace")[-2000:]
    raise RuntimeError(f"the reference app did not start; its log ends:\n{log}")


def worker_processes(pid: int) -> list[psutil.Process]:
    """uvicorn's worker processes (not multiprocessing's resource tracker), or the one process."""
    parent = psutil.Process(pid)
    spawned = [c for c in parent.children() if "spawn_main" in " ".join(c.cmdline())]
    return spawned or [parent]


@dataclass(frozen=True)
class Target:
    """A server under load: where it listens and, when it runs here, its worker processes;
    and what runs beside each load of it (the rush's feed follower)."""

    url: str
    workers: list[psutil.Process] = field(default_factory=list)
    beside: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext

    def cpu_seconds(self) -> float:
        return sum(t.user + t.system for t in (w.cpu_times() for w in self.workers))


def measure(target: Target, lua: str, args: argparse.Namespace) -> wrk.Result:
    """One wrk run, with the server's CPU time per request when its workers are known."""
    before = target.cpu_seconds()
    with target.beside():
        result = wrk.run(target.url, lua, seconds=args.seconds, connections=args.connections)
    if target.workers and result.requests:
        cpu_ms = (target.cpu_seconds() - before) * 1000 / result.requests
        result = dataclasses.replace(result, server_cpu_ms=cpu_ms)
    return result


def warm_up(target: Target, lua: str, args: argparse.Namespace) -> None:
    """Fill the pools and the statement caches first: a cold start is not the steady state."""
    wrk.run(target.url, lua, seconds=1 if args.smoke else 3, connections=args.connections)


def print_table(results: dict[str, wrk.Result]) -> None:
    columns = ("req/s", "p50 ms", "p90 ms", "p99 ms", "CPU ms")
    print(f"{'scenario':28}" + "".join(f"{c:>9}" for c in columns) + f"  {'non-2xx':20} errors")
    for name, r in results.items():
        non_2xx = ", ".join(f"{s}: {n}" for s, n in r.non_2xx.items()) or "-"
        cpu = "-" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        figures = f"{r.rate:9.0f}{r.p50_ms:9.2f}{r.p90_ms:9.2f}{r.p99_ms:9.2f}{cpu:>9}"
        print(f"{name:28}{figures}  {non_2xx:20} {r.errors}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=500)
    parser.add_argument("--enrollments", type=int, default=50_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 students")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,  # a single round's a / reference ranged 0.78-3.24 in 15 rounds of one day
        help="alternating runs of (a) and the reference",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny run, seconds in all")
    parser.add_argument(
        "--target-url", help="load a service already running on 127.0.0.1 (compose's loadtest)"
    )
    parser.add_argument("--database-url", help="with --target-url: its database, to seed")
    parser.add_argument(
        "--compare",
        metavar="CHECKOUT",
        help="only --scenario, on this service and on CHECKOUT's (another copy of the project)",
    )
    parser.add_argument("--scenario", default=A, help="for --compare")
    parser.add_argument(
        "--replica",
        action="store_true",
        help="only (a) reading from a streaming replica against from the primary, and (e)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=1_000_000,
        metavar="N",
        help="only (a) at --students and at N students (1M), side by side, and (c) at N",
    )
    parser.add_argument(
        "--token",
        action="store_true",
        help="only (a) sent with an OAuth access token against (a) with an API key",
    )
    parser.add_argument(
        "--rush",
        action="store_true",
        help="only the three rushes (d), on the service and on the lean rush, side by side",
    )
    parser.add_argument(
        "--webhooks",
        action="store_true",
        help="only the rushes (d) with no subscriber against one (a local receiver), and the"
        " delivery lag",
    )
    parser.add_argument(
        "--oneroster",
        action="store_true",
        help="only OneRoster: /users read in pages of 100 from the first to the last (1M"
        " students unless --smoke), and a page of /users against GET /students?limit=100",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="only (a) with span export off, and on with 1%% and all of the traces sampled",
    )
    parser.add_argument(
        "--soak",
        type=int,
        metavar="N",
        help="only serve N requests of scenario (a) and print each worker's RSS at N/10 and N",
    )
    args = parser.parse_args()
    if args.million:
        args.students, args.enrollments = 1_000_000, 5_000_000
    if args.oneroster and not args.smoke:
        args.students = 1_000_000
    if args.smoke:
        args.students, args.courses, args.enrollments = 500, 20, 2_000
        args.seconds, args.connections, args.rounds = 1, 8, 1
    return args


def drive(
    target: Target, data: Dataset, args: argparse.Namespace, done: Iterable[str] = ()
) -> dict[str, wrk.Result]:
    """Every scenario once, in order, but those already in `done`."""
    return {
        name: measure(target, lua, args)
        for name, lua in scenarios(data).items()
        if name not in done
    }


def seeded(url: str, args: argparse.Namespace) -> Dataset:
    started = time.monotonic()
    data = seed(url, students=args.students, courses=args.courses, enrollments=args.enrollments)
    print(
        f"seeded {data.students} students, {data.courses} courses, {data.enrollments} "
        f"enrollments in {time.monotonic() - started:.1f}s; {args.connections} connections, "
        f"{args.seconds}s per scenario"
    )
    return data


@contextlib.contextmanager
def service_on(
    server: str, args: argparse.Namespace, logs: Path, **more: str
) -> Iterator[tuple[str, Dataset, RunningService]]:
    """A fresh migrated, seeded database on `server` and the service on it (all middleware
    on, and `more` settings); the service is stopped and the database dropped afterwards."""
    with scratch_database(server, "load") as url:
        apply_migrations(url)
        data = seeded(url, args)
        service = start_service(url, args, logs, None, **more)
        try:
            yield url, data, service
        finally:
            service.stop()


def start_service(
    url: str, args: argparse.Namespace, logs: Path, checkout: Path | None = None, **more: str
) -> RunningService:
    """The service on `url` with all its middleware on: access log, metrics, API keys;
    `checkout`'s copy of it when given; `more` settings."""
    env = {
        "DATABASE_URL": url,
        "WORKERS": str(args.workers),
        "MIGRATE_ON_START": "false",
        "API_KEYS": f"load:{KEY}:read+write",
        "LOG_LEVEL": "info",
        **more,
    }
    if checkout is None:
        return RunningService(logs, **env)
    return RunningService.of_checkout(checkout, logs, **env)


@contextlib.contextmanager
def seeded_service(
    args: argparse.Namespace, **more: str
) -> Iterator[tuple[str, Dataset, RunningService]]:
    """service_on() a Postgres of its own, with a log directory for the service."""
    with (
        postgres_server() as server,
        tempfile.TemporaryDirectory() as logs,
        service_on(server, args, Path(logs), **more) as running,
    ):
        yield running


Load = tuple[Target, str]  # a server and the Lua script to load it with
Rounds = list[list[wrk.Result]]  # per round, a result per load
ScenarioRounds = list[dict[str, wrk.Result]]  # per round, a result per scenario name


def alternate(
    loads: list[Load],
    args: argparse.Namespace,
    before_each: Callable[[], None] = lambda: None,
) -> Rounds:
    """`args.rounds` runs of each load, in the order given and reversed every other round, so
    that none always runs on a warmer machine (its load drifts between runs) and neighbours
    stay neighbours: per round, the results in the order of `loads`. `before_each` runs
    before every run (to put the data back as it was)."""
    rounds = []
    for number in range(args.rounds):
        order = range(len(loads)) if number % 2 else reversed(range(len(loads)))
        results: dict[int, wrk.Result] = {}
        for index in order:
            before_each()
            results[index] = measure(*loads[index], args)
        rounds.append([results[index] for index in range(len(loads))])
    return rounds


def median_round(results: list[wrk.Result]) -> wrk.Result:
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


SIDE_BY_SIDE_ROUNDS = 3


def conditional_ratio(target: Target, data: Dataset, args: argparse.Namespace) -> list[float]:
    """Per round, the rate of GETs of one student answered 304 (If-None-Match naming its
    current ETag) over that of the same GETs answered 200, side by side."""
    path = f"/students/{data.min_student_id}"
    tag = httpx.get(target.url + path, headers=HEADERS).headers["etag"]
    plain = call("GET", f'"{path}"')
    # The tag is a quoted hex string: in single quotes it is a Lua string as it is.
    headers = '{["Authorization"] = "Bearer ' + KEY + '", ["If-None-Match"] = ' + f"'{tag}'}}"
    conditional = f'function request() return wrk.format("GET", "{path}", {headers}) end'
    loads = [(target, plain), (target, conditional)]
    fewer = argparse.Namespace(**{**vars(args), "rounds": min(args.rounds, SIDE_BY_SIDE_ROUNDS)})
    rounds = alternate(loads, fewer)
    assert all(set(ok.statuses) == {200} for ok, _ in rounds), "the 200s moved"
    assert all(set(not_modified.statuses) == {304} for _, not_modified in rounds), "not 304"
    return [not_modified.rate / ok.rate for ok, not_modified in rounds]


BATCH_COURSES, BATCH_STUDENTS, BATCH_CONNECTIONS = 200, 50, 4
# One request: 50 students from `first` into 10 courses from the `course`th, 500 new pairs.
COHORT_BATCH = """
function request()
  local first, course = math.random(low, high), math.random(#courses - 10)
  local pairs = {}
  for s = first, first + 49 do
    for c = course, course + 9 do
      pairs[#pairs + 1] = '{"student_id":' .. s .. ',"course_id":' .. courses[c] .. '}'
    end
  end
  local body = '{"items":[' .. table.concat(pairs, ',') .. ']}'
  return wrk.format("POST", "/enrollments/batch", HEADERS, body)
end
"""


def batch_ratio(target: Target, url: str, data: Dataset, args: argparse.Namespace) -> list[float]:
    """Per round, the p50 of a 500-pair non-atomic batch (COHORT_BATCH) over the p50 of a
    single PUT, side by side at a few connections, each enrolling new pairs in courses
    without a limit (emptied before each run)."""
    with psycopg.connect(url, autocommit=True) as conn:
        course_ids = [
            row[0]
            for row in conn.execute(
                "INSERT INTO courses (code, title, capacity) "
                "SELECT 'BATCH-' || g, 'Batch', NULL FROM generate_series(1, %s) AS g "
                "RETURNING id",
                (BATCH_COURSES,),
            )
        ]
    pick = (
        f"local low, high = {data.min_student_id}, {data.max_student_id - BATCH_STUDENTS}\n"
        + "local courses = {"
        + ", ".join(map(str, course_ids))
        + "}\n"
        + SEED_RANDOM
    )
    single = pick + call(
        "PUT",
        '"/students/" .. math.random(low, high) .. "/courses/" .. courses[math.random(#courses)]',
    )
    headers = AUTH[:-1] + ', ["Content-Type"] = "application/json"}'
    cohort = pick + COHORT_BATCH.replace("HEADERS", headers)

    def empty_courses() -> None:
        time.sleep(0.5)  # requests still in flight from the run before
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM student_courses WHERE course_id = ANY(%s)", (course_ids,))

    few = argparse.Namespace(
        **{
            **vars(args),
            "rounds": min(args.rounds, SIDE_BY_SIDE_ROUNDS),
            "connections": BATCH_CONNECTIONS,
        }
    )
    rounds = alternate([(target, single), (target, cohort)], few, empty_courses)
    assert all(set(put.statuses) <= {200, 201} for put, _ in rounds), "a PUT was refused"
    assert all(set(batch.statuses) == {200} for _, batch in rounds), "a batch was refused"
    return [batch.p50_ms / put.p50_ms for put, batch in rounds]


@dataclass(frozen=True)
class Beside:
    """The service and the reference app loaded side by side: the service's target, the same
    with the rush's change-feed consumer beside it (tests/load/feed.py), the reference's, and
    that consumer."""

    ours: Target
    followed: Target
    reference: Target
    follower: FeedFollower


@contextlib.contextmanager
def beside_reference(
    url: str, data: Dataset, service: RunningService, args: argparse.Namespace
) -> Iterator[Beside]:
    """The reference app started on `url` beside the running service, and stopped after."""
    reference_process, reference_url = start_reference(url, args.workers, service.log.parent)
    ours = Target(service.url, worker_processes(service.process.pid))
    follower = FeedFollower(service.url, HEADERS, probe_student_id=data.max_student_id)
    try:
        yield Beside(
            ours,
            dataclasses.replace(ours, beside=follower.following),
            Target(reference_url, worker_processes(reference_process.pid)),
            follower,
        )
    finally:
        reference_process.terminate()
        reference_process.wait(timeout=30)


def run_native(
    args: argparse.Namespace,
) -> tuple[dict[str, wrk.Result], ScenarioRounds, float, str, FeedFollower, dict[str, list[float]]]:
    """Seed a fresh database, start the service and the reference beside it, load both:
    the targets' scenarios in alternating rounds (ROUND_SCENARIOS), then the others once,
    then the ratios measured side by side (per round: a 304 against a 200, a batch against a
    PUT)."""
    with seeded_service(args) as (url, data, service):
        lua = scenarios(data)
        # Each rush starts with empty courses; what the one before left is checked first.
        checks: list[str] = []

        def check_and_empty_rush() -> None:
            checks.append(url_check(url))
            empty_rush(url, data)

        with beside_reference(url, data, service, args) as beside:
            ours, followed, reference = beside.ours, beside.followed, beside.reference
            warm_up(ours, lua[A], args)
            warm_up(reference, lua[A], args)
            # In this order (reversed every other round): (a) runs next to the reference and
            # next to (d), so each ratio compares runs made close together.
            loads = {
                REFERENCE: (reference, lua[A]),
                A: (ours, lua[A]),
                RUSH: (followed, lua[RUSH]),
                WAITLIST_RUSH: (ours, lua[WAITLIST_RUSH]),
                B: (ours, lua[B]),
            }
            rounds = [
                dict(zip(loads, r, strict=True))
                for r in alternate(list(loads.values()), args, check_and_empty_rush)
            ]
            results = {name: median_round([r[name] for r in rounds]) for name in ROUND_SCENARIOS}
            results |= drive(ours, data, args, done=results)
            side_by_side = {
                "one student's GETs: 304 rate / 200 rate": conditional_ratio(ours, data, args),
                "500-pair batch p50 / single PUT p50": batch_ratio(ours, url, data, args),
            }
        rate = pgbench_rate(url, data, args.seconds, clients=16)
        checks.append(url_check(url))
        check = next((c for c in checks if not consistent(c)), checks[-1])
        return results, rounds, rate, check, beside.follower, side_by_side


def url_check(url: str, schema: str = "public") -> str:
    over, miscounted = overbooked(url, schema)
    where = "" if schema == "public" else f" (in {schema})"
    return (
        f"{over} courses over capacity, {miscounted} with a wrong count or a seat free while "
        f"someone waits{where}"
    )


def consistent(check: str) -> bool:
    return check.startswith("0 courses over capacity, 0 ")


def report(
    results: dict[str, wrk.Result],
    rounds: ScenarioRounds,
    database_rate: float | None,
    check: str,
    follower: FeedFollower | None = None,
    side_by_side: dict[str, list[float]] | None = None,
) -> None:
    """The table, then the targets' figures. With rounds (ROUND_SCENARIOS side by side), a
    figure is the median of the rounds' own, which are listed: one run's p99 in particular
    swings with this machine's noise."""
    print_table(results)
    runs = [(f"{name}, round {i + 1}", r) for i, rs in enumerate(rounds) for name, r in rs.items()]
    runs += results.items()
    rounds = rounds or [results]  # --target-url: each scenario once, and no reference
    with_reference = REFERENCE in results
    if database_rate:
        print(f"pgbench, a's statement: {database_rate:.0f} tps")
    ratios = [figure("d / a", [r[RUSH].rate / r[A].rate for r in rounds])]
    if WAITLIST_RUSH in results:
        waitlisted = [r[WAITLIST_RUSH].rate / r[RUSH].rate for r in rounds]
        ratios.append(figure("d with waitlists / d", waitlisted))
    if with_reference:
        ratios.insert(
            0, figure("a / lean reference", [r[A].rate / r[REFERENCE].rate for r in rounds])
        )
        cpu = [ours / lean for ours, lean in cpu_times(rounds)]
        if cpu:
            ratios.insert(1, figure("CPU per request a / reference", cpu))
    if database_rate:
        ratios.insert(1, f"a / pgbench = {results[A].rate / database_rate:.2f}")
    print("ratios: " + "; ".join(ratios))
    for name in (A, B, REFERENCE) if with_reference else (A, B):
        print(figure(f"p99 / p50 for {name}", [tail(r[name]) for r in rounds], 1))
    if follower is not None:
        print(feed_latency(follower))
    for name, ratios_by_round in (side_by_side or {}).items():
        print(figure(name, ratios_by_round))
    deep = next(r for n, r in results.items() if n.startswith("c page"))
    print(f"deep page p50 / first page p50: {deep.p50_ms / results['c first page'].p50_ms:.2f}")
    print(f"after the rush: {check}")
    failed = [name for name, r in runs if r.errors or any(s >= 500 for s in r.statuses)]
    missed = follower.missed if follower is not None else 0
    if not consistent(check) or failed or missed:
        sys.exit(f"FAILED: {check}; 5xx or socket errors in {failed}; {missed} probes missed")


def feed_latency(follower: FeedFollower) -> str:
    """The change feed's probe latency during the rushes the follower ran beside."""
    p50s, p99s = feed.summary(follower)
    probes = sum(len(run) for run in follower.runs)
    return (
        "change feed, commit to a long-polling reader during the rush: "
        + figure("p50 ms", p50s, 1)
        + "; "
        + figure("p99 ms", p99s, 1)
        + f"; {probes} probes seen, {follower.missed} missed"
    )


def figure(name: str, values: list[float], places: int = 2) -> str:
    """`name = value`, or with several rounds their median and each: every figure the
    harness prints from rounds, in one form."""
    if len(values) == 1:
        return f"{name} = {values[0]:.{places}f}"
    rounds = ", ".join(f"{value:.{places}f}" for value in values)
    return f"{name} = {statistics.median(values):.{places}f} (rounds: {rounds})"


def cpu_times(rounds: ScenarioRounds) -> list[tuple[float, float]]:
    """(a)'s and the reference's server CPU per request in each round where both were known."""
    times = [(r[A].server_cpu_ms, r[REFERENCE].server_cpu_ms) for r in rounds]
    return [(ours, lean) for ours, lean in times if ours and lean]


def tail(result: wrk.Result) -> float:
    return result.p99_ms / result.p50_ms


def soak(args: argparse.Namespace) -> None:
    """Each worker's resident memory after N/10 and after N requests: a leak shows as growth."""
    with seeded_service(args) as (_, data, service):
        workers = worker_processes(service.process.pid)
        lua = scenarios(data)[A]
        served, marks = 0, {}
        for mark in (args.soak // 10, args.soak):
            while served < mark:
                served += wrk.run(
                    service.url, lua, seconds=10, connections=args.connections
                ).requests
            marks[mark] = [w.memory_info().rss / 2**20 for w in workers]
            print(f"after {served} requests: worker RSS MiB {[round(m, 1) for m in marks[mark]]}")
    first, last = marks.values()
    growth = [f"{(b - a) / a:+.1%}" for a, b in zip(first, last, strict=True)]
    print(f"RSS change per worker from {args.soak // 10} to {args.soak} requests: {growth}")


def scale(args: argparse.Namespace) -> None:
    """Scenario (a) on `args.students` and on `args.scale` students (two databases on one
    server, a service on each, alternating rounds), then the first and the deepest page
    (up to the 1,000th) of (c) on the larger: how latency grows with the data."""
    larger = {"students": args.scale, "enrollments": 5 * args.scale}
    bigger = argparse.Namespace(**{**vars(args), **larger})
    with (
        postgres_server() as server,
        tempfile.TemporaryDirectory() as logs,
        service_on(server, args, Path(logs)) as (_, small_data, small_service),
        service_on(server, bigger, Path(logs)) as (_, big_data, big_service),
    ):
        small = Target(small_service.url, worker_processes(small_service.process.pid))
        big = Target(big_service.url, worker_processes(big_service.process.pid))
        small_load, big_load = (
            (small, scenarios(small_data)[A]),
            (big, scenarios(big_data)[A]),
        )
        warm_up(*small_load, args)
        warm_up(*big_load, args)
        rounds = alternate([big_load, small_load], args)
        small_name, big_name = f"{small_data.students:,}", f"{big_data.students:,}"
        results = {
            f"a at {small_name} students": median_round([r[1] for r in rounds]),
            f"a at {big_name} students": median_round([r[0] for r in rounds]),
        }
        pages = scenarios(big_data)
        deep_page = next(name for name in pages if name.startswith("c page"))
        first = results[f"c first page at {big_name}"] = measure(big, pages["c first page"], args)
        deep = results[f"{deep_page} at {big_name}"] = measure(big, pages[deep_page], args)
    print_table(results)
    ratios = [at_big.p50_ms / at_small.p50_ms for at_big, at_small in rounds]
    print(figure(f"p50 of a at {big_name} / at {small_name} students", ratios))
    print(f"{deep_page} p50 / first page p50: {deep.p50_ms / first.p50_ms:.2f}")


def compare(args: argparse.Namespace) -> None:
    """One scenario on this checkout's service and on `args.compare`'s (another checkout,
    e.g. `git worktree add /tmp/before HEAD~1`), both on one seeded database, alternating
    rounds: the way to tell whether a change made the service faster on a noisy machine."""
    with seeded_service(args) as (url, data, service):
        other = start_service(url, args, service.log.parent, Path(args.compare))
        try:
            lua = scenarios(data)[args.scenario]
            this = Target(service.url, worker_processes(service.process.pid))
            that = Target(other.url, worker_processes(other.process.pid))
            warm_up(this, lua, args)
            warm_up(that, lua, args)
            rounds = alternate([(this, lua), (that, lua)], args, lambda: empty_rush(url, data))
        finally:
            other.stop()
    print_table(
        {
            "this checkout": median_round([r[0] for r in rounds]),
            f"other: {Path(args.compare).name}"[:28]: median_round([r[1] for r in rounds]),
        }
    )
    for name, attribute in (("req/s", "rate"), ("CPU per request", "server_cpu_ms")):
        ratios = [getattr(a, attribute) / getattr(b, attribute) for a, b in rounds]
        print(figure(f"{name}, this / other", ratios))


RUSHES = (RUSH, PLENTY_RUSH, WAITLIST_RUSH)


def rushes_against_lean(args: argparse.Namespace) -> None:
    """The three rushes on the service (its feed's consumer beside it) and on the lean rush
    (tests/load/lean_rush.py) served by the reference app, on one seeded database, in
    alternating rounds; each run starts with empty courses, and each run's seats are
    audited on both sides before they are emptied."""
    with seeded_service(args) as (url, data, service):
        lean_rush.make_copy(url, data)
        lua = scenarios(data)
        checks: list[str] = []

        def audit_and_empty() -> None:
            checks.extend((url_check(url), url_check(url, lean_rush.SCHEMA)))
            empty_rush(url, data)
            lean_rush.empty(url, data)

        results: dict[str, wrk.Result] = {}
        ratios: dict[str, list[float]] = {}
        with beside_reference(url, data, service, args) as beside:
            followed, lean, follower = beside.followed, beside.reference, beside.follower
            warm_up(beside.ours, lua[A], args)
            warm_up(lean, lua[A], args)
            for name in RUSHES:
                rounds = alternate(
                    [(followed, lua[name]), (lean, lua[name])], args, audit_and_empty
                )
                results[name] = median_round([service_run for service_run, _ in rounds])
                results[f"{name}, lean"] = median_round([lean_run for _, lean_run in rounds])
                ratios[name] = [mine.rate / bare.rate for mine, bare in rounds]
            audit_and_empty()
    print_table(results)
    for name, values in ratios.items():
        print(figure(f"{name} req/s, service / lean", values))
    print(feed_latency(follower))
    check = next((c for c in checks if not consistent(c)), checks[-1])
    print(f"after the rushes: {check}")
    failed = [n for n, r in results.items() if r.errors or any(s >= 500 for s in r.statuses)]
    if not consistent(check) or failed or follower.missed:
        sys.exit(f"FAILED: {check}; 5xx or socket errors in {failed}")


WEBHOOK_RUSHES = (RUSH, PLENTY_RUSH)


def rushes_with_a_subscriber(args: argparse.Namespace) -> None:
    """The registration rush and the plenty rush on one service, with no webhook subscriber
    and with one (every entity, to a local receiver answering 200: tests/load/webhooks.py),
    the probes written beside both,
    in alternating rounds; each run starts with empty courses, audited first. Prints each
    ratio and the delivery lag (commit to the receiver's 200) during the subscribed runs."""
    settings = {
        "WEBHOOK_ALLOWED_HOSTS": webhooks.RECEIVER_HOST,
        "API_KEYS": f"load:{KEY}:read+write+admin",
    }
    with seeded_service(args, **settings) as (url, data, service):
        lua = scenarios(data)
        checks: list[str] = []

        def audit_and_empty() -> None:
            checks.append(url_check(url))
            empty_rush(url, data)

        results: dict[str, wrk.Result] = {}
        ratios: dict[str, list[float]] = {}
        probe = data.max_student_id
        with webhooks.subscribed(service.url, HEADERS, probe) as follower:
            # Both sides write the probes; only the subscribed side has them delivered.
            alone = Target(
                service.url, worker_processes(service.process.pid), beside=follower.probing
            )
            subscribed = dataclasses.replace(alone, beside=follower.following)
            warm_up(alone, lua[A], args)
            for name in WEBHOOK_RUSHES:
                rounds = alternate(
                    [(alone, lua[name]), (subscribed, lua[name])], args, audit_and_empty
                )
                results[name] = median_round([without for without, _ in rounds])
                results[f"{name}, subscribed"] = median_round([with_one for _, with_one in rounds])
                ratios[name] = [with_one.rate / without.rate for without, with_one in rounds]
            audit_and_empty()
    print_table(results)
    for name, values in ratios.items():
        print(figure(f"{name} req/s, subscribed / not", values))
    p50s, p99s = feed.summary(follower)
    print(
        f"delivery lag, commit to the receiver's 200 (ms, per subscribed run): p50 "
        f"{', '.join(f'{v:.1f}' for v in p50s)}; p99 {', '.join(f'{v:.1f}' for v in p99s)}; "
        f"{follower.missed} probes never delivered; {follower.delivered} deliveries"
    )
    check = next((c for c in checks if not consistent(c)), checks[-1])
    print(f"after the rushes: {check}")
    failed = [n for n, r in results.items() if r.errors or any(s >= 500 for s in r.statuses)]
    # A probe not delivered within the catch-up time is lag, reported above, not a loss
    # (the tests hold deliveries to nothing lost).
    if not consistent(check) or failed:
        sys.exit(f"FAILED: {check}; 5xx or socket errors in {failed}")


ROSTER_USERS = "/ims/oneroster/rostering/v1p2/users"
EDGE_PAGES = 10


def oneroster_paging(args: argparse.Namespace) -> None:
    """OneRoster's /users read in order in pages of 100, as an LMS syncing reads it, from
    offset 0 to the end: the median latency of the last EDGE_PAGES pages against the first
    (the resume points keep it flat). Then the first page of /users against GET
    /students?limit=100 under wrk, in alternating rounds: what the mapping costs."""
    with seeded_service(args) as (url, data, service):
        # The seed's million changes numbered first, as a feed in use has them: else the
        # first pages would each number a batch of them.
        # And the tables analyzed, as autovacuum leaves them: a plan made before is no plan for
        # a table of a million rows.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT sequence_changes(2147483647)")
            conn.execute("ANALYZE")
        latencies: list[float] = []
        with httpx.Client(base_url=service.url, headers=HEADERS, timeout=60) as client:
            for _ in range(2 * args.workers):  # each worker's pool and count, warm
                client.get(ROSTER_USERS, params={"limit": 100}).raise_for_status()
            offset, total = 0, 1
            while offset < total:
                started = time.perf_counter()
                page = client.get(ROSTER_USERS, params={"limit": 100, "offset": offset})
                latencies.append((time.perf_counter() - started) * 1000)
                page.raise_for_status()
                total = int(page.headers["x-total-count"])
                offset += len(page.json()["users"])
        assert offset == data.students, f"read {offset} users of {data.students}"
        target = Target(service.url, worker_processes(service.process.pid))
        roster_page = call("GET", f'"{ROSTER_USERS}?limit=100"')
        students_page = call("GET", '"/students?limit=100"')
        warm_up(target, roster_page, args)
        warm_up(target, students_page, args)
        rounds = alternate([(target, students_page), (target, roster_page)], args)
    first = statistics.median(latencies[:EDGE_PAGES])
    last = statistics.median(latencies[-EDGE_PAGES:])
    print(
        f"/users read in order: {len(latencies)} pages of 100 of {data.students:,} students;"
        f" median ms of the first {EDGE_PAGES} = {first:.2f}, of the last {EDGE_PAGES} ="
        f" {last:.2f}; last / first = {last / first:.2f}"
    )
    print_table(
        {
            "GET /students?limit=100": median_round([r[0] for r in rounds]),
            "OneRoster /users?limit=100": median_round([r[1] for r in rounds]),
        }
    )
    print(figure("/users page req/s / /students page req/s", [r.rate / s.rate for s, r in rounds]))
    failed = [r for pair in rounds for r in pair if r.errors or set(r.statuses) != {200}]
    if failed:
        sys.exit("FAILED: errors or answers other than 200")


def tokens_against_keys(args: argparse.Namespace) -> None:
    """(a) with an OAuth access token against (a) with an API key, on one service with both
    on (the key set from a file), in alternating rounds. One RS256 token, as a client
    reuses its token until it expires."""
    signing_key = rsa_key()
    with (
        postgres_server() as server,
        tempfile.TemporaryDirectory() as directory,
    ):
        jwks = Path(directory) / "jwks.json"
        jwks.write_bytes(KeyEndpoint([signing_key]).key_set())
        oauth = {"OAUTH_ISSUER": ISSUER, "OAUTH_AUDIENCE": AUDIENCE, "OAUTH_JWKS_FILE": str(jwks)}
        with service_on(server, args, Path(directory), **oauth) as (_, data, service):
            target = Target(service.url, worker_processes(service.process.pid))
            with_token = scenarios(data, bearer=mint(signing_key))[A]
            with_key = scenarios(data)[A]
            warm_up(target, with_token, args)
            warm_up(target, with_key, args)
            rounds = alternate([(target, with_token), (target, with_key)], args)
    print_table(
        {
            "a with a token": median_round([r[0] for r in rounds]),
            "a with an API key": median_round([r[1] for r in rounds]),
        }
    )
    print(figure("a req/s, token / key", [token.rate / key.rate for token, key in rounds]))
    print(figure("a p99, token / key", [token.p99_ms / key.p99_ms for token, key in rounds]))
    if any(set(result.statuses) != {200} for pair in rounds for result in pair):
        sys.exit("FAILED: a request was not answered 200")


SAMPLED_SHARES = ("0.01", "1.0")


def tracing_cost(args: argparse.Namespace) -> None:
    """(a) on three services on one seeded database, in alternating rounds: span export off,
    and on (to an OTLP/HTTP sink in this process) with parentbased_traceidratio at 0.01
    and at 1.0."""
    with (
        seeded_service(args) as (url, data, off),
        OtlpReceiver(decode=False).serving() as sink,
    ):
        logs = off.log.parent
        on = [
            start_service(
                url,
                args,
                logs,
                OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
                OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                OTEL_TRACES_SAMPLER_ARG=share,
            )
            for share in SAMPLED_SHARES
        ]
        try:
            lua = scenarios(data)[A]
            targets = [Target(s.url, worker_processes(s.process.pid)) for s in (off, *on)]
            for target in targets:
                warm_up(target, lua, args)
            rounds = alternate([(target, lua) for target in targets], args)
        finally:
            for service in on:
                service.stop()
    names = ["a, export off", *(f"a, export on, {share} sampled" for share in SAMPLED_SHARES)]
    print_table({name: median_round([r[i] for r in rounds]) for i, name in enumerate(names)})
    for index, share in enumerate(SAMPLED_SHARES, 1):
        ratios = [r[index].rate / r[0].rate for r in rounds]
        print(figure(f"a req/s, export on at {share} / off", ratios))
    print(f"spans received by the sink: {sink.received_bytes} bytes in {sink.exports} exports")
    if any(set(result.statuses) != {200} for r in rounds for result in r):
        sys.exit("FAILED: a request was not answered 200")


def reads_by_target(url: str) -> dict[str, float]:
    """`db_reads_total` from the service's /metrics, by target (primary, replica-1, ...)."""
    text = httpx.get(f"{url}/metrics").text
    pattern = r'^db_reads_total\{target="([^"]+)"\} (\S+)$'
    return {target: float(n) for target, n in re.findall(pattern, text, re.MULTILINE)}


def replicated(args: argparse.Namespace) -> None:
    """On a primary and a streaming replica of it (tests/support/replication.py), one seeded
    database: (a) on a service reading from the replica against one reading from the
    primary, in alternating rounds; then the mixed scenario (e) on the first, with the share
    of its reads the replica served (no request sends a consistency token)."""
    with (
        tempfile.TemporaryDirectory() as root,
        tempfile.TemporaryDirectory() as logs,
    ):
        Path(root).chmod(0o755)  # the replica's Postgres runs as another user
        with (
            primary_and_replica(Path(root)) as (server, replica),
            service_on(server, args, Path(logs)) as (url, data, on_primary),
        ):
            replica_url = replica.url(urlsplit(url).path.lstrip("/"))
            on_replica = start_service(url, args, Path(logs), DATABASE_REPLICA_URLS=replica_url)
            try:
                lua = scenarios(data)
                reading_replica = Target(on_replica.url, worker_processes(on_replica.process.pid))
                reading_primary = Target(on_primary.url, worker_processes(on_primary.process.pid))
                warm_up(reading_replica, lua[A], args)
                warm_up(reading_primary, lua[A], args)
                rounds = alternate([(reading_replica, lua[A]), (reading_primary, lua[A])], args)
                before = reads_by_target(on_replica.url)
                mixed = measure(reading_replica, lua[MIXED], args)
                time.sleep(1.5)  # the workers add their counts to /metrics every second
                after = reads_by_target(on_replica.url)
            finally:
                on_replica.stop()
    print_table(
        {
            "a, reads on the replica": median_round([r[0] for r in rounds]),
            "a, reads on the primary": median_round([r[1] for r in rounds]),
            "e, reads on the replica": mixed,
        }
    )
    print(figure("a req/s, replica / primary", [a.rate / b.rate for a, b in rounds]))
    print(figure("a p99, replica / primary", [a.p99_ms / b.p99_ms for a, b in rounds]))
    served = {target: after[target] - before.get(target, 0) for target in after}
    share = served.get("replica-1", 0) / max(1, sum(served.values()))
    print(f"share of e's reads served by the replica: {share:.2f} of {sum(served.values()):.0f}")
    failed = [r for pair in rounds for r in pair if r.errors or any(s >= 500 for s in r.statuses)]
    if failed or mixed.errors or any(s >= 500 for s in mixed.statuses):
        sys.exit("FAILED: 5xx or socket errors")


def empty_rush(url: str, data: Dataset) -> None:
    """Free the rush courses' seats, once requests still in flight from a run have ended."""
    time.sleep(1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM student_courses WHERE course_id = ANY(%s)",
            (data.every_rush_course_id,),
        )


def main() -> None:
    # Stopped with SIGTERM, exit normally so the embedded Postgres is stopped and deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    args = arguments()
    if warning := autogroup_warning():
        print(warning)
    if args.soak:
        soak(args)
    elif args.scale:
        scale(args)
    elif args.compare:
        compare(args)
    elif args.replica:
        replicated(args)
    elif args.token:
        tokens_against_keys(args)
    elif args.rush:
        rushes_against_lean(args)
    elif args.webhooks:
        rushes_with_a_subscriber(args)
    elif args.oneroster:
        oneroster_paging(args)
    elif args.tracing:
        tracing_cost(args)
    elif args.target_url:
        assert args.database_url, "--target-url needs --database-url, to seed"
        data = seeded(args.database_url, args)
        results = drive(Target(args.target_url), data, args)
        report(results, [], None, url_check(args.database_url))
    else:
        report(*run_native(args))


if __name__ == "__main__":
    main()
