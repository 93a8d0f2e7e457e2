"""`python -m tests.mutations [NAME_PART ...]`: apply each mutation (or those whose name
holds a NAME_PART) to a scratch copy of the project, run the tests it names there, and
fail when any mutation survives. One Postgres serves every run: TEST_DATABASE_URL's, else
one started as the suite starts its own (tests/support/postgres.py)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutations.catalog import MUTATIONS, Mutation
from tests.support.postgres import postgres_server

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COPIED = ("service", "sql", "migrations", "tests", "pyproject.toml", "README.md")
PYTEST_FAILED = 1  # pytest's exit code when tests ran and some failed; others mean no verdict
SECONDS_EACH = 300


def scratch_copy(into: Path) -> Path:
    copy = into / "project"
    copy.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for name in COPIED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=ignore)
        else:
            shutil.copy2(source, copy / name)
    return copy


def mutate(copy: Path, mutation: Mutation) -> None:
    target = copy / mutation.path
    text = target.read_text()
    found = text.count(mutation.original)
    if found != 1:
        raise SystemExit(f"{mutation.name}: {mutation.path} holds its line {found} times, not once")
    target.write_text(text.replace(mutation.original, mutation.mutant))


def run_tests(copy: Path, tests: tuple[str, ...], env: dict[str, str]) -> int:
    """pytest's exit code for `tests` run in `copy`, whose own service package they import
    (the working directory comes first on sys.path, before the installed project)."""
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    done = subprocess.run(command, cwd=copy, env=env, capture_output=True, timeout=SECONDS_EACH)
    return done.returncode


def imports_its_own_service(copy: Path, env: dict[str, str]) -> bool:
    command = [sys.executable, "-c", "import service; print(service.__file__)"]
    found = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=True)
    return Path(found.stdout.strip()).is_relative_to(copy)


def check(mutations: list[Mutation], env: dict[str, str]) -> list[str]:
    """The names of the mutations that survived."""
    survivors = []
    for mutation in mutations:
        with tempfile.TemporaryDirectory() as scratch:
            copy = scratch_copy(Path(scratch))
            if not imports_its_own_service(copy, env):
                raise SystemExit("a scratch copy imports the installed service, not its own")
            mutate(copy, mutation)
            started = time.monotonic()
            code = run_tests(copy, mutation.tests, env)
        took = time.monotonic() - started
        verdict = "killed" if code == PYTEST_FAILED else f"SURVIVED (pytest exit {code})"
        print(f"{verdict:>24}  {took:5.1f}s  {mutation.name}", flush=True)
        if code != PYTEST_FAILED:
            survivors.append(mutation.name)
    return survivors


def baseline_passes(mutations: list[Mutation], env: dict[str, str]) -> bool:
    """Whether every named test passes on an unmutated copy: else a failure under a
    mutation would prove nothing."""
    tests = tuple(dict.fromkeys(test for mutation in mutations for test in mutation.tests))
    with tempfile.TemporaryDirectory() as scratch:
        return run_tests(scratch_copy(Path(scratch)), tests, env) == 0


def main(name_parts: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not name_parts or any(p in m.name for p in name_parts)]
    with postgres_server() as url:
        env = os.environ | {"TEST_DATABASE_URL": url}
        if not baseline_passes(chosen, env):
            print("the named tests fail without any mutation: no verdict")
            return 1
        survivors = check(chosen, env)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutations killed")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
