"""The README's examples: each indented `$ command` line (continued by a trailing `\\`),
followed by the output it gives on a fresh start. tests/test_readme.py runs them in order
against a fresh service and compares; `python -m tests.support.readme_examples` runs them the same
way and writes what they printed into the README, so its outputs are always real ones."""

import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.migrations import apply_migrations
from tests.support.postgres import postgres_server, scratch_database
from tests.support.running_service import RunningService

README = Path(__file__).resolve().parents[2] / "README.md"
PROMPT = "    $ "
INDENT = "    "
# What differs from one fresh start to the next: times, and hashes of what holds them
# (request ids, ETags).
_VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<hex>"),
]


@dataclass
class Example:
    command: str
    output: list[str]
    first_line: int  # index of the command's first line in the README
    last_line: int  # index after its output


def examples(lines: list[str]) -> list[Example]:
    found = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(PROMPT):
            i += 1
            continue
        start = i
        command = lines[i][len(PROMPT) :]
        while command.endswith("\\"):
            i += 1
            command += "\n" + lines[i].strip()  # bash reads the backslash-newline as a space
        i += 1
        output = []
        while i < len(lines) and lines[i].startswith(INDENT) and not lines[i].startswith(PROMPT):
            output.append(lines[i][len(INDENT) :])
            i += 1
        found.append(Example(command, output, start, i))
    return found


def normalized(lines: list[str]) -> list[str]:
    text = "\n".join(line.rstrip("\r") for line in lines)
    for pattern, placeholder in _VARYING:
        text = pattern.sub(placeholder, text)
    return text.splitlines()


def run(example: Example, url: str) -> list[str]:
    """What the command prints, run by bash against the service at `url` (in the output
    too, `localhost:8000` stands for it)."""
    address = url.removeprefix("http://")
    command = example.command.replace("localhost:8000", address)
    done = subprocess.run(
        ["/bin/bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=README.parent,
    )
    printed = done.stdout.replace(address, "localhost:8000")
    return [line.rstrip("\r") for line in printed.splitlines()]


@contextmanager
def fresh_service(server_url: str, logs: Path) -> Iterator[str]:
    """A service on a new, migrated database: every id starts at 1, as on a fresh start."""
    with scratch_database(server_url, "readme") as database_url:
        apply_migrations(database_url)
        service = RunningService(logs, DATABASE_URL=database_url)
        try:
            yield service.url
        finally:
            service.stop()


def main() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    with (
        postgres_server() as server,
        tempfile.TemporaryDirectory() as logs,
        fresh_service(server, Path(logs)) as url,
    ):
        outputs = [(example, run(example, url)) for example in examples(lines)]
    for example, output in reversed(outputs):
        start = example.last_line - len(example.output)
        lines[start : example.last_line] = [INDENT + line for line in output]
    README.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(outputs)} examples run, their outputs written to {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
