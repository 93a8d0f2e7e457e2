"""The one kernel setting found to skew this harness's tails, said before a run."""

from pathlib import Path

AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


def autogroup_warning(setting: Path = AUTOGROUP) -> str | None:
    """A warning when Linux's autogroup scheduling is on, None otherwise.

    Autogroup shares the CPU between sessions before processes, for processes outside any
    CPU cgroup (as on a bare machine; not in a container). Postgres starts every backend in
    a session of its own (setsid), and on this harness's machine, with autogroup on, rounds
    at full load stalled: most backends runnable yet kept off the CPU for 0.3-2 s, so that
    p99 of the service and of the reference alike went up to hundreds of times p50."""
    try:
        enabled = setting.read_text().strip() != "0"
    except OSError:  # not Linux, or a kernel built without autogroup
        return None
    if not enabled:
        return None
    return (
        "warning: kernel.sched_autogroup_enabled is on, which can keep Postgres backends off "
        "the CPU for seconds at full load and so inflate p99; "
        "`sysctl -w kernel.sched_autogroup_enabled=0` before a run (README, Performance)"
    )
