"""Drive load with wrk through a generated Lua script, and read back its figures."""

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Counts statuses in every wrk thread and prints one machine-readable block at the end.
_COMMON = """
counts = {}  -- a global: done() reads it from each thread with thread:get
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format("RESULT %d %.1f %.3f %.3f %.3f %d\\n", summary.requests,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, errors))
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      io.write(string.format("STATUS %d %d\\n", status, n))
    end
  end
end
"""


@dataclass
class Result:
    requests: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    # The server's CPU time (user + system, all workers) per request, when it was measured.
    server_cpu_ms: float | None = None

    @property
    def non_2xx(self) -> dict[int, int]:
        return {s: n for s, n in sorted(self.statuses.items()) if not 200 <= s < 300}


def run(url: str, lua: str, *, seconds: float, connections: int, threads: int = 2) -> Result:
    """wrk against `url` (127.0.0.1 only) for `seconds`, with `lua` defining request()."""
    assert url.startswith("http://127.0.0.1:"), "load tests target this machine only"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + _COMMON)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{round(seconds)}s"]
    command += ["--timeout", "10s", "-s", script.name, url]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        Path(script.name).unlink()
    assert run.returncode == 0, run.stdout + run.stderr
    fields = re.search(r"^RESULT (.+)$", run.stdout, re.MULTILINE)
    assert fields is not None, run.stdout
    requests, rate, p50, p90, p99, errors = fields[1].split()
    statuses: dict[int, int] = {}
    for status, count in re.findall(r"^STATUS (\d+) (\d+)$", run.stdout, re.MULTILINE):
        statuses[int(status)] = statuses.get(int(status), 0) + int(count)
    return Result(
        int(requests), float(rate), float(p50), float(p90), float(p99), int(errors), statuses
    )
