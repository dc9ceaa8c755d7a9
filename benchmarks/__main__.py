"""``python -m benchmarks``: every benchmark that runs in minutes, one after another.

Each suite runs in its own process so its figures are not skewed by the
previous one's leftovers. The peer comparison (an hour or more, and it builds
a virtualenv per peer) is separate: ``python -m benchmarks.peers``.
"""

from __future__ import annotations

import subprocess
import sys
import time

SUITES = (
    ("queue: enqueue, drain, wait, memory", "benchmarks.queue"),
    ("autoscaling simulation: Sluice vs KEDA-style vs oracle", "benchmarks.autoscaling"),
    ("operator at fleet scale: 200, 1,000 and 2,000 JobQueues", "benchmarks.operator"),
    ("dashboard: API latency, 500-queue overview in Chromium, server CPU", "benchmarks.dashboard"),
)


def main() -> int:
    failed = []
    for title, module in SUITES:
        print(f"\n## {title}\n\n(python -m {module})\n", flush=True)
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-m", module], check=False)
        print(f"\n[{module}: exit {done.returncode}, {time.monotonic() - began:.0f} s]", flush=True)
        if done.returncode:
            failed.append(module)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
