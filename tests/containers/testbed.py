"""The container test bed: Debian's Docker engine and docker-compose, and stand-ins for the
three upstream images the project names (python, postgres, pgbouncer), built locally since no
image registry is reachable here.

The stand-ins are tagged `enrollment-testbed/NAME:HASH` (HASH: of their build files), never
with an official name, and handed to the Dockerfile and the compose file through
PYTHON_IMAGE, POSTGRES_IMAGE and PGBOUNCER_IMAGE, whose defaults stay the official images.
What is built stays on the machine and is reused by the next run.

`python -m tests.containers.testbed run -- COMMAND...` runs a command with an engine up and
the stand-ins built, TEST_POSTGRES_IMAGE naming the postgres one (for testcontainers), and
stops the engine afterwards if it started it.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.postgres import docker_engine_answers

STANDINS = Path(__file__).parent / "standins"
NAMESPACE = "enrollment-testbed"
BASE = f"{NAMESPACE}/debian:bookworm"
# What each stand-in replaces: the variable that names it to the Dockerfile or compose file.
VARIABLES = {"python": "PYTHON_IMAGE", "postgres": "POSTGRES_IMAGE", "pgbouncer": "PGBOUNCER_IMAGE"}
# Command: Debian package.
DEBIAN_TOOLS = {
    "dockerd": "docker.io",
    "docker-compose": "docker-compose",
    "mmdebstrap": "mmdebstrap",
}
ENGINE_START_SECONDS = 60
BUILD_SECONDS = 900


def install_missing_tools() -> None:
    """Install the Debian packages the test bed drives, as `make test` installs its tools:
    with apt-get as root, else say what to install."""
    missing = [package for tool, package in DEBIAN_TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"please install: {' '.join(missing)} (Debian packages)")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env=environment,
        stdout=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def docker_engine() -> Iterator[None]:
    """A Docker engine answering for as long as the block runs: the one already running, or
    one started here (and stopped afterwards; never one this did not start)."""
    if docker_engine_answers():
        yield
        return
    log = Path(tempfile.mkdtemp(prefix="dockerd-")) / "dockerd.log"
    with log.open("wb") as output:
        engine = subprocess.Popen(["dockerd"], stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ENGINE_START_SECONDS
        while not docker_engine_answers():
            if engine.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield
    finally:
        engine.terminate()
        engine.wait(timeout=60)


def docker(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """`docker ARGS`, checked, its output as text."""
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=timeout
    )


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build_base() -> None:
    """Debian bookworm from Debian's mirror, imported as an image, with this machine's
    certificate authorities (builds inside containers go out through the same network)."""
    if image_exists(BASE):
        return
    with subprocess.Popen(
        [
            "mmdebstrap", "--variant=minbase", "--include=ca-certificates",
            "--customize-hook=copy-in /usr/local/share/ca-certificates /usr/local/share",
            '--customize-hook=chroot "$1" update-ca-certificates',
            "bookworm", "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as bootstrap:  # fmt: skip
        subprocess.run(
            ["docker", "import", "-", BASE], stdin=bootstrap.stdout, check=True, capture_output=True
        )
    if bootstrap.returncode != 0:
        docker("image", "rm", BASE)
        raise RuntimeError("mmdebstrap failed to make the base")


def standin_tag(name: str) -> str:
    """The stand-in's tag: a hash of its build files, so a changed one is built again."""
    digest = hashlib.sha256()
    for path in sorted((STANDINS / name).iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return f"{NAMESPACE}/{name}:{digest.hexdigest()[:12]}"


def standin_images() -> dict[str, str]:
    """Build what is not built yet; the variables naming each stand-in."""
    build_base()
    images = {}
    for name, variable in VARIABLES.items():
        tag = standin_tag(name)
        if not image_exists(tag):
            docker(
                "build", "--quiet", "--build-arg", f"BASE={BASE}", "--tag", tag,
                str(STANDINS / name), timeout=BUILD_SECONDS,
            )  # fmt: skip
        images[variable] = tag
    return images


@contextlib.contextmanager
def engine_with_standins() -> Iterator[dict[str, str]]:
    """Tools installed, an engine up, the stand-ins built: the variables that name them."""
    install_missing_tools()
    with docker_engine():
        yield standin_images()


def main(arguments: list[str]) -> int:
    if arguments[:2] != ["run", "--"] or len(arguments) < 3:
        sys.exit("usage: python -m tests.containers.testbed run -- COMMAND...")
    with engine_with_standins() as images:
        environment = {
            **os.environ,
            **images,
            "TEST_POSTGRES_IMAGE": images["POSTGRES_IMAGE"],
            # The reaper (Ryuk) is an image from a registry: none can be pulled here. Each
            # container is stopped and removed by the context manager that started it.
            "TESTCONTAINERS_RYUK_DISABLED": "true",
        }
        return subprocess.run(arguments[2:], env=environment).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
