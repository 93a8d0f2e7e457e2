"""Exit 1 unless this interpreter's environment holds exactly the versions a lock file
pins (requirements/*.txt), no more and no fewer: `python .ci/locked_versions.py LOCK`."""

import re
import subprocess
import sys

# pip freeze leaves out the installers themselves; so does the comparison.
INSTALLERS = {"pip", "setuptools", "wheel", "distribute"}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.MULTILINE)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> set[tuple[str, str]]:
    found = {(normalized(name), version) for name, version in PIN.findall(text)}
    return {(name, version) for name, version in found if name not in INSTALLERS}


def main(lock: str) -> int:
    with open(lock, encoding="utf-8") as file:
        locked = pins(file.read())
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = pins(frozen)
    for name, version in sorted(installed - locked):
        print(f"installed but not locked: {name}=={version}")
    for name, version in sorted(locked - installed):
        print(f"locked but not installed: {name}=={version}")
    if installed != locked:
        return 1
    print(f"{len(installed)} packages installed, exactly as {lock} locks them")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
