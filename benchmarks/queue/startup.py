"""Start-up: from ``sluice worker`` process start to its first claim, with a job waiting.

Run: ``python -m benchmarks.queue.startup`` (starts a private redis-server). This
is what an autoscaled pod waits for on every scale-up. Each run enqueues one
job, starts ``python -m sluice worker`` and reads the job's claim time (Redis
time, 1 ms steps) back from the job hash; the figure is that minus the moment
before the process was spawned. On a busy machine that wall time mostly
measures the wait for a core, so the worker's own CPU time until the claim is
shown too (from ``/proc``, 10 ms steps, read as soon as the claim is seen), and
the CPU of a process that only imports what ``sluice worker`` imports before it
claims (``python -X importtime`` gives the module by module picture). Runs are
sequential; the worker is stopped between them.

``--python PATH`` starts the worker with another interpreter: a virtualenv with
Sluice installed as the worker image installs it (``pip install .``, not
editable). An editable install (``pip install -e``, what ``make install``
makes) adds an import hook that costs about 35 ms of CPU at start, so the dev
venv overstates what a pod waits for. Give ``--python`` more than once to
compare installs (or two versions of the code): the runs alternate between
them, so a change in the machine's load hits each alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import redis

from benchmarks.figures import spread
from benchmarks.queue.enqueue import redis_url
from sluice import Queue

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "bench-startup"
TASKS = "benchmarks.queue.noop_tasks:tasks"
TARGET_S = 0.25


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(ROOT)) if p)
    return {**os.environ, "PYTHONPATH": path, "SLUICE_LOG_LEVEL": "WARNING"}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_claim(url: str, python: str, timeout_s: float = 30.0) -> tuple[float, float]:
    """Seconds from spawning a worker (run by ``python``) to its claim of the job that was
    waiting, and the worker's CPU seconds by then."""
    client = redis.Redis.from_url(url)
    queue = Queue(QUEUE, client)
    queue.purge()
    job = queue.enqueue("noop", None)
    argv = [python, "-m", "sluice", "worker", "--redis-url", url, "--queue", QUEUE,
            "--tasks", TASKS]  # fmt: skip
    spawned = time.time()
    proc = subprocess.Popen(argv, env=_env())
    try:
        deadline = time.monotonic() + timeout_s
        while (info := queue.get(job)) is None or info.started_at is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the worker claimed nothing")
            time.sleep(0.002)
        return info.started_at - spawned, _cpu_s(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        queue.purge()
        client.close()


IMPORTS = "import sluice.cli, sys; sluice.cli.build_parser(['worker'])"


def import_cpu_s(python: str) -> float:
    """CPU seconds (user + system) of a process importing the worker's start-up modules."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([python, "-c", IMPORTS], check=True, env=_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing server (default: start a private one)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--python",
        action="append",
        help="the interpreter that runs the worker (default: this one); repeat to compare",
    )
    args = parser.parse_args()
    pythons: list[str] = args.python or [sys.executable]
    runs: dict[str, list[tuple[float, float]]] = {p: [] for p in pythons}
    imports: dict[str, list[float]] = {p: [] for p in pythons}
    with redis_url(args.redis_url) as url:
        for python in pythons:
            first_claim(url, python)  # the first run pays for writing bytecode caches
        for _ in range(args.runs):
            for python in pythons:
                runs[python].append(first_claim(url, python))
    for _ in range(args.runs):
        for python in pythons:
            imports[python].append(import_cpu_s(python))
    print(f"runs: {args.runs}; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    raw = {p: {"claim_s": [round(r[0], 4) for r in runs[p]], "cpu_s": [r[1] for r in runs[p]],
               "imports_cpu_s": [round(x, 4) for x in imports[p]]} for p in pythons}  # fmt: skip
    print(json.dumps(raw))  # every run, for pooling rounds
    for python in pythons:
        if len(pythons) > 1:
            print(python)
        claims = runs[python]
        print(f"  process start to first claim: {spread([r[0] for r in claims], '.3f', ' s')}"
              f"  (goal <= {TARGET_S} s)")  # fmt: skip
        print(f"  worker CPU by its first claim: {spread([r[1] for r in claims], '.3f', ' s')}")
        print(f"  CPU of the start-up imports:   {spread(imports[python], '.3f', ' s')}")


if __name__ == "__main__":
    main()
