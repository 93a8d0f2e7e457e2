"""The container path as a user runs it (README "Deploying", "Scaling out"): the image built
from the lock, the compose topologies started, on stand-ins for the upstream base images
(tests/containers/testbed.py). Each topology is torn down with its volumes afterwards."""

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.containers.conftest import Compose, previous_release
from tests.support.postgres import migration_ids
from tests.support.readme_examples import README, examples, normalized, run

IMAGE = "enrollment-service:current"


def docker_run(*args: str) -> str:
    return subprocess.run(
        ["docker", "run", "--rm", *args], check=True, capture_output=True, text=True
    ).stdout


def test_the_image_has_a_named_user_no_embedded_postgres_and_no_compiler(
    compose: Callable[..., Compose], standins: dict[str, str]
) -> None:
    compose()("build", "migrate")
    config = json.loads(
        subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).stdout
    )[0]
    assert config["Config"]["User"] == "10001:10001"
    checks = (
        "import getpass, importlib.util, shutil;"
        "print(getpass.getuser(), importlib.util.find_spec('pgserver'),"
        " [c for c in ('gcc', 'cc', 'clang') if shutil.which(c)])"
    )
    assert docker_run(IMAGE, "python", "-c", checks).split() == ["enrollment", "None", "[]"]
    print(f"image {IMAGE}: {config['Size'] / 1e6:.0f} MB on {standins['PYTHON_IMAGE']}")


def test_the_readme_upgrade_then_the_readme_examples_on_the_default_topology(
    compose: Callable[..., Compose], standins: dict[str, str], tmp_path: Path
) -> None:
    previous, newest = previous_release(tmp_path)
    subprocess.run(
        ["docker", "build", "--quiet", "--tag", "enrollment-service:previous",
         "--build-arg", f"PYTHON_IMAGE={standins['PYTHON_IMAGE']}", str(previous)],
        check=True, capture_output=True,
    )  # fmt: skip
    project = compose(tag="previous")
    # The README's outputs are one worker's: with two, /metrics has the other's counts only
    # after a second.
    project.env["WORKERS"] = "1"
    project("up", "--no-build", "-d")
    project.wait_healthy("api")
    assert f'"migration":"{newest}"' not in project.logs("migrate")

    # README "Deploying": build, `docker compose run --rm migrate`, `docker compose up -d api`.
    project.env["TAG"] = "current"
    project("build")
    migrated = project("run", "--rm", "migrate")
    assert f'"migration":"{newest}"' in migrated
    # The migrations the previous release lacks, applied now and only now (issue 32 added
    # three in one commit: a column, its index built concurrently, its CHECK validated).
    previous_migrations = [
        m for m in (previous / "migrations").glob("*.sql") if not m.name.endswith(".rollback.sql")
    ]
    pending = len(migration_ids()) - len(previous_migrations)
    assert f'"event":"migrations.applied","logger":"service","count":{pending}' in migrated
    project("up", "-d", "api")
    project.wait_healthy("api")
    assert project.inspect("api")["Config"]["Image"] == "enrollment-service:current"

    url = project.url("api")
    for example in examples(README.read_text(encoding="utf-8").splitlines()):
        assert normalized(run(example, url)) == normalized(example.output), example.command


def test_the_api_runs_read_only_as_its_user_and_stops_cleanly_answering_a_long_poll(
    compose: Callable[..., Compose],
) -> None:
    project = compose()
    project("up", "--build", "-d")
    project.wait_healthy("api")
    api = project.inspect("api")
    assert api["Config"]["User"] == "10001:10001"
    assert api["HostConfig"]["ReadonlyRootfs"] is True
    container = project.container("api")
    write = subprocess.run(["docker", "exec", container, "touch", "/app/x"], capture_output=True)
    assert b"Read-only file system" in write.stderr

    url = project.url("api")
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(httpx.get, f"{url}/changes?wait=30", timeout=40)  # an empty feed
        time.sleep(1)
        assert not poll.done()
        started = time.monotonic()
        project("stop", "api")  # SIGTERM, then SIGKILL after stop_grace_period (20 s)
        stopped_in = time.monotonic() - started
        answered = poll.result()
    assert answered.status_code == 200
    assert answered.json()["items"] == []
    state = project.inspect("api")["State"]
    assert state["ExitCode"] == 0, project.logs("api")
    assert stopped_in < 20, stopped_in
    print(f"docker stop with a long poll in flight: {stopped_in:.1f} s, exit 0")


async def race(urls: list[str], students: int, capacity: int) -> list[int]:
    """`students` concurrent enrollments into one course of `capacity`, sent across `urls`
    in turn; their statuses."""
    async with httpx.AsyncClient(timeout=60) as client:
        course = await client.post(
            f"{urls[0]}/courses", json={"code": "RACE1", "title": "Race", "capacity": capacity}
        )
        assert course.status_code == 201, course.text
        ids = []
        for n in range(students):
            body = {"first_name": "R", "last_name": f"{n}", "email": f"race{n}@example.edu"}
            created = await client.post(f"{urls[n % len(urls)]}/students", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        course_id = course.json()["id"]
        answers = await asyncio.gather(
            *(
                client.put(f"{urls[n % len(urls)]}/students/{sid}/courses/{course_id}")
                for n, sid in enumerate(ids)
            )
        )
        held = await client.get(f"{urls[1 % len(urls)]}/courses/{course_id}")
        assert held.json()["enrolled_count"] == capacity
        return [answer.status_code for answer in answers]


def test_three_api_replicas_behind_pgbouncer_never_overbook(
    compose: Callable[..., Compose],
) -> None:
    project = compose("scale")
    project("up", "--build", "-d", "--scale", "api-pooled=3")
    for index in (1, 2, 3):
        project.wait_healthy("api-pooled", index)
    urls = [project.url("api-pooled", index) for index in (1, 2, 3)]
    assert len(set(urls)) == 3

    statuses = asyncio.run(race(urls, students=90, capacity=10))

    assert statuses.count(201) == 10
    assert statuses.count(409) == 80


def test_the_replica_profile_comes_up_and_a_token_reads_its_write_with_replay_paused(
    compose: Callable[..., Compose],
) -> None:
    for _ in range(2):  # it came up unhealthy before: every try must come up
        project = compose("replica")
        project("up", "--build", "-d")
        project.wait_healthy("api-replicated")
        url = project.url("api-replicated")
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.edu"}
        student = httpx.post(f"{url}/students", json=body).json()
        path = f"{url}/students/{student['id']}"
        wait_until_found(path)  # on the replica too
        time.sleep(0.5)  # and the replica checks have seen where it is
        replica_sql(project, "SELECT pg_wal_replay_pause()")
        renamed = httpx.patch(path, json={"first_name": "Augusta"})
        token = renamed.headers["x-consistency-token"]

        read = httpx.get(path, headers={"X-Consistency-Token": token})

        assert read.json()["first_name"] == "Augusta"
        replica_sql(project, "SELECT pg_wal_replay_resume()")
        project.down()


def replica_sql(project: Compose, statement: str) -> None:
    project("exec", "-T", "postgres-replica", "psql", "-U", "enrollment", "-d", "enrollment",
            "-c", statement)  # fmt: skip


def wait_until_found(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while httpx.get(url).status_code != 200:
        assert time.monotonic() < deadline, f"{url} not found in {seconds} s"
        time.sleep(0.2)
